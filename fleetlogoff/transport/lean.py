"""WinRM's default path without pypsrp or requests: NTLM with message encryption over
HTTP (ntlm_http.py), the WinRS messages of winrs.py, one shell per host.

The same session as winrm.WinRMSession (Create once, Command [+ Send] + Receive per
command, Delete at the end, the host's deadline on every exchange), for the hosts WinRM
reaches by default; everything else (HTTPS, Basic, Kerberos, CredSSP, certificates, or
`fleetlogoff_http_transport: pypsrp`) goes through pypsrp in winrm.py. This module
imports neither pypsrp nor requests, so a fleet on the default path never loads them.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from fleetlogoff.errors import TransportError
from fleetlogoff.inventory.settings import host_codepage
from fleetlogoff.model import Connection, Host
from fleetlogoff.transport import CommandOutput
from fleetlogoff.transport.log_hygiene import register_secret
from fleetlogoff.transport.md4 import nt_hash
from fleetlogoff.transport.ntlm_client import NtlmError
from fleetlogoff.transport.ntlm_http import (
    NTLM_HASH_FORM,
    FramingError,
    HttpAuthError,
    HttpStatusError,
    NoNtlmOfferedError,
    NtlmHttpTransport,
)
from fleetlogoff.transport.winrs import (
    OPERATION_TIMEOUT,
    MessageBuilder,
    Selectors,
    WinRSError,
    WinRSFault,
    new_message_id,
    read_answer,
    read_command_id,
    read_fault,
    read_received,
    read_selectors,
)
from fleetlogoff.transport.wire_errors import classify_wire_error, one_line

log = logging.getLogger(__name__)

# WSManFault code 5 / 0x80070005: authenticated but not allowed (not an administrator).
ACCESS_DENIED_FAULTS = (5, 2147942405)
# quser/logoff/msg print a few KiB at most (a host with 100 sessions: about 8 KiB); a host
# streaming more is broken or hostile. Per command, so a fleet holds at most forks x 1 MiB.
MAX_OUTPUT_BYTES = 1024 * 1024
T = TypeVar("T")


def lean_applies(host: Host) -> bool:
    """NTLM with message encryption over plain HTTP, WinRM's default, unless the inventory
    says fleetlogoff_http_transport: pypsrp."""
    conn = host.connection
    return (
        host.settings.get("fleetlogoff_http_transport", "lean") == "lean"
        and conn.scheme == "http"
        and conn.transport == "ntlm"
        and conn.message_encryption != "never"
        and conn.password is not None
        and bool(conn.username)
    )


def open_lean(host: Host, *, deadline_s: float) -> LeanSession:
    """Connect, authenticate and open a shell on `host` within `deadline_s` seconds."""
    session = LeanSession(host, deadline=time.monotonic() + deadline_s)
    try:
        session.open()
    except BaseException:
        session.close()  # never leak the socket of a host that failed to open
        raise
    return session


class LeanSession:
    """One host's connection and shell (a transport.HostSession)."""

    def __init__(self, host: Host, *, deadline: float) -> None:
        conn = host.connection
        self._host = host
        self._deadline = deadline
        remaining = deadline - time.monotonic()
        read_timeout = max(2.0, min(conn.read_timeout, remaining))
        self._poll_max = max(1, int(min(conn.operation_timeout, math.ceil(read_timeout) - 1)))
        self._transport = NtlmHttpTransport(
            conn.address,
            conn.port,
            path=conn.path,
            username=conn.username or "",
            password=ntlm_password(conn),
            connect_timeout=max(1.0, min(conn.connection_timeout, remaining)),
            read_timeout=read_timeout,
            deadline=deadline,
        )
        self._messages = MessageBuilder(self._transport.endpoint, operation_timeout=self._poll_max)
        self._codepage = host_codepage(host)
        self._selectors: Selectors | None = None

    def open(self) -> None:
        self._guarded("open shell", self._create)

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        deadline = min(self._deadline, time.monotonic() + timeout)
        self._transport.deadline = deadline
        try:
            what = command_line.split(" ", 1)[0]
            return self._guarded(what, lambda: self._run(command_line, stdin, deadline))
        finally:
            self._transport.deadline = self._deadline

    def close(self) -> None:
        try:
            if self._selectors is not None:
                message_id = new_message_id()
                self._exchange(self._messages.delete(message_id, self._selectors))
        except Exception as exc:  # closing must never mask the real outcome
            log.debug("%s: closing shell failed: %s", self._host.name, one_line(str(exc)))
        finally:
            self._selectors = None
            self._transport.close()

    def _create(self) -> None:
        message_id = new_message_id()
        body = self._exchange(self._messages.create(message_id, self._codepage))
        self._selectors = read_selectors(read_answer(body, message_id))

    def _run(self, command_line: str, stdin: bytes | None, deadline: float) -> CommandOutput:
        selectors = self._opened()
        message_id = new_message_id()
        body = self._exchange(self._messages.command(message_id, selectors, command_line))
        command_id = read_command_id(read_answer(body, message_id))
        if stdin is not None:
            message_id = new_message_id()
            message = self._messages.send(message_id, selectors, command_id, stdin)
            read_answer(self._exchange(message), message_id)
        return self._receive_until_done(selectors, command_id, deadline)

    def _receive_until_done(
        self, selectors: Selectors, command_id: str, deadline: float
    ) -> CommandOutput:
        stdout, stderr = bytearray(), bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("command did not finish in time")
            poll = max(1, min(self._poll_max, int(remaining)))
            message_id = new_message_id()
            message = self._messages.receive(message_id, selectors, command_id, poll)
            try:
                body = self._exchange(message, read_timeout=poll + 2)
            except WinRSFault as fault:
                if fault.code == OPERATION_TIMEOUT:
                    continue  # nothing yet: poll again (MS-WSMV 3.1.4.14)
                raise
            received = read_received(read_answer(body, message_id))
            stdout += received.stdout
            stderr += received.stderr
            if len(stdout) + len(stderr) > MAX_OUTPUT_BYTES:
                raise WinRSError("command output too large (over 1 MiB)")
            if received.done:
                return CommandOutput(bytes(stdout), bytes(stderr), received.exit_code)

    def _exchange(self, message: bytes, read_timeout: float | None = None) -> bytes:
        try:
            return self._transport.send(message, timeout=read_timeout)
        except HttpStatusError as exc:
            if exc.text.lstrip().startswith("<"):
                raise read_fault(exc.text.encode("utf-8")) from None
            raise

    def _opened(self) -> Selectors:
        if self._selectors is None:
            raise WinRSError("the shell is not open")
        return self._selectors

    def _guarded(self, what: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except TransportError:
            raise
        except Exception as exc:
            kind, reason = classify_lean_error(exc)
            raise TransportError(self._host.name, kind, f"{what}: {reason}") from exc


def classify_lean_error(exc: Exception) -> tuple[str, str]:
    """(kind, reason) for the lean path's failures (kinds: see winrm.classify_error)."""
    if isinstance(exc, HttpAuthError):
        return "auth_failed", "credentials rejected (HTTP 401)"
    if isinstance(exc, NoNtlmOfferedError):
        return "auth_unsupported", str(exc)
    if isinstance(exc, WinRSFault):
        if exc.code in ACCESS_DENIED_FAULTS:
            return "access_denied", "access denied (is the account an administrator?)"
        return "protocol", f"WS-Management fault {exc.code}: {exc.reason}"
    if isinstance(exc, FramingError):
        return "protocol", f"message encryption: {exc}"
    if isinstance(exc, NtlmError):
        return "protocol", one_line(str(exc))
    if isinstance(exc, HttpStatusError):
        return "protocol", f"HTTP {exc.status} from server"
    if isinstance(exc, WinRSError):
        return "protocol", one_line(str(exc))
    return classify_wire_error(exc)


def ntlm_password(conn: Connection) -> str:
    """The password for an NTLM handshake, as pyspnego's "LM:NT" hash form (computed once
    per process per password). Registered with the log hygiene, both forms."""
    plain = conn.password.reveal() if conn.password is not None else ""
    if not plain:
        return ""
    register_secret(plain)
    if NTLM_HASH_FORM.fullmatch(plain):
        return plain
    hashed = _ntlm_hashes(plain)
    register_secret(hashed)
    register_secret(hashed.split(":")[1])
    return hashed


@functools.lru_cache(maxsize=32)
def _ntlm_hashes(password: str) -> str:
    """The "LM:NT" form of a plain password, once per password per process. The LM half
    (pure-Python DES in pyspnego, unused by NTLMv2) is never computed: zeros."""
    return "0" * 32 + ":" + nt_hash(password).hex()
