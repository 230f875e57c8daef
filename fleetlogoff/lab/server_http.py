"""Minimal HTTP/1.1 for the lab's WinRM listeners: read one request, render one response.

Only what WinRM clients use: POST with Content-Length, keep-alive. Responses mimic HTTP.sys:
an empty reason phrase, `Server: Microsoft-HTTPAPI/2.0`, Content-Length always
(winrm-wire.md §3, capture S17).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fleetlogoff.lab.server_errors import LabError

SERVER_HEADER = "Microsoft-HTTPAPI/2.0"
MAX_HEADER_BYTES = 65536
# MaxEnvelopeSizekb is 500 on 2012+ (capture S14); the encrypted framing adds ~200 bytes, so
# allow a little more and answer 413 above it (MS-WSMV 3.1.4.1.20).
MAX_BODY_BYTES = 500 * 1024 + 4096


class HttpError(LabError):
    """A request the server answers with a bare status and then closes.

    Attributes:
        status: the HTTP status to send.
    """

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {reason}")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One parsed request.

    Attributes:
        method: upper-case method.
        path: request target without query.
        headers: header values keyed by lower-case name (repeats joined by ", ").
        body: the body bytes (empty for a blank auth POST).
        keep_alive: False when the client asked to close.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """Read one request from a connection.

    Returns:
        The request, or None when the client closed the connection between requests.

    Raises:
        HttpError: malformed, chunked or oversized request.
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise HttpError(400, "connection closed inside the request head") from None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, f"bad request line {lines[0][:80]!r}")
    headers = _parse_headers(lines[1:])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        # Windows rejects chunked requests to shells (MS-WSMV 3.1.4.1.31.8); no client sends them.
        raise HttpError(411, "chunked request bodies are not supported")
    length = _content_length(headers)
    body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (
        parts[2] != "HTTP/1.0" or "keep-alive" in connection
    )
    return HttpRequest(parts[0].upper(), parts[1].split("?", 1)[0], headers, body, keep_alive)


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(400, f"bad header line {line[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _content_length(headers: dict[str, str]) -> int:
    raw = headers.get("content-length", "0") or "0"
    try:
        length = int(raw)
    except ValueError:
        raise HttpError(400, f"bad Content-Length {raw!r}") from None
    if length < 0:
        raise HttpError(400, f"bad Content-Length {raw!r}")
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"body of {length} bytes exceeds MaxEnvelopeSizekb")
    return length


def render_response(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    *,
    close: bool = False,
) -> bytes:
    """Render a full response (head and body in one buffer, written with one write).

    Args:
        status: HTTP status; the reason phrase is empty like HTTP.sys.
        headers: extra headers (Content-Type, WWW-Authenticate...), repeats allowed.
        body: the body.
        close: add `Connection: close`.

    Returns:
        The bytes to write.
    """
    lines = [f"HTTP/1.1 {status} ", f"Server: {SERVER_HEADER}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if close:
        lines.append("Connection: close")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
