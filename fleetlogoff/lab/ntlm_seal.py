"""The lab's NTLM message sealing for WinRM, straight on the keys pyspnego's acceptor negotiated.

pyspnego's wrap_winrm/unwrap_winrm spend most of their time on flag arithmetic with Python
enums (`context_attr`, `NegotiateFlags` tests) and a fresh `hmac.new` object per message,
not on cryptography. Once an NTLM handshake is complete the algorithm is fixed (MS-NLMP
3.4.4.2 "MAC with Extended Session Security", 3.4.3 "Message Confidentiality", key exchange
negotiated), so this does exactly that on the acceptor's own RC4 handles and signing keys:

    sealed    = RC4(handle, message)
    checksum  = RC4(handle, HMAC_MD5(signing_key, seq_num || message)[0..7])
    signature = 0x00000001 || checksum || seq_num;  seq_num += 1

The acceptor unseals the same way and refuses a signature that differs. Like pyspnego, a
refused message still spends its sequence number and its RC4 bytes (the stream stays where
the client's is not, so the connection cannot recover: as on Windows, the client must start
over). A context without ESS, key exchange, signing and sealing, or not pyspnego's NTLM
context as this module knows it (SPNEGO, Kerberos), is sealed by pyspnego itself.
tests/lab/test_ntlm_seal.py checks every direction against pyspnego, byte for byte.

The lab keeps its own copy rather than sharing the client's (fleetlogoff/transport): the
simulated Windows side must not change when the client's does.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from typing import Any

_VERSION = b"\x01\x00\x00\x00"
# MS-NLMP 2.2.2.5 NEGOTIATE flags the direct path relies on.
_SIGN = 0x00000010
_SEAL = 0x00000020
_EXTENDED_SESSION_SECURITY = 0x00080000
_KEY_EXCH = 0x40000000
_REQUIRED = _SIGN | _SEAL | _EXTENDED_SESSION_SECURITY | _KEY_EXCH
_SEQUENCE = struct.Struct("<I")


class BadSeal(Exception):  # noqa: N818 (mapped to EncryptionError by the caller)
    """A request whose signature does not verify (tampered, replayed or out of order)."""


class AcceptorSealer:
    """Unseals requests and seals replies of one complete acceptor context, in the
    WinrmWrapper shape encryption.py uses (wrap_winrm/unwrap_winrm).

    Holds the context's sequence numbers from here on: build it right after the handshake,
    before any message, and use it instead of the context's own wrap/unwrap from then on.
    """

    __slots__ = ("_context", "_fast", "_in", "_key_in", "_key_out", "_out", "_seq_in", "_seq_out")

    def __init__(self, context: Any) -> None:
        self._context = context
        self._seq_out = self._seq_in = 0
        self._fast = False
        try:
            if type(context).__name__ != "NTLMProxy":
                return
            flags = int(context._context_attr)
            # RC4Handle wraps a cryptography encryptor; its update is the C call.
            self._out = context._handle_out._handle.update
            self._in = context._handle_in._handle.update
            self._key_out: bytes = bytes(context._sign_key_out)
            self._key_in: bytes = bytes(context._sign_key_in)
        except (AttributeError, TypeError):  # not pyspnego's NTLM context as we know it
            return
        self._fast = flags & _REQUIRED == _REQUIRED

    @classmethod
    def direct(
        cls,
        seal_out: Callable[[bytes], bytes],
        seal_in: Callable[[bytes], bytes],
        key_out: bytes,
        key_in: bytes,
    ) -> AcceptorSealer:
        """A sealer on keys the lab derived itself (ntlm_acceptor.py): the RC4 streams'
        update functions and the signing keys, server-to-client first."""
        sealer = cls(None)
        sealer._out, sealer._in = seal_out, seal_in
        sealer._key_out, sealer._key_in = key_out, key_in
        sealer._fast = True
        return sealer

    @property
    def fast(self) -> bool:
        """Whether messages take the direct path (else pyspnego's)."""
        return self._fast

    def wrap_winrm(self, data: bytes) -> tuple[bytes, bytes, int]:
        """(signature, sealed data, padding 0), as pyspnego's wrap_winrm."""
        if not self._fast:
            result = self._context.wrap_winrm(data)
            return bytes(result.header), bytes(result.data), int(result.padding_length)
        sequence = _SEQUENCE.pack(self._seq_out)
        self._seq_out += 1
        sealed: bytes = self._out(data)
        checksum: bytes = self._out(hmac.digest(self._key_out, sequence + data, "md5")[:8])
        return _VERSION + checksum + sequence, sealed, 0

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
        """The plain request; raises when its signature does not verify."""
        if not self._fast:
            plain: bytes = self._context.unwrap_winrm(header, data)
            return plain
        sequence = _SEQUENCE.pack(self._seq_in)
        self._seq_in += 1
        message: bytes = self._in(data)
        checksum = self._in(hmac.digest(self._key_in, sequence + message, "md5")[:8])
        if not hmac.compare_digest(_VERSION + checksum + sequence, header):
            raise BadSeal("bad signature")
        return message
