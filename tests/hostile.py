"""A hostile WinRM server for the transport tests: a loopback proxy in front of a real lab
host that misbehaves on one chosen answer of every connection.

Everything before the chosen answer is the lab's own (so NTLM, message encryption, the
shell and its commands are real, and a fault can hit any phase: the NTLM challenge, the
authentication, Create, Command, Receive, Delete). At the chosen answer the proxy does
one hostile thing: trickles, never ends, floods headers, speaks garbage, breaks the
sealing frame, answers in the clear, redirects, resets. Each connection counts its own
answers, so a client's retry meets the same fault again.

Loopback only: the proxy binds 127.0.0.1 and talks to lab hosts on 127.x.y.z.
"""

from __future__ import annotations

import random
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum


class Act(StrEnum):
    """What the proxy does to the chosen answer."""

    PASS = "pass"  # nothing: the lab's answer as it is
    TRICKLE = "trickle"  # the lab's answer, one byte per interval
    TRICKLE_HEADERS = "trickle_headers"  # a status line, then header bytes one at a time, forever
    STALL_BODY = "stall_body"  # headers announce a body that never comes
    ENDLESS_BODY = "endless_body"  # no length, a body that never ends, as fast as possible
    ENDLESS_CHUNKED = "endless_chunked"  # chunked, chunks forever
    ENDLESS_SEALED = "endless_sealed"  # multipart/encrypted that never ends
    HUGE_LENGTH = "huge_length"  # Content-Length of a terabyte, then bytes forever
    HUGE_HEADERS = "huge_headers"  # header lines forever
    GARBAGE = "garbage"  # random bytes, then close
    BAD_STATUS = "bad_status"  # an HTTP-looking status line that is not one
    RESET = "reset"  # reset the connection instead of answering
    RESET_MID = "reset_mid"  # half of the lab's answer, then a reset
    CLOSE = "close"  # close cleanly without answering
    SILENT = "silent"  # never answer
    REDIRECT = "redirect"  # 302 to another loopback listener
    UNSEALED = "unsealed"  # the lab's status, but a plain SOAP body
    BAD_LENGTH = "bad_length"  # the sealed frame's Length= off by one
    BAD_SIGNATURE = "bad_signature"  # one bit of the sealed frame's signature flipped
    NO_BOUNDARY = "no_boundary"  # the sealed body without its MIME boundaries
    SHORT_SIGNATURE = "short_signature"  # a signature length larger than the part


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour.

    Attributes:
        act: what to do.
        answer: which answer of each connection (0 = the first).
        interval_s: pace of trickles.
    """

    act: Act
    answer: int = 0
    interval_s: float = 0.25


_PLAIN_SOAP = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/>'
    b"<s:Body/></s:Envelope>"
)
_CHUNK = b"x" * 65536


class HostileProxy:
    """The proxy (a context manager); `port` is where clients connect.

    Attributes:
        port: the listening port on 127.0.0.1.
        redirect_hits: connections the redirect target received (must stay 0).
        bytes_sent: bytes the proxy pushed at clients (endless faults).
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        fault: Fault,
        *,
        upstream_tls: bool = False,
        server_tls: ssl.SSLContext | None = None,
        raw: bool = False,
        listeners: int = 1,
    ) -> None:
        self._upstream = upstream
        self._fault = fault
        self._upstream_tls = upstream_tls
        self._server_tls = server_tls
        self._raw = raw
        # Several ports make several endpoints: the tool reads one endpoint's entries one
        # at a time (concurrency.py), so a fleet of hostile hosts needs as many ports.
        self._listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(listeners)]
        self._redirect = socket.create_server(("127.0.0.1", 0))
        self.ports: list[int] = [sock.getsockname()[1] for sock in self._listeners]
        self.port: int = self.ports[0]
        self.redirect_hits = 0
        self.bytes_sent = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        self._rng = random.Random(7)

    def __enter__(self) -> HostileProxy:
        loops = [(self._redirect_loop, ())] + [(self._accept_loop, (s,)) for s in self._listeners]
        for target, args in loops:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        # close() alone does not wake a thread blocked in accept() or recv() on Linux.
        for sock in (*self._listeners, self._redirect, *self._open):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(10)

    def _redirect_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._redirect.accept()
            except OSError:
                return
            self.redirect_hits += 1
            conn.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self._open.append(conn)
            target = self._pump_raw if self._raw else self._serve
            thread = threading.Thread(target=self._guarded, args=(target, conn), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _guarded(self, target: Callable[[socket.socket], None], conn: socket.socket) -> None:
        with suppress(OSError, ssl.SSLError, ValueError), conn:
            target(conn)

    def _connect_upstream(self, *, tls: bool | None = None) -> socket.socket:
        sock = socket.create_connection(self._upstream, timeout=30)
        if self._upstream_tls if tls is None else tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        self._open.append(sock)
        return sock

    # -- raw mode: bytes both ways, the lab's bytes trickled (TLS handshakes included) --

    def _pump_raw(self, client: socket.socket) -> None:
        # Plain TCP upstream, whatever the wire: the client's TLS handshake is with the lab
        # itself, its bytes trickled. (A TLS upstream here was TLS inside TLS, and worse,
        # one SSL object read by this thread while _copy wrote it from another: OpenSSL
        # forbids that, and it crashed the test process with a segfault.)
        with self._connect_upstream(tls=False) as upstream:
            threading.Thread(target=_copy, args=(client, upstream), daemon=True).start()
            while not self._stop.is_set():
                data = upstream.recv(65536)
                if not data:
                    return
                self._trickle(client, data)

    # -- HTTP mode ---------------------------------------------------------------------

    def _serve(self, plain: socket.socket) -> None:
        client = plain
        if self._server_tls is not None:
            client = self._server_tls.wrap_socket(plain, server_side=True)
            self._open.append(client)
        client_reader = _Reader(client)
        with client, self._connect_upstream() as upstream:
            upstream_reader = _Reader(upstream)
            index = 0
            while not self._stop.is_set():
                request = client_reader.message()
                if request is None:
                    return
                if index != self._fault.answer or self._fault.act is Act.PASS:
                    upstream.sendall(request)
                    answer = upstream_reader.message()
                    if answer is None:
                        return
                    client.sendall(answer)
                elif not self._misbehave(client, upstream, upstream_reader, request):
                    return
                index += 1

    def _misbehave(
        self,
        client: socket.socket,
        upstream: socket.socket,
        upstream_reader: _Reader,
        request: bytes,
    ) -> bool:
        """Do the fault; True when the connection may go on serving."""
        act = self._fault.act
        if act in _NEEDS_LAB_ANSWER:
            upstream.sendall(request)
            answer = upstream_reader.message()
            if answer is None:
                return False
            return self._mutate(client, act, answer)
        if act is Act.RESET:
            _reset(client)
            return False
        if act is Act.CLOSE:
            return False
        if act is Act.SILENT:
            self._stop.wait()
            return False
        if act is Act.REDIRECT:
            location = f"http://127.0.0.1:{self._redirect.getsockname()[1]}/wsman"
            client.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                % location.encode()
            )
            return True
        if act is Act.GARBAGE:
            client.sendall(self._rng.randbytes(4096))
            return False
        if act is Act.BAD_STATUS:
            client.sendall(b"HTTP/1.1 2000000 OK\r\nContent-Length: 0\r\n\r\n")
            return False
        self._flood(client, act)
        return False

    def _mutate(self, client: socket.socket, act: Act, answer: bytes) -> bool:
        if act is Act.TRICKLE:
            self._trickle(client, answer)
            return True
        if act is Act.RESET_MID:
            client.sendall(answer[: max(1, len(answer) // 2)])
            _reset(client)
            return False
        head, _, body = answer.partition(b"\r\n\r\n")
        if act is Act.UNSEALED:
            status = head.split(b"\r\n", 1)[0]
            client.sendall(
                status
                + b"\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(_PLAIN_SOAP)
                + _PLAIN_SOAP
            )
            return True
        body = _break_frame(act, body)
        head_lines = [
            line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length")
        ]
        client.sendall(
            b"\r\n".join(head_lines) + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        return True

    def _flood(self, client: socket.socket, act: Act) -> None:
        if act is Act.TRICKLE_HEADERS:
            self._trickle(client, b"HTTP/1.1 200 \r\nX-Slow: " + b"a" * 10_000_000)
            return
        if act is Act.STALL_BODY:
            client.sendall(b"HTTP/1.1 200 \r\nContent-Length: 1000\r\n\r\n<s:Envelope")
            self._stop.wait()
            return
        heads = {
            Act.ENDLESS_BODY: b"HTTP/1.1 200 \r\nContent-Type: application/soap+xml\r\n\r\n<a>",
            Act.ENDLESS_CHUNKED: b"HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n",
            Act.ENDLESS_SEALED: (
                b"HTTP/1.1 200 \r\nContent-Type: multipart/encrypted;"
                b'protocol="application/HTTP-SPNEGO-session-encrypted";'
                b'boundary="Encrypted Boundary"\r\n\r\n--Encrypted Boundary\r\n'
            ),
            Act.HUGE_LENGTH: b"HTTP/1.1 200 \r\nContent-Length: 1000000000000\r\n\r\n",
            Act.HUGE_HEADERS: b"HTTP/1.1 200 \r\n",
        }
        piece = {
            Act.ENDLESS_CHUNKED: b"10000\r\n" + _CHUNK + b"\r\n",
            Act.HUGE_HEADERS: b"X-Pad: " + b"a" * 1000 + b"\r\n",
        }.get(act, _CHUNK)
        client.sendall(heads[act])
        while not self._stop.is_set():
            client.sendall(piece)  # raises once the client gave up and closed
            self.bytes_sent += len(piece)

    def _trickle(self, client: socket.socket, data: bytes) -> None:
        for offset in range(len(data)):
            if self._stop.wait(self._fault.interval_s):
                return
            client.sendall(data[offset : offset + 1])
            self.bytes_sent += 1


_NEEDS_LAB_ANSWER = frozenset(
    {
        Act.TRICKLE,
        Act.RESET_MID,
        Act.UNSEALED,
        Act.BAD_LENGTH,
        Act.BAD_SIGNATURE,
        Act.NO_BOUNDARY,
        Act.SHORT_SIGNATURE,
    }
)


def _break_frame(act: Act, body: bytes) -> bytes:
    """Damage a sealed multipart body the way `act` says."""
    if act is Act.BAD_LENGTH:
        start = body.index(b"Length=") + len(b"Length=")
        end = body.index(b"\r\n", start)
        return body[:start] + str(int(body[start:end]) + 1).encode() + body[end:]
    marker = b"\tContent-Type: application/octet-stream\r\n"
    at = body.index(marker) + len(marker)
    if act is Act.BAD_SIGNATURE:
        flipped = bytes([body[at + 4] ^ 0x01])
        return body[: at + 4] + flipped + body[at + 5 :]
    if act is Act.SHORT_SIGNATURE:
        return body[:at] + struct.pack("<I", 0xFFFFFF) + body[at + 4 :]
    return body.replace(b"--Encrypted Boundary\r\n", b"").replace(b"--Encrypted Boundary--", b"")


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _copy(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)


class _Reader:
    """Reads whole HTTP messages (head plus Content-Length body) off a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def message(self) -> bytes | None:
        while b"\r\n\r\n" not in self._buffer:
            data = self._sock.recv(65536)
            if not data:
                return None
            self._buffer += data
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            data = self._sock.recv(65536)
            if not data:
                return None
            rest += data
        self._buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]
