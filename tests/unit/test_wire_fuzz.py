"""Fuzzing what a host sends back (hypothesis, bounded and derandomized): the HTTP/1.1
answer reader, the message-encryption frame reader, and the lean transport's handling of
whole answers. Whatever the bytes: a Response, or one of the documented errors, which
classify into one line with a kind. Never another exception, never a hang."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlogoff.errors import TransportError
from fleetlogoff.model import Connection, Host, Secret
from fleetlogoff.transport.http11 import (
    MAX_HEAD_BYTES,
    DeadlineError,
    HttpProtocolError,
    Response,
    _read_response,
    _Reader,
)
from fleetlogoff.transport.lean import LeanSession
from fleetlogoff.transport.ntlm_http import (
    FramingError,
    HttpAuthError,
    HttpStatusError,
    NtlmHttpTransport,
    seal,
    unseal,
)
from fleetlogoff.transport.ntlm_seal import SealError
from fleetlogoff.transport.winrm import classify_error

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
READ_ERRORS = (HttpProtocolError, ConnectionResetError, DeadlineError)
KINDS = {"timeout", "unreachable", "reset", "tls", "protocol", "auth_failed"}


class XorContext:
    """A sealer stand-in: 16-byte signature, reversible seal, checked signature."""

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        return b"S" * 16, bytes(b ^ 0x5A for b in data)

    def unwrap(self, header: bytes, data: bytes) -> bytes:
        if header != b"S" * 16:
            raise SealError("bad signature")
        return bytes(b ^ 0x5A for b in data)


def _read_bytes(answer: bytes, max_body: int = 4096) -> Response:
    """Read one answer from a socket whose peer wrote `answer` and closed."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(answer)
        theirs.shutdown(socket.SHUT_WR)
        return _read_response(_Reader(ours), time.monotonic() + 10, max_body)


_token = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
_header = st.tuples(
    st.sampled_from(["Content-Length", "Transfer-Encoding", "Content-Type", "Connection"])
    | _token.filter(lambda t: ":" not in t),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
)


@st.composite
def http_answers(draw: Any) -> bytes:
    """Answers that are nearly HTTP: a status line, headers, a framed body, then cut or
    damaged anywhere."""
    status = draw(
        st.sampled_from([b"HTTP/1.1 200 ", b"HTTP/1.1 401 ", b"HTTP/1.0 500 Error"])
        | st.binary(max_size=20)
    )
    headers = draw(st.lists(_header, max_size=6))
    body: bytes = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "wrong-length", "chunked", "close", "none"]))
    lines = [status] + [f"{k}: {v}".encode("latin-1") for k, v in headers]
    if framing == "length":
        lines.append(b"Content-Length: %d" % len(body))
    elif framing == "wrong-length":
        lines.append(b"Content-Length: " + draw(st.sampled_from([b"-1", b"x", b"9" * 30, b""])))
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        size = draw(st.sampled_from([b"%x" % len(body), b"zz", b"-5", b"ffffffffffff"]))
        body = size + b"\r\n" + body + draw(st.sampled_from([b"\r\n0\r\n\r\n", b"", b"\r\n"]))
    answer = b"\r\n".join(lines) + b"\r\n\r\n" + body
    cut = draw(st.integers(0, len(answer)))
    return answer[:cut] if draw(st.booleans()) else answer


@FUZZ
@given(http_answers())
def test_near_http_answers_read_or_fail_cleanly(answer: bytes) -> None:
    try:
        response = _read_bytes(answer)
    except READ_ERRORS as exc:
        kind, reason = classify_error(exc)
        assert kind in KINDS and "\n" not in reason
        return
    assert 100 <= response.status <= 999
    declared = response.header("content-length")
    if declared and "chunked" not in response.header("transfer-encoding").lower():
        assert len(response.body) == int(declared)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_read_or_fail_cleanly(answer: bytes) -> None:
    with contextlib.suppress(*READ_ERRORS):
        _read_bytes(answer)


def test_an_endless_head_is_refused_at_its_bound() -> None:
    endless = b"HTTP/1.1 200 \r\n" + b"X: " + b"a" * (MAX_HEAD_BYTES + 10)
    try:
        _read_bytes(endless)
    except HttpProtocolError as exc:
        assert "too large" in str(exc)
    else:
        raise AssertionError("an endless head was accepted")


