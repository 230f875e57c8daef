"""Server-side authentication for the lab: Negotiate (NTLM or Kerberos) via pyspnego, and Basic.

pyspnego's NTLM acceptor finds passwords only through the file named by the process-global
NTLM_USER_FILE environment variable, read when the context is built and again when the
AUTHENTICATE message arrives (spnego/_ntlm.py `_get_credential_file`, `_step_accept_authenticate`).
Every host therefore gets its own small user file, and each acceptor step runs under one
process-wide lock that points NTLM_USER_FILE at that host's file for the duration of the
step. Several labs in one process (parallel tests) stay independent, and two hosts may give
the same user different passwords. The variable is set before any client runs and only
ever re-pointed, never removed: clients in the same process (tests) read os.environ from
other threads (requests iterates it for proxies, MIT Kerberos calls getenv), and removing
a key under them raises KeyError or worse.

Kerberos does not swap variables at all: the realm's one keytab (KRB5_KTNAME, set once)
holds every host's keys, and each host checks, once the handshake completed, that the
ticket was for one of its own principals (the acceptor's target name), so a ticket for
another host is refused with 401 as on a domain computer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import spnego
from spnego.channel_bindings import GssChannelBindings

from fleetlogoff.lab.contract import Account
from fleetlogoff.lab.ntlm_acceptor import NtlmAcceptor
from fleetlogoff.lab.ntlm_bindings import ntlm_channel_bound
from fleetlogoff.lab.ntlm_seal import AcceptorSealer

log = logging.getLogger(__name__)

_ENV_VAR = "NTLM_USER_FILE"
_ENV_LOCK = threading.Lock()
# Domains a client may put in front of a local account name: none (pypsrp "alice"), ".",
# the computer name, and the workgroup default. The NTLM acceptor matches the domain exactly.
_EXTRA_DOMAINS = (".", "WORKGROUP")


class AuthFailed(Exception):  # noqa: N818 (a control-flow signal mapped to HTTP 401)
    """Credentials were rejected; the server answers 401."""


def write_user_file(directory: Path, host_name: str, accounts: Sequence[Account]) -> Path:
    """Write the NTLM user file for one host.

    Args:
        directory: where to put the file (the lab's private temp dir).
        host_name: the host's computer name (also accepted as the NTLM domain).
        accounts: the accounts the host accepts.

    Returns:
        The file's path.
    """
    lines = []
    for account in accounts:
        for domain in ("", host_name.upper(), *_EXTRA_DOMAINS):
            lines.append(_user_line(domain, account.username, account.password))
    path = directory / f"ntlm-{host_name}.users"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _user_line(domain: str, username: str, password: str) -> str:
    # The smbpasswd form with the NT hash, not the Heimdal DOMAIN:USER:PASSWORD line: that
    # one cannot carry a colon, and from a plain password pyspnego derives the LM hash too
    # (pure-Python DES) on every handshake, unused by NTLMv2 and costly at 1,000 hosts.
    user = f"{domain}\\{username}" if domain else username
    return f"{user}:0:{'0' * 32}:{_nt_hash(password)}:[U]:LCT-00000000"


@lru_cache(maxsize=64)
def _nt_hash(password: str) -> str:
    """The NT hash in hex (pyspnego's pure-Python MD4 costs about 0.3 ms, and every host
    of a lab has the same accounts on four domain spellings: once per password)."""
    from spnego._ntlm_raw.crypto import ntowfv1  # private, but it is pyspnego's own NT hash

    return str(ntowfv1(password).hex().upper())


def prime_user_file_variable(user_file: Path) -> None:
    """Set NTLM_USER_FILE once, before clients start, if it is not set yet (see above)."""
    with _ENV_LOCK:
        os.environ.setdefault(_ENV_VAR, str(user_file))


@contextmanager
def _user_file(path: Path) -> Iterator[None]:
    with _ENV_LOCK:
        previous = os.environ.get(_ENV_VAR)
        os.environ[_ENV_VAR] = str(path)
        try:
            yield
        finally:
            if previous is not None:  # re-point, never remove (module docstring)
                os.environ[_ENV_VAR] = previous


class NegotiateAcceptor:
    """The server side of one Negotiate (raw NTLM, SPNEGO or raw Kerberos) handshake on one
    connection."""

    def __init__(
        self,
        user_file: Path,
        *,
        principals: frozenset[str] = frozenset(),
        channel_bindings: GssChannelBindings | None = None,
    ) -> None:
        """Prepare an acceptor.

        Args:
            user_file: the host's NTLM user file.
            principals: the host's own service principals (`HTTP/addr@REALM`, ...); a
                Kerberos ticket for any other is refused. Empty: no Kerberos at all.
            channel_bindings: the TLS channel's tls-server-end-point bindings (HTTPS); a
                client that sends other bindings is refused.
        """
        self._user_file = user_file
        self._principals = frozenset(p.lower() for p in principals)
        self._bindings = channel_bindings
        self._context: Any = None
        self._sealer: AcceptorSealer | None = None
        self._sealed: Any = None  # the context _sealer was built on
        self._ntlm_bound = False

    @property
    def complete(self) -> bool:
        """True once the handshake succeeded."""
        return bool(self._context is not None and self._context.complete)

    @property
    def context(self) -> Any:
        """The handshake's context (wrap_winrm/unwrap_winrm) once complete: the lab's
        NtlmAcceptor for raw NTLM, pyspnego's Negotiate context otherwise."""
        return self._context

    @property
    def sealer(self) -> AcceptorSealer:
        """Seals and unseals this connection's messages once complete (ntlm_seal.py); the
        one object that does so from the first message on."""
        if isinstance(self._context, NtlmAcceptor):
            return self._context.sealer
        if self._sealer is None or self._sealed is not self._context:
            self._sealer = AcceptorSealer(self._context)
            self._sealed = self._context
        return self._sealer

    @property
    def user(self) -> str:
        """The authenticated client as it names itself: `DOMAIN\\user` (NTLM) or
        `user@REALM` (Kerberos); "" before completion."""
        return str(self._context.client_principal or "") if self.complete else ""

    @property
    def mechanism(self) -> str:
        """ "kerberos" or "ntlm" once complete ("" before)."""
        return str(self._context.negotiated_protocol or "") if self.complete else ""

    def channel_bound(self) -> bool:
        """Whether the client bound its authentication to the TLS channel: for NTLM,
        bindings other than zeros in its AUTHENTICATE message (ntlm_bindings.py); for
        Kerberos, an authenticator whose bindings matched (GSS_C_CHANNEL_BOUND_FLAG, MIT
        krb5 1.19+). Both acceptors take a client that sends none, which Windows'
        CbtHardeningLevel=Strict refuses; this tells the two apart. (Bindings that differ
        from the channel's are refused by the acceptors themselves.)"""
        if self.mechanism == "ntlm":
            return self._ntlm_bound
        inner = _inner_gssapi_context(self._context)
        if inner is None:
            return False
        try:
            return bool(int(inner.actual_flags) & _GSS_C_CHANNEL_BOUND_FLAG)
        except Exception:  # pyspnego/gssapi raise assorted types for an odd context
            return False

    def step(self, token: bytes) -> bytes | None:
        """Feed one client token.

        Args:
            token: the decoded Authorization token.

        Returns:
            The token to send back (a challenge, or SPNEGO's final mechListMIC), or None.

        Raises:
            AuthFailed: the token is malformed or the credentials are wrong.
        """
        bound = ntlm_channel_bound(token)
        if bound is not None:
            self._ntlm_bound = bound
        try:
            if self._context is None:
                self._context = self._new_context(token)
            if isinstance(self._context, NtlmAcceptor):
                out = self._context.step(token)  # takes the lock itself if it needs pyspnego
            else:
                with _user_file(self._user_file):
                    out = self._context.step(token)
        except Exception as exc:  # SpnegoError, GSSError, KeyError, ValueError, and for a
            # Kerberos binding mismatch an AttributeError about flags (kerberos.md)
            log.debug("handshake rejected: %s", exc)
            raise AuthFailed(str(exc)) from None
        if self.complete and self.mechanism == "kerberos":
            self._check_target()
        return out if isinstance(out, bytes) else None

    def _new_context(self, first_token: bytes) -> Any:
        """The acceptor for a handshake, chosen by its first token.

        A raw NTLMSSP token (what pypsrp, requests-ntlm and fleetlogoff send under
        Negotiate) gets the lab's NTLM acceptor (ntlm_acceptor.py: pyspnego's NTLM
        acceptor's decisions and bytes, which pyspnego's Negotiate acceptor would pass such
        a token to unchanged: spnego/_negotiate.py, the raw-token branch of
        `_step_spnego_input`). Anything else (SPNEGO, raw Kerberos) goes to pyspnego's
        Negotiate acceptor: use_negotiate keeps the pure-Python SPNEGO path even where
        gssapi is installed (pypsrp-notes §3.3); it takes raw or SPNEGO-wrapped Kerberos
        when gssapi is there (kerberos.md).
        """
        if first_token.startswith(_NTLMSSP_SIGNATURE):
            return NtlmAcceptor(
                self._user_file, self._bindings, lambda: _user_file(self._user_file)
            )
        options = spnego.NegotiateOptions.wrapping_winrm | spnego.NegotiateOptions.use_negotiate
        with _user_file(self._user_file):
            return spnego.server(
                protocol="negotiate", options=options, channel_bindings=self._bindings
            )

    def _check_target(self) -> None:
        """The ticket must be for one of this host's principals (see the module docstring)."""
        inner = _inner_gssapi_context(self._context)
        try:
            target = str(inner.target_name).rstrip("\x00") if inner is not None else ""
        except Exception:  # gssapi raises assorted types for an odd context
            target = ""
        if target.lower() not in self._principals:
            self._context = None
            raise AuthFailed(f"Kerberos ticket for {target or 'an unknown principal'}")


_NTLMSSP_SIGNATURE = b"NTLMSSP\x00"  # MS-NLMP 2.2.1: every raw NTLM message starts so


# GSS_C_CHANNEL_BOUND_FLAG (MIT gssapi_ext.h; python-gssapi RequirementFlag.channel_bound).
_GSS_C_CHANNEL_BOUND_FLAG = 2048


def _inner_gssapi_context(context: Any) -> Any:
    """The python-gssapi SecurityContext under a pyspnego acceptor, or None (NTLM).

    pyspnego maps gssapi's flags onto its own ContextReq, which has no channel-bound flag,
    so the flag is read from the gssapi context itself (private attributes, pyspnego<1).
    """
    chosen = getattr(context, "_chosen_mech", None)
    entries = getattr(context, "_context_list", {})
    proxy = entries[chosen][0] if chosen in entries else context
    return getattr(proxy, "_context", None) if hasattr(proxy, "_context") else None


def tls_channel_bindings(certificate_der: bytes) -> GssChannelBindings:
    """tls-server-end-point bindings for a server certificate (RFC 5929 §4.1): the hash of
    the certificate's DER with its signature's hash (SHA-256 for MD5/SHA-1 and for the lab
    CA's SHA-256 certificates), as pypsrp computes them (winrm-wire.md §3)."""
    digest = hashlib.sha256(certificate_der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


def parse_authorization(value: str) -> tuple[str, bytes]:
    """Split an Authorization header into scheme and decoded token.

    Raises:
        AuthFailed: no scheme or a token that is not base64.
    """
    scheme, _, token = value.strip().partition(" ")
    if not scheme:
        raise AuthFailed("empty Authorization header")
    try:
        return scheme, base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthFailed(f"{scheme} token is not base64") from None


def check_basic(token: bytes, accounts: Sequence[Account]) -> Account:
    """Check Basic credentials (`user:password`, optionally `DOMAIN\\user`) against accounts.

    Raises:
        AuthFailed: unknown user or wrong password.
    """
    text = token.decode("utf-8", errors="replace")
    user, sep, password = text.partition(":")
    if not sep:
        raise AuthFailed("Basic credentials without a colon")
    account = find_account(accounts, user)
    if account is None or account.password != password:
        raise AuthFailed(f"Basic credentials rejected for {user!r}")
    return account


def find_account(
    accounts: Sequence[Account], user: str, realm: str | None = None
) -> Account | None:
    """Find an account by name, case-insensitively, ignoring any `DOMAIN\\` prefix.

    Args:
        accounts: the host's accounts.
        user: `name`, `DOMAIN\\name` or a Kerberos principal `name@REALM`.
        realm: the lab's Kerberos realm; a principal of any other realm matches nothing.
    """
    name = user.rsplit("\\", 1)[-1]
    if "@" in name:
        name, _, user_realm = name.rpartition("@")
        if realm is None or user_realm.upper() != realm.upper():
            return None
    return next((a for a in accounts if a.username.lower() == name.lower()), None)
