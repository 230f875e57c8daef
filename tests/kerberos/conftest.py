"""A real MIT KDC for the Kerberos tests, in a temp folder with its own KRB5_CONFIG.

Skipped with a reason where the KDC tools (Debian: krb5-kdc, krb5-admin-server) or the
kerberos extra (python gssapi and krb5) are missing: the quick start runs on a machine
with only Python. .ci/run installs both, so CI runs these tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fleetlogoff.lab.kdc import ENV_NAMES, KerberosRealm, missing_tools
from fleetlogoff.transport.kerberos import missing_libraries
from tests.conftest import SAFE_KRB5_ENV


def kerberos_unavailable() -> str | None:
    """Why the Kerberos tests cannot run here, or None."""
    tools = missing_tools()
    if tools:
        install = "apt-get install krb5-kdc krb5-admin-server"
        return f"MIT KDC tools missing ({', '.join(tools)}): {install}"
    libraries = missing_libraries()
    if libraries:
        return f"python {', '.join(libraries)} missing: pip install 'fleetlogoff[kerberos]'"
    return None


@pytest.fixture(scope="session")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KerberosRealm]:
    """One running realm (LAB.TEST) for the session; this process uses it while it runs."""
    reason = kerberos_unavailable()
    if reason and os.environ.get("FLEETLOGOFF_REQUIRE_KERBEROS"):
        pytest.fail(f"Kerberos tests required (FLEETLOGOFF_REQUIRE_KERBEROS) but {reason}")
    if reason:
        pytest.skip(reason)
    running = KerberosRealm(tmp_path_factory.mktemp("realm")).start()
    use_realm_env(running)
    try:
        yield running
    finally:
        running.stop()
        for name in ENV_NAMES:
            os.environ.pop(name, None)
        os.environ.update(SAFE_KRB5_ENV)


def use_realm_env(realm: KerberosRealm) -> None:
    for name in ENV_NAMES:
        os.environ.pop(name, None)
    os.environ.update(realm.env())
