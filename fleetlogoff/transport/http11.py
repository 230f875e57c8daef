"""A minimal HTTP/1.1 client connection for one WinRM endpoint.

Keep-alive POSTs with a Content-Length body; answers with a Content-Length, chunked or
read-until-close body. Why not http.client: it runs every answer's headers through the
email package, which was a tenth of plan's CPU on a 1,000-host fleet (benchmarks/README.md),
and WinRM needs none of it. A server's answer is untrusted input:

- every exchange has one overall deadline (connect, send, status line, headers, body): a
  server that trickles one byte a second still gets no more than the deadline, because
  each receive waits only for what is left of it (a per-receive timeout would restart
  with every byte);
- sizes are bounded (head, header count, body), so a server cannot grow the controller's
  memory;
- malformed answers raise HttpProtocolError with what was wrong.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

# Status line plus headers. Windows (HTTP.sys) answers with a handful of short headers;
# the longest is WWW-Authenticate with an NTLM challenge or a Kerberos token (a few KiB).
MAX_HEAD_BYTES = 64 * 1024
_MAX_HEADERS = 100  # as http.client allows
# A WinRM answer must fit the wsman:MaxEnvelopeSize the client asked for (MS-WSMV
# 3.1.4.1.7; pypsrp asks for 153600 bytes) and Windows' MaxEnvelopeSizekb is 500 KiB by
# default (winrm-wire.md §5). 1 MiB leaves room for the sealing frame and base64 growth.
MAX_BODY_BYTES = 1024 * 1024
_RECV = 65536
_STATUS_START = b"HTTP/1."


class HttpProtocolError(Exception):
    """The server's answer is not well-formed HTTP/1.1 (or exceeds sane sizes)."""


class AnswerTooLargeError(HttpProtocolError):
    """The answer exceeds the size bound (a broken or hostile server)."""


class RedirectRefusedError(HttpProtocolError):
    """A 3xx answer: WinRM has no redirects, and following one would send the next
    request (and its credentials) wherever a hostile answer points."""


class DeadlineError(TimeoutError):
    """No complete answer before the exchange's deadline."""


