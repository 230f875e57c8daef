"""HTTP message encryption framing (MS-WSMV 2.2.9.1.1, winrm-wire.md §4).

One framing satisfies every client: a tab before each part header (pypsrp strips the literal
"\\tContent-Type: application/octet-stream\\r\\n"), the literal
protocol="application/HTTP-SPNEGO-session-encrypted" (pywinrm needs it), and the boundary
parameter quoted and last (pypsrp's greedy regex).

The protocol label names the auth scheme (MS-WSMV 2.2.9.1.1, 2.2.9.1.2): SPNEGO for the
Negotiate scheme, whether it ended in NTLM or Kerberos, and Kerberos for the raw Kerberos
scheme. Windows answers with the label the request carried; so does the lab.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from fleetlogoff.lab.server_errors import LabError

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
KERBEROS_PROTOCOL = "application/HTTP-Kerberos-session-encrypted"
PROTOCOLS = (PROTOCOL, KERBEROS_PROTOCOL)
BOUNDARY = "Encrypted Boundary"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="{BOUNDARY}"'
_PROTOCOL_PARAM = re.compile(r'protocol\s*=\s*"?([^";]+)"?', re.IGNORECASE)
_LENGTH = re.compile(rb"Length=(\d+)")
# The part header and the closing boundary, found as the patterns
# rb"\s*Content-Type: application/octet-stream\r\n" and rb"--\s*Encrypted Boundary--\r\n\Z"
# would find them, without scanning the ciphertext with a regular expression.
_OCTET_LINE = b"Content-Type: application/octet-stream\r\n"
_CLOSE = BOUNDARY.encode() + b"--\r\n"
_SPACE = frozenset(b" \t\n\r\f\v")  # what \s matches in a bytes pattern
_PREFIX = struct.Struct("<I")


class EncryptionError(LabError):
    """An encrypted body could not be unwrapped (bad framing, length or seal)."""


class WinrmWrapper(Protocol):
    """The part of a pyspnego context used for WinRM sealing."""

    def wrap_winrm(self, data: bytes) -> tuple[bytes, bytes, int]:
        """Seal data; returns (header/signature, sealed data, padding length)."""
        ...

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
        """Unseal data with its header/signature."""
        ...


@dataclass(frozen=True, slots=True)
class SealedMessage:
    """One encrypted part: signature, ciphertext and the declared plaintext length."""

    signature: bytes
    ciphertext: bytes
    length: int


def is_encrypted(content_type: str) -> bool:
    """True when a Content-Type announces a multipart/encrypted WinRM body."""
    return content_type.strip().lower().startswith("multipart/encrypted")


def content_type(protocol: str = PROTOCOL) -> str:
    """The Content-Type of a sealed body with this protocol label."""
    return f'multipart/encrypted;protocol="{protocol}";boundary="{BOUNDARY}"'


def request_protocol(content_type_value: str) -> str:
    """The protocol label of a multipart/encrypted Content-Type (SPNEGO when absent).

    Raises:
        EncryptionError: a label the lab does not speak (CredSSP, anything else).
    """
    # Every request of a connection carries the same value: cache the short ones (a
    # hostile client's long header must not be kept).
    if len(content_type_value) <= 200:
        return _cached_request_protocol(content_type_value)
    return _request_protocol(content_type_value)


@lru_cache(maxsize=32)
def _cached_request_protocol(content_type_value: str) -> str:
    return _request_protocol(content_type_value)


def _request_protocol(content_type_value: str) -> str:
    match = _PROTOCOL_PARAM.search(content_type_value)
    if match is None:
        return PROTOCOL
    label = match.group(1).strip()
    for known in PROTOCOLS:
        if label.lower() == known.lower():
            return known
    raise EncryptionError(f"unsupported encryption protocol {label!r}")


def parse_sealed(body: bytes) -> SealedMessage:
    """Split a multipart/encrypted body into signature, ciphertext and declared length.

    Raises:
        EncryptionError: the framing is not the MS-WSMV 2.2.9.1.1 shape.
    """
    # Cut at the octet-stream header and the closing boundary rather than splitting on every
    # boundary: ciphertext is arbitrary bytes and could contain the boundary text
    # (tests/lab/test_encryption_framing.py: the same cuts as the patterns above).
    found = body.find(_OCTET_LINE)
    if found < 0:
        raise EncryptionError("encrypted body has no application/octet-stream part")
    length_match = _LENGTH.search(body, 0, _skip_space_back(body, found))
    if length_match is None:
        raise EncryptionError("encrypted body has no OriginalContent Length")
    payload = body[found + len(_OCTET_LINE) :]
    if payload.endswith(_CLOSE):
        space = _skip_space_back(payload, len(payload) - len(_CLOSE))
        if space >= 2 and payload[space - 2 : space] == b"--":
            payload = payload[: space - 2]
    if len(payload) < 4:
        raise EncryptionError("encrypted part is shorter than its length prefix")
    (sig_len,) = _PREFIX.unpack_from(payload)
    signature = payload[4 : 4 + sig_len]
    ciphertext = payload[4 + sig_len :]
    return SealedMessage(signature, ciphertext, int(length_match.group(1)))


def _skip_space_back(data: bytes, end: int) -> int:
    """The start of the run of ASCII whitespace (a regular expression's \\s) ending at end."""
    while end > 0 and data[end - 1] in _SPACE:
        end -= 1
    return end


def unseal(context: WinrmWrapper, body: bytes) -> bytes:
    """Unframe and decrypt a request body.

    Raises:
        EncryptionError: bad framing, a seal that does not verify, or a length mismatch.
    """
    sealed = parse_sealed(body)
    try:
        plain = context.unwrap_winrm(sealed.signature, sealed.ciphertext)
    except Exception as exc:  # pyspnego raises several unrelated types for a bad seal
        raise EncryptionError(f"cannot unseal request ({type(exc).__name__})") from None
    if len(plain) != sealed.length:
        raise EncryptionError(f"decrypted {len(plain)} bytes, header announced {sealed.length}")
    return plain


def seal(context: WinrmWrapper, plain: bytes, protocol: str = PROTOCOL) -> bytes:
    """Encrypt and frame a reply body (the caller sends it with content_type(protocol)).

    The Length is the plaintext plus the padding the cipher reports: 0 for NTLM's RC4 and
    Kerberos AES (kerberos.md), which pypsrp and pywinrm both add back before comparing.
    """
    signature, data, padding = context.wrap_winrm(plain)
    head, middle = _frame_parts(protocol)
    return b"".join(
        (
            head,
            str(len(plain) + padding).encode(),
            middle,
            _PREFIX.pack(len(signature)),
            signature,
            data,
            _FRAME_END,
        )
    )


_FRAME_END = f"--{BOUNDARY}--\r\n".encode()


@lru_cache(maxsize=8)
def _frame_parts(protocol: str) -> tuple[bytes, bytes]:
    """The framing before and after the Length digits (the same bytes every time)."""
    head = (
        f"--{BOUNDARY}\r\n\tContent-Type: {protocol}\r\n"
        "\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
    )
    middle = f"\r\n--{BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n"
    return head.encode(), middle.encode()
