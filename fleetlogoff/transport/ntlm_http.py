"""NTLM with message encryption over plain HTTP on one keep-alive connection.

This is WinRM's default path (HTTP on 5985, NTLM, every message sealed: MS-WSMV 2.2.9.1.1).
pypsrp's own transport runs it through requests and urllib3, which cost about half of
plan's CPU per host (benchmarks/README.md) and send an anonymous request first only to be
told to authenticate. This transport sends the NTLM negotiate token on the first request,
as curl --ntlm does: 2 authentication round trips instead of 3. The NTLM messages are
ntlm_client.py's (pyspnego's for a password that is not in hash form); the HTTP exchange
and the sealing frames live here.
"""

from __future__ import annotations

import base64
import functools
import logging
import math
import re
import struct
import time
from typing import Protocol

from fleetlogoff.transport.http11 import (
    HttpConnection,
    HttpProtocolError,
    RedirectRefusedError,
    Response,
)
from fleetlogoff.transport.ntlm_client import NtlmClient
from fleetlogoff.transport.ntlm_seal import NtlmSealer, SealError

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = "Encrypted Boundary"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="{BOUNDARY}"'
_PART_START = f"--{BOUNDARY}\r\n".encode()
_END = f"--{BOUNDARY}--\r\n".encode()
# MS-WSMV 2.2.9.1.1.2.2: each part header line starts with a horizontal tab.
_OCTET_HEADER = b"\tContent-Type: application/octet-stream\r\n"
_PROTOCOL_HEADER = f"\tContent-Type: {PROTOCOL}\r\n".encode()
_LENGTH = re.compile(rb"Length=(\d+)")
_TOKEN = re.compile(r"(?:Negotiate|NTLM)\s+([A-Za-z0-9+/=]+)", re.IGNORECASE)
_HEADERS = {"User-Agent": "fleetlogoff", "Accept-Encoding": "identity"}
# pyspnego's "LM:NT" hash form of a password (spnego _credential.py), as lean.ntlm_password
# passes it; the LM half is never used by NTLMv2 (zeros are fine). Match it whole.
NTLM_HASH_FORM = re.compile(r"[0-9a-fA-F]{32}:([0-9a-fA-F]{32})")

log = logging.getLogger(__name__)


class HttpAuthError(Exception):
    """The server rejected the credentials (HTTP 401)."""


class NoNtlmOfferedError(Exception):
    """The server answered the NTLM negotiation without a challenge: it offers no NTLM,
    so no credentials were sent."""


class HttpStatusError(Exception):
    """A non-2xx answer; `text` is the (unsealed) body, usually a WS-Management fault."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.text = text


class FramingError(Exception):
    """A sealed body that does not have the MS-WSMV shape or does not unseal."""


class UnsealedAnswerError(FramingError):
    """A plain answer to a sealed request: once message encryption was negotiated every
    message is sealed (MS-WSMV 2.2.9.1.1); a plain one could come from anyone on the path."""


class Sealer(Protocol):
    """What seals one connection's messages (ntlm_seal.NtlmSealer; tests use stand-ins)."""

    def wrap(self, message: bytes) -> tuple[bytes, bytes]: ...

    def unwrap(self, signature: bytes, sealed: bytes) -> bytes: ...


def seal(sealer: Sealer, message: bytes) -> bytes:
    """Frame one sealed SOAP message as multipart/encrypted (NTLM: no padding)."""
    signature, sealed = sealer.wrap(message)
    return b"".join(
        (
            _PART_START,
            _PROTOCOL_HEADER,
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n"
            % len(message),
            _PART_START,
            _OCTET_HEADER,
            struct.pack("<I", len(signature)),
            signature,
            sealed,
            _END,
        )
    )


