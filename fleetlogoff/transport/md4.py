"""MD4 (RFC 1320), for the NT hash of a password: NTLM's one use of it (MS-NLMP 3.3.1,
NTOWFv1 = MD4(UNICODE(password))).

OpenSSL 3 moved MD4 to its legacy provider, so hashlib.new("md4") fails on current
systems. pyspnego carries its own MD4, but importing pyspnego costs a process about 0.1 s
of start-up, which the default path (ntlm_client.py) otherwise never needs. The hash is
computed once per password per process (lean.ntlm_password), so speed does not matter
here; only correctness does (tests/unit/test_md4.py: RFC 1320's test suite, and pyspnego's
NT hash).
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF


def _rotate(value: int, bits: int) -> int:
    value &= _MASK
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def _f(x: int, y: int, z: int) -> int:
    return (x & y) | (~x & z)


def _g(x: int, y: int, z: int) -> int:
    return (x & y) | (x & z) | (y & z)


def _h(x: int, y: int, z: int) -> int:
    return x ^ y ^ z


def _compress(state: list[int], block: bytes) -> None:
    x = struct.unpack("<16I", block)
    a, b, c, d = state
    for i in range(16):  # round 1: F, in word order, shifts 3 7 11 19
        k = i
        s = (3, 7, 11, 19)[i % 4]
        a, b, c, d = d, _rotate(a + _f(b, c, d) + x[k], s), b, c
    for i in range(16):  # round 2: G, columns, + 0x5A827999, shifts 3 5 9 13
        k = (i % 4) * 4 + i // 4
        s = (3, 5, 9, 13)[i % 4]
        a, b, c, d = d, _rotate(a + _g(b, c, d) + x[k] + 0x5A827999, s), b, c
    for i in range(16):  # round 3: H, bit-reversed order, + 0x6ED9EBA1, shifts 3 9 11 15
        k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
        s = (3, 9, 11, 15)[i % 4]
        a, b, c, d = d, _rotate(a + _h(b, c, d) + x[k] + 0x6ED9EBA1, s), b, c
    for index, value in enumerate((a, b, c, d)):
        state[index] = (state[index] + value) & _MASK


def md4(data: bytes) -> bytes:
    """The MD4 digest of `data` (16 bytes)."""
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    padded = data + b"\x80" + bytes((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    for start in range(0, len(padded), 64):
        _compress(state, padded[start : start + 64])
    return struct.pack("<4I", *state)


def nt_hash(password: str) -> bytes:
    """NTOWFv1: the NT hash of a password."""
    return md4(password.encode("utf-16-le"))
