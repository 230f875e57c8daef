"""Bounds for pypsrp's requests-based transport (HTTPS, Basic, Kerberos, CredSSP,
certificates): the same promises the lean transport keeps (http11.py), on a stack we do
not own.

requests and urllib3 time out each socket operation, not an exchange: a host that sends
one byte every few seconds never trips them, and a host that never ends its answer grows
it in memory without limit (issue 7: 9.6 GB in 40 s). Here, for one host's session:

- a deadline per exchange (the request's read timeout from its start, never past the
  host's deadline) enforced by a watchdog thread that shuts the host's sockets down when
  it passes, which wakes any blocked read, TLS handshakes and auth legs included;
- every answer's bytes (headers and body) are counted as http.client reads them, and an
  answer past the bound stops the read;
- redirects are never followed (WinRM has none; a hostile one would carry the next
  request, credentials included, elsewhere);
- once a request went out sealed (message encryption), a plain answer is refused.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import http.client
import itertools
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

from fleetlogoff.transport.http11 import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    AnswerTooLargeError,
    DeadlineError,
    RedirectRefusedError,
)
from fleetlogoff.transport.ntlm_http import BOUNDARY, UnsealedAnswerError, split_frame

_SEALED_TYPES = ("multipart/encrypted", "multipart/x-multi-encrypted")
_BOUNDARY = re.compile(r'boundary="([^"]*)"')


class WireGuard:
    """One host's bounds: its deadline, the answer size, and the sockets to cut.

    Attributes:
        deadline: the host's deadline (time.monotonic()); lowered per command by the
            session, never raised past the host's.
        max_answer_bytes: bound on one answer, headers and body.
    """

    def __init__(
        self, deadline: float = math.inf, max_answer_bytes: int = MAX_BODY_BYTES + MAX_HEAD_BYTES
    ) -> None:
        self.deadline = deadline
        self.max_answer_bytes = max_answer_bytes
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False

    @property
    def expired(self) -> bool:
        """Whether a deadline cut this host's connections."""
        return self._expired

    def adopt(self, sock: socket.socket) -> None:
        """Watch a new connection. A duplicate of its descriptor is kept: shutting the
        duplicate down ends the connection itself (shutdown acts on the socket, not the
        descriptor), even after TLS wrapped and detached the original object."""
        with self._lock:
            copy = sock.dup()
            self._sockets.append(copy)
            if self._expired:
                _shut(copy)

    def expire(self) -> None:
        """Cut every connection of this host (called by the watchdog)."""
        with self._lock:
            self._expired = True
            for sock in self._sockets:
                _shut(sock)

    def close(self) -> None:
        """Release the duplicates (after the session closed its own sockets)."""
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def exchange_deadline(self, read_timeout: float | None) -> float:
        now = time.monotonic()
        deadline = min(self.deadline, now + read_timeout if read_timeout else math.inf)
        if self._expired or deadline <= now:
            raise DeadlineError("no complete answer in time")
        return deadline

    @contextmanager
    def exchange(self, read_timeout: float | None) -> Iterator[None]:
        """Bound one exchange; whatever broke once the deadline cut it is a DeadlineError."""
        token = _WATCHDOG.arm(self.exchange_deadline(read_timeout), self)
        try:
            yield
        except Exception:
            if self._expired:
                raise DeadlineError("no complete answer in time") from None
            raise
        finally:
            _WATCHDOG.disarm(token)
        if self._expired:  # the answer came as the deadline cut the connection
            raise DeadlineError("no complete answer in time")


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


def bound_session(session: requests.Session, guard: WireGuard) -> None:
    """Put `guard`'s bounds on a requests session built by pypsrp (before its first send)."""
    send = session.send
    # An instance attribute, so only this host's session is changed (pypsrp calls
    # self.session.send); requests types `send` as a method.
    session.send = functools.partial(_bounded_send, send, guard)  # type: ignore[method-assign]
    for adapter in session.adapters.values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is None:
            continue
        manager.pool_classes_by_scheme = {
            scheme: functools.partial(_bounded_pool, make, guard)
            for scheme, make in manager.pool_classes_by_scheme.items()
        }