@st.composite
def sealed_bodies(draw: Any) -> bytes:
    """A real frame (XorContext) with one damage: cut, bytes flipped or spliced."""
    body = seal(XorContext(), draw(st.binary(min_size=1, max_size=200)))
    damage = draw(st.sampled_from(["none", "cut", "flip", "splice", "length", "siglen"]))
    if damage == "cut":
        return body[: draw(st.integers(0, len(body)))]
    if damage == "flip":
        at = draw(st.integers(0, len(body) - 1))
        return body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]
    if damage == "splice":
        at = draw(st.integers(0, len(body)))
        extra: bytes = draw(st.binary(max_size=40))
        return body[:at] + extra + body[at:]
    if damage == "length":
        digit: bytes = draw(st.sampled_from([b"9", b"-", b"x"]))
        return body.replace(b"Length=", b"Length=" + digit)
    if damage == "siglen":
        marker = b"application/octet-stream\r\n"
        at = body.index(marker) + len(marker)
        size = struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
        return body[:at] + size + body[at + 4 :]
    return body


@FUZZ
@given(sealed_bodies() | st.binary(max_size=400))
def test_frames_unseal_or_fail_cleanly(body: bytes) -> None:
    try:
        plain = unseal(XorContext(), body)
    except FramingError as exc:
        kind, reason = classify_error(exc)
        assert kind == "protocol" and reason.startswith("message encryption: ")
        return
    assert unseal(XorContext(), seal(XorContext(), plain)) == plain  # a frame that held


class _Canned:
    """An HttpConnection stand-in that answers with one canned Response."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.socket: object = object()

    def post(self, *args: object, **kwargs: object) -> Response:
        return self.response

    def close(self) -> None:
        return None


@FUZZ
@given(
    st.integers(100, 599),
    st.sampled_from(["", "application/soap+xml", "multipart/encrypted;boundary=x", "text/html"]),
    sealed_bodies() | st.binary(max_size=200),
)
def test_whole_answers_after_authentication(status: int, content_type: str, body: bytes) -> None:
    transport = NtlmHttpTransport("127.0.0.1", 1, username="u", password="p")
    connection = _Canned(Response(status, (("content-type", content_type),), body))
    transport._connection = connection  # type: ignore[assignment]  # the stand-in
    transport._sealer = XorContext()
    transport._authenticated_socket = connection.socket
    try:
        transport.send(b"<s:Envelope/>")
    except (HttpAuthError, HttpStatusError, FramingError, HttpProtocolError) as exc:
        if isinstance(exc, HttpStatusError):
            assert not 200 <= status < 300
        elif isinstance(exc, HttpAuthError):
            assert status == 401
        return
    assert 200 <= status < 300


_xml_answers = st.sampled_from(
    [
        b"",
        b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body/></s:Envelope>",
        b"<a><b>" * 50,
        b"<?xml version='1.0'?><x>&lt;</x>",
        b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>',
        b"\xff\xfe<\x00a\x00>\x00",
    ]
) | st.binary(max_size=300)


@FUZZ
@given(st.integers(100, 599), _xml_answers)
def test_a_whole_session_fails_as_one_transport_error(status: int, plain: bytes) -> None:
    """Whatever a host answers once authenticated (sealed correctly, so only the content
    is hostile), opening the shell ends in a TransportError with a kind and one line."""
    connection = Connection("127.0.0.1", 1, username="u", password=Secret("p"))
    session = LeanSession(Host("h", ("all",), connection), deadline=time.monotonic() + 5)
    sealer = XorContext()
    content_type = "multipart/encrypted;protocol=x;boundary=y"
    canned = _Canned(Response(status, (("content-type", content_type),), seal(sealer, plain)))
    session._transport._connection = canned  # type: ignore[assignment]  # the stand-in
    session._transport._sealer = sealer
    session._transport._authenticated_socket = canned.socket
    try:
        session.open()
    except TransportError as exc:
        assert exc.kind in KINDS | {"auth_unsupported", "access_denied"}
        assert "\n" not in exc.reason and len(exc.reason) < 400
    else:
        raise AssertionError(f"a shell opened on {plain[:40]!r}")
