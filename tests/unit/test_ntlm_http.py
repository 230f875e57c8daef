"""The client side of WinRM message-encryption framing (MS-WSMV 2.2.9.1.1.2.2)."""

from __future__ import annotations

import pytest

from fleetlogoff.transport.ntlm_http import FramingError, seal, unseal
from fleetlogoff.transport.ntlm_seal import SealError


class XorContext:
    """Stands in for a sealer: a 16-byte signature and a reversible "seal"."""

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        return b"S" * 16, bytes(b ^ 0x5A for b in data)

    def unwrap(self, header: bytes, data: bytes) -> bytes:
        if header != b"S" * 16:
            raise SealError("bad signature")
        return bytes(b ^ 0x5A for b in data)


def test_seal_then_unseal_round_trips_and_has_the_windows_shape() -> None:
    message = b"<s:Envelope>" + "é".encode() * 50 + b"</s:Envelope>"
    body = seal(XorContext(), message)
    assert body.startswith(b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO")
    assert b"Length=%d\r\n" % len(message) in body
    assert b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n" in body
    assert body.endswith(b"--Encrypted Boundary--\r\n")
    assert unseal(XorContext(), body) == message


def test_a_wrong_declared_length_is_refused() -> None:
    body = seal(XorContext(), b"hello").replace(b"Length=5", b"Length=6")
    with pytest.raises(FramingError, match="header says 6"):
        unseal(XorContext(), body)


def test_a_body_without_parts_is_refused() -> None:
    with pytest.raises(FramingError, match="2 MIME parts"):
        unseal(XorContext(), b"<html>proxy error</html>")