def split_frame(body: bytes, boundary: str = BOUNDARY) -> tuple[int, bytes, bytes]:
    """The declared length, signature and sealed bytes of a multipart/encrypted body.

    Raises:
        FramingError: the body does not have the MS-WSMV 2.2.9.1.1.2.2 shape.
    """
    part_start, end = _boundary_patterns(boundary)
    parts = [p for p in part_start.split(body) if p]
    if len(parts) != 2:
        raise FramingError(f"expected 2 MIME parts, got {len(parts)}")
    declared = _LENGTH.search(parts[0])
    if declared is None or len(declared.group(1)) > 12:
        raise FramingError("no valid Length= in the encrypted part header")
    payload = end.sub(b"", parts[1])
    payload = payload.removeprefix(_OCTET_HEADER)
    if len(payload) < 4:
        raise FramingError("encrypted part too short")
    (signature_length,) = struct.unpack("<I", payload[:4])
    if signature_length > len(payload) - 4:
        raise FramingError("encrypted part shorter than its signature")
    end = 4 + signature_length
    return int(declared.group(1)), payload[4:end], payload[end:]


@functools.lru_cache(maxsize=8)
def _boundary_patterns(boundary: str) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """(a part's start, the end marker) of a multipart body, compiled once per boundary."""
    marker = re.escape(boundary.encode())
    return re.compile(rb"--\s*" + marker + rb"\r\n"), re.compile(rb"--\s*" + marker + rb"--\r\n$")


def unseal(sealer: Sealer, body: bytes) -> bytes:
    """Unframe and unseal a multipart/encrypted body; the declared length must match."""
    declared, signature, sealed = split_frame(body)
    try:
        plain = sealer.unwrap(signature, sealed)
    except SealError as exc:
        raise FramingError(f"answer does not unseal ({exc})") from None
    if len(plain) != declared:
        raise FramingError(f"unsealed {len(plain)} bytes, header says {declared}")
    return plain


