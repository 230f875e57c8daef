"""The minimal HTTP/1.1 client against canned answers from a loopback socket server,
hostile ones included: every malformed answer is a clear error, never a hang or a crash."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fleetlogoff.transport.http11 import HttpConnection, HttpProtocolError


@contextmanager
def serving(*answers: bytes) -> Iterator[int]:
    """Answer each request on one connection with the next canned bytes, then close."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            for answer in answers:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(5)


def post(port: int) -> tuple[HttpConnection, object]:
    connection = HttpConnection("127.0.0.1", port, connect_timeout=2)
    return connection, connection.post(
        "/wsman", b"x" * 10, {"A": "b"}, deadline=time.monotonic() + 2
    )


def test_keep_alive_content_length_and_repeated_headers() -> None:
    first = (
        b"HTTP/1.1 401 \r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    with serving(first, second) as port:
        connection = HttpConnection("127.0.0.1", port, connect_timeout=2)
        one = connection.post("/wsman", b"", {}, deadline=time.monotonic() + 2)
        sock = connection.socket
        two = connection.post("/wsman", b"abc", {}, deadline=time.monotonic() + 2)
        connection.close()
    assert one.status == 401 and one.all_headers("www-authenticate") == ["Negotiate", "Basic"]
    assert two.status == 200 and two.body == b"hello"
    assert sock is not None  # the same socket served both: keep-alive


def test_chunked_and_close_delimited_bodies() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    with serving(chunked) as port:
        connection, response = post(port)
        connection.close()
    assert response.body == b"abcde"  # type: ignore[attr-defined]
    closing = b"HTTP/1.1 500 \r\nConnection: close\r\n\r\nbare error"
    with serving(closing) as port:
        connection, response = post(port)
    assert response.body == b"bare error"  # type: ignore[attr-defined]
    assert connection.socket is None  # Connection: close was honoured


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", HttpProtocolError),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", HttpProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", HttpProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", HttpProtocolError),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n", HttpProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", ConnectionResetError),
        (b"", ConnectionResetError),
    ],
)
def test_hostile_answers_raise_clear_errors(answer: bytes, error: type[Exception]) -> None:
    with serving(answer) as port, pytest.raises(error):
        post(port)
