"""WinRM over pypsrp: the one module that imports pypsrp.

One WSMan per host, used by one thread (pypsrp is not thread-safe: pypsrp-notes.md §1.6),
one WinRS shell per host reused for every command (Create once, Command+Receive per
command, Delete at the end), in the UTF-8 code page unless fleetlogoff_codepage says
otherwise, so localized output needs no OEM guess. WinRM's default path (NTLM with
encryption over HTTP) runs without pypsrp on lean.py (same messages, checked against
pypsrp's own); HTTPS, Basic, Kerberos, CredSSP and certificates run here, on pypsrp's
requests transport bounded by bounded_requests.py.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
import xml.etree.ElementTree as ET

import requests
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.shell import CommandState, WinRS
from pypsrp.wsman import NAMESPACES, OptionSet, WSMan, WSManAction
from spnego.exceptions import BadMICError

from fleetlogoff.errors import TransportError
from fleetlogoff.inventory.settings import host_codepage
from fleetlogoff.model import Connection, Host
from fleetlogoff.transport import CommandOutput, HostSession, kerberos
from fleetlogoff.transport.bounded_requests import WireGuard, bound_session
from fleetlogoff.transport.lean import (
    ACCESS_DENIED_FAULTS,
    MAX_OUTPUT_BYTES,
    lean_applies,
    ntlm_password,
    open_lean,
)
from fleetlogoff.transport.log_hygiene import install_log_hygiene, register_secret
from fleetlogoff.transport.ntlm_http import FramingError
from fleetlogoff.transport.wire_errors import classify_wire_error, one_line

log = logging.getLogger(__name__)
install_log_hygiene()  # here too, so that spawned worker processes get it on import

# 2150858793: ERROR_WSMAN_OPERATION_TIMEDOUT, the long-poll "no output yet" answer to
# Receive (MS-WSMV 3.1.4.14); the client is expected to poll again.
_OPERATION_TIMEOUT_FAULT = 2150858793
_ACCESS_DENIED_FAULTS = ACCESS_DENIED_FAULTS
_MAX_OUTPUT_BYTES = MAX_OUTPUT_BYTES


class WinRMConnector:
    """Connector that opens pypsrp WinRS shells."""

    def __init__(self) -> None:
        install_log_hygiene()

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        if lean_applies(host):
            return open_lean(host, deadline_s=deadline_s)
        session = WinRMSession(host, deadline=time.monotonic() + deadline_s)
        try:
            session.open()
        except BaseException:
            session.close()  # never leak the socket of a host that failed to open
            raise
        return session


class WinRMSession:
    """One host's WSMan connection and shell."""

    def __init__(self, host: Host, *, deadline: float) -> None:
        self._host = host
        self._deadline = deadline
        kerberos.check_available(host.name, host.connection)
        with _translate_errors(host.name, "connect", host.connection):
            self._wsman = _build_wsman(host.connection, self._remaining())
        # `deadline` (the host's, lowered during a command) bounds every exchange, however
        # slowly the host answers.
        self._bounds = WireGuard(deadline)
        self._shell = WinRS(self._wsman, codepage=host_codepage(host))

    def open(self) -> None:
        with _translate_errors(self._host.name, "open shell", self._host.connection):
            bound_session(_build_requests_session(self._wsman), self._bounds)  # builds auth
            self._shell.open()

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        deadline = min(self._deadline, time.monotonic() + timeout)
        self._bounds.deadline = deadline
        try:
            what = command_line.split(" ", 1)[0]
            with _translate_errors(self._host.name, what, self._host.connection):
                response = self._shell.command(command_line, None)
                found = response.find("rsp:CommandResponse/rsp:CommandId", namespaces=NAMESPACES)
                command_id = found.text if found is not None and found.text else ""
                if stdin is not None:
                    self._shell.send("stdin", stdin, command_id=command_id, end=True)
                return self._receive_until_done(command_id, deadline)
        finally:
            self._bounds.deadline = self._deadline

    def close(self) -> None:
        try:
            if self._shell.opened:
                self._shell.close()
        except Exception as exc:  # closing must never mask the real outcome
            log.debug("%s: closing shell failed: %s", self._host.name, exc)
        try:
            self._wsman.close()
        except Exception as exc:  # same reason
            log.debug("%s: closing connection failed: %s", self._host.name, exc)
        self._bounds.close()

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def _receive_until_done(self, command_id: str, deadline: float) -> CommandOutput:
        stdout, stderr = bytearray(), bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(self._host.name, "timeout", "command did not finish in time")
            done, exit_code = self._receive_once(command_id, remaining, stdout, stderr)
            if len(stdout) + len(stderr) > _MAX_OUTPUT_BYTES:
                raise TransportError(
                    self._host.name, "protocol", "command output too large (over 16 MiB)"
                )
            if done:
                return CommandOutput(bytes(stdout), bytes(stderr), exit_code)

    def _receive_once(
        self, command_id: str, remaining: float, stdout: bytearray, stderr: bytearray
    ) -> tuple[bool, int | None]:
        poll = max(1, min(int(self._host.connection.operation_timeout), int(remaining)))
        try:
            body = _receive(self._wsman, self._shell, command_id, poll)
        except WSManFaultError as exc:
            if exc.code == _OPERATION_TIMEOUT_FAULT:
                return False, None
            raise
        for stream in body.findall("rsp:ReceiveResponse/rsp:Stream", namespaces=NAMESPACES):
            if stream.text:
                target = stdout if stream.attrib.get("Name") == "stdout" else stderr
                target += base64.b64decode(stream.text)
        state = body.find("rsp:ReceiveResponse/rsp:CommandState", namespaces=NAMESPACES)
        if state is None or state.attrib.get("State") != CommandState.DONE:
            return False, None
        code = state.find("rsp:ExitCode", namespaces=NAMESPACES)
        return True, int(code.text) if code is not None and code.text else None


