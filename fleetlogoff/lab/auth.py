"""Server-side authentication for the lab: Negotiate/NTLM via pyspnego, and Basic.

pyspnego's NTLM acceptor finds passwords only through the file named by the process-global
NTLM_USER_FILE environment variable, read when the context is built and again when the
AUTHENTICATE message arrives (spnego/_ntlm.py `_get_credential_file`, `_step_accept_authenticate`).
Every host therefore gets its own small user file, and each acceptor step runs under one
process-wide lock that points NTLM_USER_FILE at that host's file for the duration of the
step and then restores it. Several labs in one process (parallel tests) stay independent,
and two hosts may give the same user different passwords.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import spnego

from fleetlogoff.lab.contract import Account

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
    from spnego._ntlm_raw.crypto import ntowfv1  # private, but it is pyspnego's own NT hash

    user = f"{domain}\\{username}" if domain else username
    nt_hash = ntowfv1(password).hex().upper()
    return f"{user}:0:{'0' * 32}:{nt_hash}:[U]:LCT-00000000"


@contextmanager
def _user_file(path: Path) -> Iterator[None]:
    with _ENV_LOCK:
        previous = os.environ.get(_ENV_VAR)
        os.environ[_ENV_VAR] = str(path)
        try:
            yield
        finally:
            if previous is None:
                del os.environ[_ENV_VAR]
            else:
                os.environ[_ENV_VAR] = previous


class NegotiateAcceptor:
    """The server side of one Negotiate (raw NTLM or SPNEGO) handshake on one connection."""

    def __init__(self, user_file: Path) -> None:
        self._user_file = user_file
        self._context: Any = None

    @property
    def complete(self) -> bool:
        """True once the handshake succeeded."""
        return bool(self._context is not None and self._context.complete)

    @property
    def context(self) -> Any:
        """The pyspnego context (for wrap_winrm/unwrap_winrm) once complete."""
        return self._context

    @property
    def user(self) -> str:
        """The authenticated user name without its domain."""
        principal = str(self._context.client_principal or "") if self.complete else ""
        return principal.rsplit("\\", 1)[-1]

    def step(self, token: bytes) -> bytes | None:
        """Feed one client token.

        Args:
            token: the decoded Authorization token.

        Returns:
            The token to send back (a challenge, or SPNEGO's final mechListMIC), or None.

        Raises:
            AuthFailed: the token is malformed or the credentials are wrong.
        """
        try:
            with _user_file(self._user_file):
                if self._context is None:
                    # use_negotiate keeps the pure-Python SPNEGO path even where gssapi is
                    # installed (pypsrp-notes §3.3); it also accepts raw NTLMSSP tokens.
                    options = spnego.NegotiateOptions.wrapping_winrm
                    options |= spnego.NegotiateOptions.use_negotiate
                    self._context = spnego.server(protocol="negotiate", options=options)
                out = self._context.step(token)
        except Exception as exc:  # pyspnego raises SpnegoError subclasses, KeyError, ValueError
            log.debug("NTLM handshake rejected: %s", exc)
            raise AuthFailed(str(exc)) from None
        return out if isinstance(out, bytes) else None


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


def find_account(accounts: Sequence[Account], user: str) -> Account | None:
    """Find a local account by name, case-insensitively, ignoring any `DOMAIN\\` prefix."""
    name = user.rsplit("\\", 1)[-1].lower()
    return next((a for a in accounts if a.username.lower() == name), None)
