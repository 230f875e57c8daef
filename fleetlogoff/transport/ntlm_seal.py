"""NTLM message sealing for WinRM, straight on the keys pyspnego negotiated.

pyspnego's wrap_winrm/unwrap_winrm spend about three quarters of their time on flag
arithmetic with Python enums (the `context_attr` property and `NegotiateFlags` tests on
every message), not on cryptography: about 45 us of the client's CPU per message, eight
messages per host. Once the handshake is complete, the algorithm is fixed (MS-NLMP 3.4.4.2
"MAC with Extended Session Security" and 3.4.3 "Message Confidentiality", key exchange
negotiated), so this does exactly that on the context's own RC4 handles and signing keys:

    sealed    = RC4(handle, message)
    checksum  = RC4(handle, HMAC_MD5(signing_key, seq_num || message)[0..7])
    signature = 0x00000001 || checksum || seq_num;  seq_num += 1

The keys come from pyspnego's context or from this project's own handshake
(ntlm_client.py, `from_keys`). pyspnego stays the reference: a pyspnego context without
ESS, key exchange, signing and sealing (never pyspnego's NTLMv2 client, but possible) is
wrapped by pyspnego itself, and tests/unit/test_ntlm_seal.py checks every direction
against pyspnego's acceptor.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher

try:  # ARC4 moved to cryptography's "decrepit" algorithms in 43
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
except ImportError:  # pragma: no cover - cryptography 41 and 42
    from cryptography.hazmat.primitives.ciphers.algorithms import ARC4

_VERSION = b"\x01\x00\x00\x00"
# MS-NLMP 2.2.2.5 NEGOTIATE flags the fast path relies on.
_SIGN = 0x00000010
_SEAL = 0x00000020
_EXTENDED_SESSION_SECURITY = 0x00080000
_KEY_EXCH = 0x40000000
_REQUIRED = _SIGN | _SEAL | _EXTENDED_SESSION_SECURITY | _KEY_EXCH


def rc4_stream(key: bytes) -> Callable[[bytes], bytes]:
    """An RC4 key stream: each call encrypts (or decrypts) the next bytes."""
    update: Callable[[bytes], bytes] = Cipher(ARC4(key), mode=None).encryptor().update
    return update


class SealError(Exception):
    """An answer whose signature does not verify (tampered, replayed or out of order)."""


class NtlmSealer:
    """Seals outgoing and unseals incoming messages of one complete NTLM context.

    Holds the context's sequence numbers from here on: use either this or the context's
    own wrap/unwrap for a connection, never both.
    """

    def __init__(self, context: Any) -> None:
        self._context = context
        self._seq_out = self._seq_in = 0
        try:
            flags = int(context._context_attr)
            # RC4Handle wraps a cryptography encryptor; its update is the C call.
            self._out = context._handle_out._handle.update
            self._in = context._handle_in._handle.update
            self._key_out: bytes = bytes(context._sign_key_out)
            self._key_in: bytes = bytes(context._sign_key_in)
        except (AttributeError, TypeError):  # not pyspnego's NTLM context as we know it
            self._fast = False
        else:
            self._fast = flags & _REQUIRED == _REQUIRED

    @classmethod
    def from_keys(
        cls, *, sign_out: bytes, sign_in: bytes, seal_out: bytes, seal_in: bytes
    ) -> NtlmSealer:
        """A sealer on keys negotiated elsewhere (ntlm_client.py): always the direct path,
        which is the only one that client negotiates."""
        sealer = cls.__new__(cls)
        sealer._context = None
        sealer._seq_out = sealer._seq_in = 0
        sealer._out, sealer._in = rc4_stream(seal_out), rc4_stream(seal_in)
        sealer._key_out, sealer._key_in = sign_out, sign_in
        sealer._fast = True
        return sealer

    @property
    def fast(self) -> bool:
        """Whether messages take the direct path (else pyspnego's)."""
        return self._fast

    def wrap(self, message: bytes) -> tuple[bytes, bytes]:
        """(signature, sealed message)."""
        if not self._fast:
            result = self._context.wrap_winrm(message)
            return bytes(result.header), bytes(result.data)
        sequence = struct.pack("<I", self._seq_out)
        self._seq_out += 1
        sealed: bytes = self._out(message)
        digest = hmac.new(self._key_out, sequence + message, hashlib.md5).digest()
        checksum: bytes = self._out(digest[:8])
        return _VERSION + checksum + sequence, sealed

    def unwrap(self, signature: bytes, sealed: bytes) -> bytes:
        """The message; SealError when its signature does not verify."""
        if not self._fast:
            try:
                plain: bytes = self._context.unwrap_winrm(signature, sealed)
            except Exception as exc:  # pyspnego raises many types for a bad seal
                raise SealError(type(exc).__name__) from None
            return plain
        sequence = struct.pack("<I", self._seq_in)
        self._seq_in += 1
        message: bytes = self._in(sealed)
        digest = hmac.new(self._key_in, sequence + message, hashlib.md5).digest()
        expected = _VERSION + self._in(digest[:8]) + sequence
        if not hmac.compare_digest(expected, signature):
            raise SealError("bad signature")
        return message