def _receive(wsman: WSMan, shell: WinRS, command_id: str, poll_s: int) -> ET.Element:
    """One Receive without pypsrp's 5 silent read-timeout retries (pypsrp-notes.md §5.3):
    the per-host deadline decides when to give up, not a hidden ~5 minute retry loop."""
    rsp = NAMESPACES["rsp"]
    receive = ET.Element(f"{{{rsp}}}Receive")
    desired = ET.SubElement(receive, f"{{{rsp}}}DesiredStream", CommandId=command_id)
    desired.text = "stdout stderr"
    options = OptionSet()
    options.add_option("WSMAN_CMDSHELL_OPTION_KEEPALIVE", "True")
    envelope = wsman.invoke(
        WSManAction.RECEIVE,
        shell.resource_uri,
        receive,
        options,
        shell._selector_set,  # pypsrp keeps the selectors private
        poll_s,
    )
    body = envelope.find("s:Body", namespaces=NAMESPACES)
    if body is None:
        raise WinRMError("Receive response has no s:Body")
    return body


# pypsrp's WSMan() registers its XML namespaces in ElementTree's process-wide map, whose
# register_namespace is not thread-safe: hosts opened at once by the thread pool raced
# there (KeyError in register_namespace, seen under load in apply_bench's logoff phase).
_WSMAN_INIT = threading.Lock()


def _build_wsman(conn: Connection, remaining_s: float) -> WSMan:
    with _WSMAN_INIT:
        return _new_wsman(conn, remaining_s)


def _new_wsman(conn: Connection, remaining_s: float) -> WSMan:
    connect_timeout = max(1, math.ceil(min(conn.connection_timeout, remaining_s)))
    read_timeout = max(2, math.ceil(min(conn.read_timeout, remaining_s)))
    verify: bool | str = (conn.ca_trust_path or True) if conn.cert_validation else False
    username = conn.username
    if conn.transport in ("kerberos", "negotiate"):
        username = kerberos.user_principal(username)
    return WSMan(
        conn.address,
        port=conn.port,
        path=conn.path,
        ssl=conn.scheme == "https",
        auth=conn.transport,
        username=username,
        password=_password_for(conn),
        # pypsrp hands this to requests' `verify`, which takes a CA bundle path too.
        cert_validation=verify,  # type: ignore[arg-type]  # typed bool, documented bool|path
        connection_timeout=connect_timeout,
        read_timeout=read_timeout,
        operation_timeout=max(1, int(min(conn.operation_timeout, read_timeout - 1))),
        encryption=conn.message_encryption,
        reconnection_retries=0,
        reconnection_backoff=0.5,
        no_proxy=True,
        certificate_pem=conn.cert_pem,
        certificate_key_pem=conn.cert_key_pem,
        # The SPN is service/host (kerberos.md); pypsrp's own default service is "host".
        negotiate_service=conn.kerberos_service,
        negotiate_hostname_override=conn.kerberos_hostname_override,
        negotiate_send_cbt=conn.send_cbt,
    )