class NtlmHttpTransport:
    """What pypsrp's WSMan needs from a transport: `endpoint`, `send`, `close`.

    One TCP connection, one NTLM context bound to it (auth is per connection: a
    reconnect means authenticating again, so the connection is never silently swapped).
    Every exchange ends by `deadline` (the host's, time.monotonic()) and by its own
    request deadline (`timeout`, else `read_timeout`, from when it starts), whichever is
    first, however slowly the host answers.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str,
        password: str,
        path: str = "wsman",
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        deadline: float = math.inf,
    ) -> None:
        self.endpoint = f"http://{host}:{port}/{path}"
        self._path = f"/{path}"
        self._host = host
        self._username = username
        self._password = password
        self._read_timeout = read_timeout
        self.deadline = deadline
        self._connection = HttpConnection(host, port, connect_timeout=connect_timeout)
        self._sealer: Sealer | None = None
        self._authenticated_socket: object = None

    def send(
        self,
        message: bytes,
        retries_on_read_timeout: int = 0,
        timeout: float | tuple[float, float] | None = None,
    ) -> bytes:
        """POST one SOAP message sealed; return the unsealed answer.

        `retries_on_read_timeout` is accepted for pypsrp's signature and ignored: the
        caller's per-host deadline decides, not a hidden retry loop.
        """
        if self._sealer is None:
            self._sealer = self._authenticate()
        elif self._connection.socket is not self._authenticated_socket:
            # NTLM authenticates the TCP connection, not the requests: once the server
            # closed it, a new one would only earn a 401 that looks like a bad password.
            raise ConnectionResetError("the host closed the authenticated connection")
        read = timeout[1] if isinstance(timeout, tuple) else timeout
        response = self._post(seal(self._sealer, message), {"Content-Type": CONTENT_TYPE}, read)
        if response.status == 401:
            raise HttpAuthError("credentials rejected (HTTP 401)")
        _refuse_redirect(response)
        if response.header("content-type").startswith("multipart/encrypted"):
            body = unseal(self._sealer, response.body)
        elif response.body:
            raise UnsealedAnswerError("unsealed answer refused (message encryption was negotiated)")
        else:
            body = b""
        if not 200 <= response.status < 300:  # a 1xx is no answer either
            raise HttpStatusError(response.status, body.decode("utf-8", "replace"))
        return body

    def close(self) -> None:
        self._connection.close()

    def _authenticate(self) -> Sealer:
        handshake = _handshake_for(self._username, self._password, self._host)
        first = self._post(b"", self._authorization(handshake.first()), None)
        _refuse_redirect(first)
        challenge = self._server_token(first)
        if first.status != 401:
            raise HttpProtocolError(f"no NTLM challenge: HTTP {first.status} to the negotiation")
        if challenge is None:
            raise NoNtlmOfferedError("the host offers no NTLM (HTTP 401 without a challenge)")
        second = self._post(b"", self._authorization(handshake.answer(challenge)), None)
        _refuse_redirect(second)
        if second.status == 401:
            raise HttpAuthError("credentials rejected (HTTP 401)")
        if second.status != 200:
            raise HttpProtocolError(f"HTTP {second.status} to the NTLM authentication")
        self._authenticated_socket = self._connection.socket
        return handshake.sealer()

    @staticmethod
    def _authorization(token: bytes | None) -> dict[str, str]:
        return {"Authorization": "Negotiate " + base64.b64encode(token or b"").decode()}

    @staticmethod
    def _server_token(response: Response) -> bytes | None:
        for value in response.all_headers("WWW-Authenticate"):
            found = _TOKEN.search(value)
            if found:
                try:
                    return base64.b64decode(found.group(1), validate=True)
                except ValueError:
                    raise HttpProtocolError("malformed NTLM challenge") from None
        return None

    def _post(self, body: bytes, extra: dict[str, str], read_timeout: float | None) -> Response:
        started = time.monotonic()
        deadline = min(self.deadline, started + (read_timeout or self._read_timeout))
        response = self._connection.post(self._path, body, {**_HEADERS, **extra}, deadline=deadline)
        # Same shape as urllib3's debug line, so one log reader counts both transports.
        # Never the headers: they carry the NTLM tokens.
        log.debug(
            '%s "POST %s HTTP/1.1" %d %d',
            self.endpoint,
            self._path,
            response.status,
            len(response.body),
        )
        return response


class _Handshake(Protocol):
    """The client side of one NTLM handshake, whichever implementation runs it."""

    def first(self) -> bytes: ...

    def answer(self, challenge: bytes) -> bytes: ...

    def sealer(self) -> Sealer: ...


class _OwnHandshake:
    """ntlm_client.py's NTLMv2, for a password given as its NT hash (lean.ntlm_password
    always gives one)."""

    def __init__(self, username: str, nt_hash: bytes, host: str) -> None:
        self._client = NtlmClient(username, nt_hash, target_host=host)

    def first(self) -> bytes:
        return self._client.negotiate()

    def answer(self, challenge: bytes) -> bytes:
        return self._client.authenticate(challenge)

    def sealer(self) -> Sealer:
        return self._client.sealer()


class _PyspnegoHandshake:
    """pyspnego's NTLM, for any other password form (an empty one)."""

    def __init__(self, username: str, password: str, host: str) -> None:
        import spnego  # only this rare path needs it

        self._context = spnego.client(
            username,
            password,
            hostname=host,
            service="http",
            protocol="ntlm",
            options=spnego.NegotiateOptions.wrapping_winrm,
        )

    def first(self) -> bytes:
        return self._context.step() or b""

    def answer(self, challenge: bytes) -> bytes:
        return self._context.step(challenge) or b""

    def sealer(self) -> Sealer:
        return NtlmSealer(self._context)


def _handshake_for(username: str, password: str, host: str) -> _Handshake:
    nt_hash = NTLM_HASH_FORM.fullmatch(password)
    if nt_hash is not None:
        return _OwnHandshake(username, bytes.fromhex(nt_hash.group(1)), host)
    return _PyspnegoHandshake(username, password, host)


def _refuse_redirect(response: Response) -> None:
    if 300 <= response.status < 400:
        raise RedirectRefusedError(f"redirect refused (HTTP {response.status})")