@dataclass(frozen=True, slots=True)
class Response:
    """One answer: status, headers in order (names lower-cased), body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str:
        """The first value of a header, "" when absent."""
        return next((v for k, v in self.headers if k == name.lower()), "")

    def all_headers(self, name: str) -> list[str]:
        """Every value of a repeated header (WWW-Authenticate comes several times)."""
        return [v for k, v in self.headers if k == name.lower()]


class HttpConnection:
    """One TCP connection to one endpoint; reconnects only when asked to send again
    after the server closed it (callers that bind state to the connection check
    `socket` identity)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float) -> None:
        self._address = (host, port)
        self._host_header = f"{host}:{port}"
        self._connect_timeout = connect_timeout
        self.socket: socket.socket | None = None
        self._reader: _Reader | None = None

    def post(
        self,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        deadline: float,
        max_body: int = MAX_BODY_BYTES,
    ) -> Response:
        """Send one POST and read its whole answer before `deadline` (time.monotonic()).

        Raises:
            DeadlineError: the deadline passed first (connect, send or answer).
            HttpProtocolError: the answer is malformed or too large.
            ConnectionResetError: the server closed the connection before a full answer.
            OSError: the connection failed.
        """
        head = [f"POST {path} HTTP/1.1", f"Host: {self._host_header}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        try:
            sock, reader = self._connected(deadline)
            sock.settimeout(_remaining(deadline))
            # Headers and body in one send: Nagle plus delayed ACK would stall a split write.
            # The socket's timeout bounds sendall as a whole (Python 3.5+).
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            response = _read_response(reader, deadline, max_body)
        except BaseException:
            self.close()  # after a failed exchange the connection's state is unknown
            raise
        if response.header("connection").lower() == "close":
            self.close()
        return response

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        self.socket, self._reader = None, None

    def _connected(self, deadline: float) -> tuple[socket.socket, _Reader]:
        if self.socket is None or self._reader is None:
            timeout = min(self._connect_timeout, _remaining(deadline))
            try:
                sock = socket.create_connection(self._address, timeout=timeout)
            except TimeoutError:
                raise TimeoutError("connection timed out") from None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socket, self._reader = sock, _Reader(sock)
        return self.socket, self._reader


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineError("no complete answer in time")
    return left


class _Reader:
    """Buffered reads from one socket, each receive bounded by the exchange's deadline."""

    __slots__ = ("_sock", "_buffer", "deadline")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self.deadline = 0.0

    def _receive(self) -> bytes:
        self._sock.settimeout(_remaining(self.deadline))
        try:
            return self._sock.recv(_RECV)
        except TimeoutError:
            raise DeadlineError("no complete answer in time") from None

    def head(self) -> bytes:
        """The status line and headers, without the blank line that ends them."""
        scanned = 0
        while True:
            end = self._buffer.find(b"\n\r\n", max(0, scanned - 2))
            width = 3
            bare = self._buffer.find(b"\n\n", max(0, scanned - 1))
            if bare != -1 and (end == -1 or bare < end):
                end, width = bare, 2
            if end != -1:
                head, self._buffer = self._buffer[: end + 1], self._buffer[end + width :]
                if len(head) > MAX_HEAD_BYTES:
                    raise AnswerTooLargeError("answer headers too large")
                return head
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise AnswerTooLargeError("answer headers too large")
            scanned = len(self._buffer)
            data = self._receive()
            if not data:
                if self._buffer:
                    raise ConnectionResetError("the host closed the connection mid-answer")
                raise ConnectionResetError("the host closed the connection before answering")
            self._buffer += data
            if not _STATUS_START.startswith(self._buffer[:7]):  # fail fast on a non-HTTP peer
                raise HttpProtocolError(f"not an HTTP answer: {self._buffer[:20]!r}")

    def line(self, limit: int) -> bytes:
        """One line (chunk size or trailer), without its line end."""
        while True:
            end = self._buffer.find(b"\n")
            if end != -1:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
                if len(line) > limit:
                    raise HttpProtocolError("answer line too long")
                return line.rstrip(b"\r")
            if len(self._buffer) > limit:
                raise HttpProtocolError("answer line too long")
            self._fill_or_reset()

    def exactly(self, length: int) -> bytes:
        parts, have = [self._buffer], len(self._buffer)
        while have < length:
            data = self._receive()
            if not data:
                raise ConnectionResetError(
                    f"the host closed the connection {length - have} bytes short"
                )
            parts.append(data)
            have += len(data)
        joined = b"".join(parts)
        self._buffer = joined[length:]
        return joined[:length]

    def until_close(self, limit: int) -> bytes:
        parts, have = [self._buffer], len(self._buffer)
        self._buffer = b""
        while have <= limit:
            data = self._receive()
            if not data:
                return b"".join(parts)
            parts.append(data)
            have += len(data)
        raise AnswerTooLargeError("answer body too large")

    def _fill_or_reset(self) -> None:
        data = self._receive()
        if not data:
            raise ConnectionResetError("the host closed the connection mid-answer")
        self._buffer += data


def _read_response(reader: _Reader, deadline: float, max_body: int) -> Response:
    reader.deadline = deadline
    lines = reader.head().split(b"\n")
    status = _parse_status(lines[0].rstrip(b"\r"))
    headers = _parse_headers(lines[1:])
    found = dict(reversed(headers))  # the first of a repeated header wins
    if "chunked" in found.get("transfer-encoding", "").lower():
        body = _read_chunked(reader, max_body)
    elif "content-length" in found:
        body = reader.exactly(_parse_length(found["content-length"], max_body))
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = reader.until_close(max_body)  # no length: the body ends when the server closes
    return Response(status, tuple(headers), body)


def _parse_status(line: bytes) -> int:
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP status line: {line[:80]!r}")
    if len(parts[1]) != 3:
        raise HttpProtocolError(f"not an HTTP status code: {parts[1][:10]!r}")
    return int(parts[1])


def _parse_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    if len(lines) > _MAX_HEADERS:
        raise HttpProtocolError("too many header lines")
    headers: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.rstrip(b"\r")
        if not line:
            continue
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name.strip():
            raise HttpProtocolError(f"malformed header line: {line[:80]!r}")
        headers.append((name.strip().lower(), value.strip()))
    return headers


def _parse_length(text: str, limit: int, base: int = 10) -> int:
    text = text.strip()
    digits = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
    if not text or len(text) > 20 or any(c not in digits for c in text):
        raise HttpProtocolError(f"bad length {text[:40]!r}")
    length = int(text, base)
    if length > limit:
        raise AnswerTooLargeError(f"answer body too large ({length} bytes announced)")
    return length


def _read_chunked(reader: _Reader, max_body: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_text = reader.line(1024).split(b";", 1)[0].decode("latin-1")
        size = _parse_length(size_text, max_body - total, 16)
        if size == 0:
            _read_trailers(reader)
            return b"".join(chunks)
        total += size
        chunks.append(reader.exactly(size))
        if reader.line(2) != b"":
            raise HttpProtocolError("chunk not followed by a line end")


def _read_trailers(reader: _Reader) -> None:
    for _ in range(_MAX_HEADERS):
        if not reader.line(8192):
            return
    raise HttpProtocolError("too many trailer lines")