def _build_requests_session(wsman: WSMan) -> requests.Session:
    """pypsrp's requests session, built now (what its first send() would do) so that it
    can be bounded before any request. requests re-reads proxy variables from the
    environment on every send when trust_env is on (about 9% of client CPU, clients.md);
    pypsrp resolves them once when it builds its session, so the re-reading goes off.
    """
    transport = wsman.transport
    session = transport.session
    if session is None:
        session = transport.session = transport._build_session()
    session.trust_env = False
    return session


def _password_for(conn: Connection) -> str | None:
    if conn.password is None:
        return None
    if conn.transport == "ntlm":
        return ntlm_password(conn)  # the NT hash form, once per run
    plain = conn.password.reveal()
    register_secret(plain)
    return plain


class _translate_errors:
    """Turn pypsrp/requests exceptions into TransportError with a kind and a one-line cause."""

    def __init__(self, host: str, what: str, conn: Connection | None = None) -> None:
        self._host = host
        self._what = what
        self._conn = conn

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, TransportError) or not isinstance(exc, Exception):
            return
        kind, reason = classify_error(exc, self._conn)
        raise TransportError(self._host, kind, f"{self._what}: {reason}") from exc


def classify_error(exc: Exception, conn: Connection | None = None) -> tuple[str, str]:
    """Map a pypsrp/requests exception to (kind, reason) without leaking credentials.

    Kinds: "auth_failed" only when the host rejected the credentials (what counts towards
    an account lockout), "auth_unsupported" when no offered scheme fits (no credentials
    were judged), "access_denied" when they were accepted but the account may not run
    commands; "timeout", "unreachable", "reset", "tls", "protocol".
    """
    if isinstance(exc, BadMICError):  # sealing, whatever the auth: checked before Kerberos
        return "protocol", "message encryption: answer does not unseal (bad signature)"
    known = kerberos.classify(exc, conn) or _classify_setup(exc, conn)
    if known is not None:
        return known
    if isinstance(exc, AuthenticationError):
        if "did not response with one of" in str(exc):  # sic, pypsrp's negotiate.py
            return "auth_unsupported", "the host offers none of Negotiate, Kerberos, NTLM"
        if conn is not None and conn.transport == "kerberos":
            spn = kerberos.service_principal(conn)
            return "auth_failed", (
                f"the host refused the Kerberos ticket for {spn} (HTTP 401): not its "
                "principal, or its clock is more than 5 minutes off the domain's"
            )
        return "auth_failed", "credentials rejected (HTTP 401)"
    if isinstance(exc, ValueError) and "incompatible with the specified auth" in str(exc):
        return "auth_unsupported", "the host offers another authentication scheme"
    if isinstance(exc, WSManFaultError):
        if exc.code in _ACCESS_DENIED_FAULTS:
            return "access_denied", "access denied (is the account an administrator?)"
        return "protocol", f"WS-Management fault {exc.code}: {_one_line(str(exc.reason))}"
    if isinstance(exc, FramingError):
        return "protocol", f"message encryption: {exc}"
    if isinstance(exc, WinRMError) and "decryption failed" in str(exc):  # pypsrp's words
        return "protocol", "message encryption: unsealed length differs from the frame's"
    if isinstance(exc, WinRMTransportError):
        return "protocol", f"HTTP {exc.code} from server"
    if isinstance(exc, WinRMError):
        return "protocol", _one_line(str(exc))
    return classify_wire_error(exc)


def _classify_setup(exc: Exception, conn: Connection | None) -> tuple[str, str] | None:
    """Auth settings pypsrp refuses before sending anything: one line, not a traceback.
    Nothing was judged by a host, so none of these counts towards an account lockout."""
    if isinstance(exc, ImportError) and "credssp" in str(exc).lower():
        return "auth_unsupported", "CredSSP needs requests-credssp: pip install 'pypsrp[credssp]'"
    if isinstance(exc, ValueError) and "message encryption" in str(exc):
        auth = conn.transport if conn else "this auth"
        return "auth_unsupported", (
            f"{auth} cannot encrypt messages over HTTP: use HTTPS (ansible_winrm_scheme: "
            "https) or, where the host allows unencrypted traffic, "
            "ansible_winrm_message_encryption: never"
        )
    if isinstance(exc, ValueError) and "must be specified" in str(exc):
        return "auth_unsupported", f"{_one_line(str(exc))} (ansible_user / ansible_password)"
    return None


_one_line = one_line  # the name this module's callers have always used
