"""MD4 for the NT hash: RFC 1320's test suite, and the NT hash pyspnego computes for
passwords of every kind (empty, long, non-ASCII, astral)."""

from __future__ import annotations

import pytest
from spnego._ntlm_raw.crypto import ntowfv1

from fleetlogoff.transport.md4 import md4, nt_hash

RFC_1320_SUITE = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "043f8582f241db351ce627e153e7f0e4",
    ),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize(("data", "digest"), RFC_1320_SUITE)
def test_rfc_1320_suite(data: bytes, digest: str) -> None:
    assert md4(data).hex() == digest


@pytest.mark.parametrize(
    "password",
    ["", "Passw0rd!", "Lab-Admin-Passw0rd!", "x" * 27, "y" * 28, "z" * 64, "Пароль€", "😀:a\\b"],
)
def test_the_nt_hash_is_pyspnegos(password: str) -> None:
    assert nt_hash(password) == ntowfv1(password)
