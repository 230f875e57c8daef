"""`fleetlogoff lab --auth kerberos`: the realm the lab runner owns, and what it tells its user.

The runner sets the realm's KRB5_* variables in its own environment, so the lab's acceptors
and every child process (krb5kdc, kadmin.local) see only the lab's realm, never the
machine's /etc/krb5.conf or a user's ticket cache.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from fleetlogoff.lab.contract import SimulatedHost
from fleetlogoff.lab.kdc import ENV_NAMES, KerberosRealm


def start_lab_realm(realm_name: str) -> KerberosRealm:
    """Start a realm in a fresh temp folder and point this process's KRB5_* variables at it.

    Raises:
        KdcError: the KDC tools are missing or krb5kdc did not start.
    """
    realm = KerberosRealm(realm=realm_name).start()
    for name in ENV_NAMES:
        os.environ.pop(name, None)
    os.environ.update(realm.env())
    return realm


def admin_principal(hosts: Sequence[SimulatedHost], realm: KerberosRealm) -> str:
    """The principal of the first administrator account (what the inventory connects as)."""
    for host in hosts:
        for account in host.accounts:
            if account.admin:
                return realm.principal(account.username)
    return realm.principal("Administrator")


def usage_lines(realm: KerberosRealm, inventory: Path, principal: str) -> list[str]:
    """How to use the lab's realm from a shell, printed after the `ready` line."""
    conf = shlex.quote(str(realm.krb5_conf))
    cache = shlex.quote(f"FILE:{realm.directory / 'user.ccache'}")
    inv = shlex.quote(str(inventory))
    return [
        f"kerberos: realm {realm.realm}, KDC 127.0.0.1:{realm.port} (pid {realm.pid}), "
        f"krb5.conf {realm.krb5_conf}",
        f"  with the inventory's password:  KRB5_CONFIG={conf} fleetlogoff plan {inv}",
        f"  with a ticket cache instead:    export KRB5_CONFIG={conf} KRB5CCNAME={cache}; "
        f"kinit {principal}  (then drop ansible_password from the inventory)",
    ]
