"""A minimal HTTP/1.1 client connection for one WinRM endpoint.

Keep-alive POSTs with a Content-Length body; answers with a Content-Length, chunked or
read-until-close body. Why not http.client: it runs every answer's headers through the
email package, which was a tenth of plan's CPU on a 1,000-host fleet (benchmarks/README.md),
and WinRM needs none of it. A server's answer is untrusted input: sizes are bounded and
malformed answers raise HttpProtocolError with what was wrong.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

_MAX_LINE = 65536  # one status or header line
_MAX_HEADERS = 200
_MAX_BODY = 64 * 1024 * 1024  # far above MaxEnvelopeSizekb (500 KiB on Windows 2012+)


class HttpProtocolError(Exception):
    """The server's answer is not well-formed HTTP/1.1 (or exceeds sane sizes)."""


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
        self._reader: BinaryIO | None = None

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str], read_timeout: float
    ) -> Response:
        sock, reader = self._connected()
        head = [f"POST {path} HTTP/1.1", f"Host: {self._host_header}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        # Headers and body in one send: Nagle plus delayed ACK would stall a split write.
        try:
            sock.settimeout(read_timeout)
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            response = _read_response(reader)
        except BaseException:
            self.close()  # after a failed exchange the connection's state is unknown
            raise
        if response.header("connection").lower() == "close":
            self.close()
        return response

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self.socket is not None:
            self.socket.close()
        self.socket, self._reader = None, None

    def _connected(self) -> tuple[socket.socket, BinaryIO]:
        if self.socket is None or self._reader is None:
            sock = socket.create_connection(self._address, timeout=self._connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socket, self._reader = sock, sock.makefile("rb")
        return self.socket, self._reader


def _read_response(reader: BinaryIO) -> Response:
    status = _read_status(reader)
    headers = _read_headers(reader)
    found = dict(reversed(headers))  # the first of a repeated header wins
    if "chunked" in found.get("transfer-encoding", "").lower():
        body = _read_chunked(reader)
    elif "content-length" in found:
        body = _read_exactly(reader, _parse_length(found["content-length"]))
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = reader.read(_MAX_BODY + 1)  # no length: the body ends when the server closes
        if len(body) > _MAX_BODY:
            raise HttpProtocolError("answer body too large")
    return Response(status, tuple(headers), body)


def _read_line(reader: BinaryIO) -> bytes:
    line = reader.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise HttpProtocolError("answer line too long")
    return line


def _read_status(reader: BinaryIO) -> int:
    line = _read_line(reader)
    if not line:
        raise ConnectionResetError("the host closed the connection before answering")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP status line: {line[:80]!r}")
    return int(parts[1])


def _read_headers(reader: BinaryIO) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        line = _read_line(reader)
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name.strip():
            raise HttpProtocolError(f"malformed header line: {line[:80]!r}")
        headers.append((name.strip().lower(), value.strip()))
        if len(headers) > _MAX_HEADERS:
            raise HttpProtocolError("too many header lines")


def _parse_length(text: str, base: int = 10) -> int:
    try:
        length = int(text.strip(), base)
    except ValueError:
        raise HttpProtocolError(f"bad length {text[:40]!r}") from None
    if not 0 <= length <= _MAX_BODY:
        raise HttpProtocolError(f"length {length} out of bounds")
    return length


def _read_exactly(reader: BinaryIO, length: int) -> bytes:
    data = reader.read(length)
    if len(data) != length:
        raise ConnectionResetError(
            f"the host closed the connection {length - len(data)} bytes short"
        )
    return data


def _read_chunked(reader: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = _parse_length(_read_line(reader).split(b";", 1)[0].decode("latin-1"), 16)
        if size == 0:
            _read_headers(reader)  # trailers, if any, end with a blank line
            return b"".join(chunks)
        total += size
        if total > _MAX_BODY:
            raise HttpProtocolError("answer body too large")
        chunks.append(_read_exactly(reader, size))
        _read_line(reader)  # the CRLF after each chunk
