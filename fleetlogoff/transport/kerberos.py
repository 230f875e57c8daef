"""Kerberos for WinRM without pypsrp: the optional libraries, principals as Ansible users
write them, and what a Kerberos failure means, in one line.

pyspnego does Kerberos through python-gssapi and python-krb5 (`pyspnego[kerberos]`, the
`kerberos` extra of fleetlogoff). Failures do not all arrive as pypsrp's
AuthenticationError: with a password, pyspnego gets the ticket itself and a wrong password
raises krb5.Krb5Error; a missing ticket, an unknown service principal or a clock skew come
from GSSAPI wrapped in spnego's errors (kerberos.md). The texts matched below are MIT
Kerberos' own messages (krb5 error tables, e.g. KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN "Client
'%s' not found in Kerberos database", KRB5KRB_AP_ERR_SKEW "Clock skew too great").
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import replace

from fleetlogoff.errors import TransportError
from fleetlogoff.model import Connection, Host

log = logging.getLogger(__name__)

EXTRA_INSTALL = "pip install 'fleetlogoff[kerberos]'"
KERBEROS_TRANSPORTS = frozenset({"kerberos"})
_LIBRARIES = ("gssapi", "krb5")

# (words in the lower-cased error text, what it means for the user). First match wins:
# the more specific texts come first.
_MEANINGS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("clock skew",),
        "clock skew too great between this machine, the KDC and the host "
        "(Kerberos allows 5 minutes)",
    ),
    (("password incorrect",), "wrong password for {user}"),
    (("preauthentication failed",), "wrong password for {user}"),
    (("decrypt integrity check failed",), "wrong password for {user}"),
    (("client", "not found in kerberos database"), "unknown user principal {user}"),
    (
        ("server", "not found in kerberos database"),
        "the KDC knows no service principal "
        "{spn}: set ansible_winrm_kerberos_hostname_override to the host's name (and "
        "ansible_winrm_service if it is not HTTP)",
    ),
    (("ticket expired",), "Kerberos ticket expired: run kinit again"),
    (("credentials have expired",), "Kerberos ticket expired: run kinit again"),
    (
        ("can't find client principal",),
        "no Kerberos ticket for {user}: run kinit {user} or set ansible_password",
    ),
    (("no credentials cache",), "no Kerberos ticket: run kinit {user} or set ansible_password"),
    (
        ("no credentials were supplied",),
        "no Kerberos ticket: run kinit {user} or set ansible_password",
    ),
    (("no kerberos credentials",), "no Kerberos ticket: run kinit {user} or set ansible_password"),
    (("credentials cache",), "no Kerberos ticket: run kinit {user} or set ansible_password"),
    (
        ("cannot find kdc",),
        "no KDC known for the realm of {user}: check krb5.conf (KRB5_CONFIG) [realms]",
    ),
    (("cannot contact any kdc",), "cannot reach a KDC for the realm of {user}"),
    (("cannot resolve network address",), "cannot reach a KDC for the realm of {user}"),
)


def missing_libraries() -> list[str]:
    """The Kerberos libraries that do not import here (empty when the extra is installed)."""
    missing = []
    for name in _LIBRARIES:
        try:
            importlib.import_module(name)
        except (ImportError, OSError):  # OSError: the module is there, libkrb5 is not
            missing.append(name)
    return missing


def check_available(host: str, conn: Connection) -> None:
    """Fail early, in one line, when a host wants Kerberos and the extra is missing.

    Negotiate falls back to NTLM without the libraries (as pypsrp does), so only the
    `kerberos` transport needs them.

    Raises:
        TransportError: auth_unsupported (no credentials were judged), saying what to
            install.
    """
    if conn.transport not in KERBEROS_TRANSPORTS:
        return
    missing = missing_libraries()
    if missing:
        raise TransportError(
            host,
            "auth_unsupported",
            f"Kerberos needs the kerberos extra: {EXTRA_INSTALL} "
            f"(python {' and '.join(missing)} not installed)",
        )


def with_cache_principal(hosts: Sequence[Host]) -> tuple[Host, ...]:
    """Name the account of hosts that will log on with the kinit ticket cache.

    A host with Kerberos (or Negotiate) and neither user nor password authenticates as the
    cache's principal. The planner never selects the sessions of the account fleetlogoff
    connects as, so that account must be known: it is read from the default cache
    (KRB5CCNAME), once. Without the extra or a cache, hosts stay as they are.
    """
    wanted = [h for h in hosts if _uses_cache(h.connection)]
    if not wanted:
        return tuple(hosts)
    principal = default_cache_principal()
    if principal is None:
        return tuple(hosts)
    return tuple(
        replace(h, connection=replace(h.connection, username=principal))
        if _uses_cache(h.connection)
        else h
        for h in hosts
    )


def _uses_cache(conn: Connection) -> bool:
    return (
        conn.transport in ("kerberos", "negotiate") and not conn.username and conn.password is None
    )


def default_cache_principal() -> str | None:
    """The principal of the default ticket cache (what `klist` shows), or None."""
    try:
        krb5 = importlib.import_module("krb5")
        context = krb5.init_context()
        cache = krb5.cc_default(context)
        principal = krb5.cc_get_principal(context, cache)
        return str(principal.name.decode()) if principal.name else None
    except Exception as exc:  # no extra, no cache, unreadable cache: nothing to name
        log.debug("no default Kerberos cache principal: %s", exc)
        return None


def user_principal(username: str | None) -> str | None:
    """A user name as Kerberos wants it: `alice@corp.example` gets the realm in upper case
    (realms are upper case by convention and MIT looks them up case-sensitively, so the
    lower-case form would otherwise ask DNS for a KDC of a realm nobody configured);
    `alice` stays as is (the default realm applies) and so does `CORP\\alice`."""
    if username is None or "@" not in username or "\\" in username:
        return username
    name, _, realm = username.rpartition("@")
    return f"{name}@{realm.upper()}" if name and realm else username


def service_principal(conn: Connection) -> str:
    """The SPN the client asks a ticket for, as `service/hostname` (for messages)."""
    return f"{conn.kerberos_service}/{conn.kerberos_hostname_override or conn.address}"


def classify(exc: BaseException, conn: Connection | None = None) -> tuple[str, str] | None:
    """(kind, one-line reason) for a Kerberos failure, None when `exc` is something else.

    Args:
        exc: the exception from pyspnego/gssapi/krb5 (possibly wrapped by pypsrp).
        conn: the host's connection, to name the user and the SPN in the reason.
    """
    if isinstance(exc, ImportError) and "gssapi" in str(exc).lower():
        return "auth_unsupported", f"Kerberos needs the kerberos extra: {EXTRA_INSTALL}"
    if not _is_kerberos_error(exc, conn):
        return None
    text = _chain_text(exc).lower()
    user = (user_principal(conn.username) if conn else None) or "the default principal"
    spn = service_principal(conn) if conn else "for this host"
    for words, meaning in _MEANINGS:
        if all(word in text for word in words):
            return "auth_failed", meaning.format(user=user, spn=spn)
    return "auth_failed", f"Kerberos failed: {_first_line(_chain_text(exc))}"


def _is_kerberos_error(exc: BaseException, conn: Connection | None) -> bool:
    """An error from the Kerberos libraries; a pyspnego error only on a connection that
    asked for Kerberos (over NTLM or Negotiate-with-NTLM it is NTLM's or sealing's)."""
    kerberos_wanted = conn is not None and conn.transport in KERBEROS_TRANSPORTS
    for link in _chain(exc):
        module = type(link).__module__.split(".", 1)[0]
        if module in ("krb5", "gssapi") or (module == "spnego" and kerberos_wanted):
            return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen and len(seen) < 8:
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen


def _chain_text(exc: BaseException) -> str:
    parts = []
    for link in _chain(exc):
        parts.append(str(link))
        base = getattr(link, "base_error", None)  # spnego keeps the GSSError here
        if base is not None:
            parts.append(str(base))
    return " | ".join(p for p in parts if p)


def _first_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:300]
