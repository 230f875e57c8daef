"""encryption.parse_sealed cuts a multipart/encrypted body exactly where the regular
expressions it replaced cut it, on well-formed, odd and random bodies."""

from __future__ import annotations

import random
import re
import struct

import pytest

from fleetlogoff.lab import encryption

_TRAILER = re.compile(rb"--\s*Encrypted Boundary--\r\n\Z")
_LENGTH = re.compile(rb"Length=(\d+)")
_OCTET_HEADER = re.compile(rb"\s*Content-Type: application/octet-stream\r\n")


def _reference(body: bytes) -> encryption.SealedMessage | str:
    """parse_sealed as it was, with the patterns (an error's message instead of raising)."""
    octet = _OCTET_HEADER.search(body)
    if octet is None:
        return "no octet-stream"
    length_match = _LENGTH.search(body, 0, octet.start())
    if length_match is None:
        return "no Length"
    payload = body[octet.end() :]
    trailer = _TRAILER.search(payload)
    if trailer is not None:
        payload = payload[: trailer.start()]
    if len(payload) < 4:
        return "short"
    (sig_len,) = struct.unpack("<I", payload[:4])
    return encryption.SealedMessage(
        payload[4 : 4 + sig_len], payload[4 + sig_len :], int(length_match.group(1))
    )


def _ours(body: bytes) -> encryption.SealedMessage | str:
    try:
        return encryption.parse_sealed(body)
    except encryption.EncryptionError as exc:
        message = str(exc)
        for short, text in (
            ("no octet-stream", "octet-stream"),
            ("no Length", "Length"),
            ("short", "shorter"),
        ):
            if text in message:
                return short
        raise


def _body(signature: bytes, data: bytes, *, gap: bytes = b"\t", close: bytes = b"--") -> bytes:
    return b"".join(
        (
            b"--Encrypted Boundary\r\n",
            b"\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n",
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n" % len(data),
            b"--Encrypted Boundary\r\n" + gap + b"Content-Type: application/octet-stream\r\n",
            struct.pack("<I", len(signature)),
            signature,
            data,
            close + b"Encrypted Boundary--\r\n",
        )
    )


_PIECES = [
    b" ", b"\t", b"\r\n", b"\x0b", b"\x0c", b"--", b"-", b"Encrypted Boundary--\r\n",
    b"Content-Type: application/octet-stream\r\n", b"Length=12", b"Length=", b"7", b"\x00",
    b"\x10\x00\x00\x00", b"x",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_random_bodies_cut_as_the_patterns_cut_them(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        body = b"".join(rng.choice(_PIECES) for _ in range(rng.randrange(0, 14)))
        assert _ours(body) == _reference(body), body


@pytest.mark.parametrize(
    ("gap", "close"),
    [(b"\t", b"--"), (b"", b"--"), (b" \r\n\t", b"-- \t"), (b"\t", b"----"), (b"\t", b"")],
)
def test_framings_cut_as_the_patterns_cut_them(gap: bytes, close: bytes) -> None:
    rng = random.Random(7)
    for size in (0, 1, 16, 300):
        signature = rng.randbytes(16)
        for data in (rng.randbytes(size), b"--Encrypted Boundary--\r\n" * 2, b" " * size):
            body = _body(signature, data, gap=gap, close=close)
            assert _ours(body) == _reference(body)