def _bounded_send(
    send: Callable[..., requests.Response],
    guard: WireGuard,
    request: requests.PreparedRequest,
    **kwargs: Any,
) -> requests.Response:
    kwargs["allow_redirects"] = False
    timeout = kwargs.get("timeout")
    read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
    with guard.exchange(read_timeout):
        response = send(request, **kwargs)
    if 300 <= response.status_code < 400:
        raise RedirectRefusedError(f"redirect refused (HTTP {response.status_code})")
    sealed_request = str(request.headers.get("Content-Type", "")).startswith(_SEALED_TYPES)
    answer_type = response.headers.get("Content-Type", "")
    sealed_answer = answer_type.startswith(_SEALED_TYPES)
    if sealed_request and not sealed_answer and response.status_code != 401 and response.content:
        raise UnsealedAnswerError("unsealed answer refused (message encryption was negotiated)")
    if answer_type.startswith("multipart/encrypted"):
        # pypsrp unframes with bare indexing (an IndexError for a frame without parts):
        # check the shape first, so a broken frame says what is wrong.
        found = _BOUNDARY.search(answer_type)
        split_frame(response.content, found.group(1) if found else BOUNDARY)
    return response


def _bounded_pool(make: Callable[..., Any], guard: WireGuard, *args: Any, **kwargs: Any) -> Any:
    pool = make(*args, **kwargs)
    pool.ConnectionCls = functools.partial(_bounded_connection, pool.ConnectionCls, guard)
    return pool


def _bounded_connection(
    make: Callable[..., Any], guard: WireGuard, *args: Any, **kwargs: Any
) -> Any:
    connection = make(*args, **kwargs)
    new_conn = connection._new_conn

    def watched_new_conn() -> socket.socket:
        sock: socket.socket = new_conn()
        guard.adopt(sock)
        return sock

    connection._new_conn = watched_new_conn
    connection.response_class = functools.partial(_BoundedResponse, limit=guard.max_answer_bytes)
    return connection


class _BoundedResponse(http.client.HTTPResponse):
    """http.client's response reading through a byte counter."""

    def __init__(self, sock: socket.socket, *args: Any, limit: int, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._counted = _CountingFile(self.fp, limit)
        self.fp = self._counted  # type: ignore[assignment]  # duck-typed reader

    def begin(self) -> None:
        super().begin()
        if not self._counted.blank_line_seen:
            # http.client takes the end of the stream for the end of the headers: a host
            # that closed mid-head would pass for an answer with headers missing.
            raise ConnectionResetError("the host closed the connection mid-answer")


class _CountingFile:
    """A reader that refuses to hand out more than `limit` bytes in total."""

    __slots__ = ("_raw", "_left", "blank_line_seen")

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._left = limit
        self.blank_line_seen = False

    def _cap(self, size: int | None) -> int:
        most = self._left + 1  # one byte past the bound proves the answer too large
        return most if size is None or size < 0 else min(size, most)

    def _take(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise AnswerTooLargeError("answer too large")
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._take(self._raw.read(self._cap(size)))

    def read1(self, size: int = -1) -> bytes:
        return self._take(self._raw.read1(self._cap(size)))

    def readline(self, size: int | None = -1) -> bytes:
        line = self._take(self._raw.readline(self._cap(size)))
        if line in (b"\r\n", b"\n"):
            self.blank_line_seen = True
        return line

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self._cap(len(buffer))]
        count: int = self._raw.readinto(view)
        self._left -= count
        if self._left < 0:
            raise AnswerTooLargeError("answer too large")
        return count

    def flush(self) -> None:
        self._raw.flush()

    def __getattr__(self, name: str) -> Any:
        # Anything else a library may ask of the socket file (readable, mode...), as is.
        return getattr(self._raw, name)

    def peek(self, size: int = 0) -> bytes:
        data: bytes = self._raw.peek(size)
        return data

    @property
    def raw(self) -> Any:
        """The socket reader below (pypsrp reaches through it for the TLS certificate it
        binds to NTLM/Kerberos: channel binding, negotiate.py _get_cbt_data)."""
        return self._raw.raw

    def fileno(self) -> int:
        number: int = self._raw.fileno()
        return number

    def close(self) -> None:
        self._raw.close()

    @property
    def closed(self) -> bool:
        state: bool = self._raw.closed
        return state


class _Watchdog:
    """One thread per process that cuts the connections of hosts past their deadline."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # After a fork only the forking thread survives: start afresh, lock included.
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, WireGuard]] = []
        self._cancelled: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, guard: WireGuard) -> int:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wire-watchdog")
                self._thread.daemon = True
                self._thread.start()
            token = next(self._tokens)
            heapq.heappush(self._heap, (deadline, token, guard))
            if self._heap[0][1] == token:
                self._cond.notify()
            return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._cancelled.add(token)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (
                    self._heap[0][1] in self._cancelled or self._heap[0][0] <= now
                ):
                    _, token, guard = heapq.heappop(self._heap)
                    if token in self._cancelled:
                        self._cancelled.discard(token)
                    else:
                        guard.expire()
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()
