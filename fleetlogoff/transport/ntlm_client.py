"""The client side of NTLMv2 for WinRM's default path (MS-NLMP): the NEGOTIATE and
AUTHENTICATE messages and the sealing keys of the session.

Why not pyspnego's NTLM context: it spends most of the handshake on Python enum
arithmetic and generic message classes: 0.40 ms per handshake measured alone (with the
sealer and one message; this module: 0.07 ms); in a serial read of 200 lab hosts the
authentication step, its two HTTP exchanges included, went from 1.16-1.19 to 0.43-0.67 ms
of CPU per host (benchmarks/README.md), for a handshake whose shape WinRM fixes: NTLMv2 with
extended session security, key exchange, 128-bit signing and sealing, and a MIC when
the server sends a timestamp (every Windows since Server 2008). This module writes exactly
that and refuses anything else with one line (a server that will not sign and seal cannot
carry WinRM's encrypted messages anyway). pyspnego stays the reference: tests check every
message written here with pyspnego's own acceptor, and pyspnego still runs the handshake
for a password that is not in hash form (an empty one: ntlm_http._handshake_for).

A server's challenge is untrusted input: every length and offset is checked against the
message, AV pairs must be well formed and end with MsvAvEOL, and sizes are bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fleetlogoff.transport.ntlm_seal import NtlmSealer, rc4_stream

SIGNATURE = b"NTLMSSP\x00"
# MS-NLMP 2.2.2.5 NEGOTIATE flags.
UNICODE = 0x00000001
OEM = 0x00000002
REQUEST_TARGET = 0x00000004
SIGN = 0x00000010
SEAL = 0x00000020
NTLM = 0x00000200
ALWAYS_SIGN = 0x00008000
EXTENDED_SESSION_SECURITY = 0x00080000
TARGET_INFO = 0x00800000
VERSION = 0x02000000
KEY_128 = 0x20000000
KEY_EXCH = 0x40000000
KEY_56 = 0x80000000
# What the client asks for: what pyspnego asks for WinRM (wrapping_winrm), so a host
# answers this client as it answered pypsrp's.
NEGOTIATE_FLAGS = (
    UNICODE | OEM | REQUEST_TARGET | SIGN | SEAL | NTLM | ALWAYS_SIGN
    | EXTENDED_SESSION_SECURITY | VERSION | KEY_128 | KEY_EXCH | KEY_56
)  # fmt: skip
# What the server must grant for this client to go on (WinRM's encrypted messages).
REQUIRED_FLAGS = UNICODE | SIGN | SEAL | EXTENDED_SESSION_SECURITY | KEY_128 | KEY_EXCH
# MS-NLMP 2.2.2.10 VERSION: for debugging only; no product version is claimed, the
# revision is NTLMSSP_REVISION_W2K3 as every current implementation sends.
_VERSION = bytes(7) + b"\x0f"
# MS-NLMP 2.2.2.1 AV_PAIR ids.
AV_EOL = 0
AV_FLAGS = 6
AV_TIMESTAMP = 7
AV_TARGET_NAME = 9
_AV_FLAG_MIC = 0x00000002
MAX_CHALLENGE_BYTES = 8192  # a real one is about 200 bytes; target info is a few names
_MAGIC = {
    "sign_out": b"session key to client-to-server signing key magic constant\x00",
    "sign_in": b"session key to server-to-client signing key magic constant\x00",
    "seal_out": b"session key to client-to-server sealing key magic constant\x00",
    "seal_in": b"session key to server-to-client sealing key magic constant\x00",
}
# Windows FILETIME: 100 ns ticks since 1601-01-01 UTC.
_FILETIME_EPOCH_OFFSET = 116444736000000000


class NtlmError(Exception):
    """The server's challenge is malformed, or it will not grant what WinRM needs."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """The parts of a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) the client uses."""

    flags: int
    server_challenge: bytes
    target_info: tuple[tuple[int, bytes], ...]  # AV pairs without the final MsvAvEOL

    def value(self, av_id: int) -> bytes | None:
        return next((v for i, v in self.target_info if i == av_id), None)


def split_user(username: str) -> tuple[str, str]:
    """(domain, user): `DOMAIN\\user` splits; a UPN or a bare name has no domain, as
    pyspnego and Windows clients send them."""
    domain, backslash, user = username.partition("\\")
    return (domain, user) if backslash else ("", username)


@lru_cache(maxsize=1)
def workstation_name() -> str:
    """This controller's name as Windows logs it (event 4624's Workstation Name)."""
    name = os.environ.get("NETBIOS_COMPUTER_NAME") or socket.gethostname().split(".")[0]
    return name.upper()


@lru_cache(maxsize=32)
def response_key(nt_hash: bytes, user: str, domain: str) -> bytes:
    """NTOWFv2 (MS-NLMP 3.3.2): the same for every host with the same account."""
    identity = (user.upper() + domain).encode("utf-16-le")
    return hmac.new(nt_hash, identity, hashlib.md5).digest()


def parse_challenge(message: bytes) -> Challenge:
    """Read a CHALLENGE_MESSAGE; NtlmError for anything malformed."""
    if len(message) > MAX_CHALLENGE_BYTES:
        raise NtlmError(f"NTLM challenge too large ({len(message)} bytes)")
    if len(message) < 48 or message[:8] != SIGNATURE:
        raise NtlmError("not an NTLM challenge")
    (kind,) = struct.unpack_from("<I", message, 8)
    if kind != 2:
        raise NtlmError(f"NTLM message type {kind} where a challenge (2) was expected")
    (flags,) = struct.unpack_from("<I", message, 20)
    server_challenge = message[24:32]
    pairs: tuple[tuple[int, bytes], ...] = ()
    if flags & TARGET_INFO:
        pairs = _read_av_pairs(_field(message, 40, "target info"))
    return Challenge(flags, server_challenge, pairs)


def _field(message: bytes, at: int, what: str) -> bytes:
    """A (length, max length, offset) field's bytes, which must lie inside the message."""
    length, _, offset = struct.unpack_from("<HHI", message, at)
    if offset + length > len(message):
        raise NtlmError(f"NTLM challenge {what} runs past the message")
    return message[offset : offset + length]


def _read_av_pairs(data: bytes) -> tuple[tuple[int, bytes], ...]:
    pairs: list[tuple[int, bytes]] = []
    at = 0
    while at + 4 <= len(data):
        av_id, length = struct.unpack_from("<HH", data, at)
        at += 4
        if at + length > len(data):
            raise NtlmError("NTLM challenge target info runs past its field")
        if av_id == AV_EOL:
            return tuple(pairs)
        pairs.append((av_id, data[at : at + length]))
        at += length
    raise NtlmError("NTLM challenge target info does not end with MsvAvEOL")


class NtlmClient:
    """One NTLMv2 handshake: negotiate(), authenticate(challenge), then sealer().

    Args:
        username: `DOMAIN\\user`, a UPN, or a local account name.
        nt_hash: the account's NT hash (MD4 of the UTF-16 password).
        target_host: the host as the client names it (the SPN's host part).
        random: where the client challenge and session key come from (tests fix it).
        clock: seconds since the epoch, for the response's time when the server sends none.
    """

    def __init__(
        self,
        username: str,
        nt_hash: bytes,
        *,
        target_host: str,
        service: str = "http",
        random: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._domain, self._user = split_user(username)
        self._nt_hash = nt_hash
        self._spn = f"{service}/{target_host}"
        self._random = random
        self._clock = clock
        self._negotiate = b""
        self._session_key: bytes | None = None
        self._flags = 0

    def negotiate(self) -> bytes:
        """The NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1): no domain, no workstation."""
        self._negotiate = (
            SIGNATURE
            + struct.pack("<II", 1, NEGOTIATE_FLAGS)
            + struct.pack("<HHI", 0, 0, 40) * 2
            + _VERSION
        )
        return self._negotiate

    def authenticate(self, challenge_message: bytes) -> bytes:
        """The AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3, 3.1.5.1.2) for a server's challenge."""
        if not self._negotiate:
            raise NtlmError("authenticate before negotiate")
        challenge = parse_challenge(challenge_message)
        missing = REQUIRED_FLAGS & ~challenge.flags
        if missing:
            raise NtlmError(
                f"the host will not sign and seal NTLM messages as WinRM needs "
                f"(flags 0x{challenge.flags:08x} lack 0x{missing:08x})"
            )
        self._flags = challenge.flags
        timestamp = challenge.value(AV_TIMESTAMP)
        with_mic = timestamp is not None and len(timestamp) == 8
        client_challenge = self._random(8)
        key = response_key(self._nt_hash, self._user, self._domain)
        blob = self._client_blob(challenge, client_challenge, timestamp if with_mic else None)
        proof = hmac.new(key, challenge.server_challenge + blob, hashlib.md5).digest()
        if with_mic:
            lm_response = bytes(24)  # MS-NLMP 3.1.5.1.2: Z(24) when the server sent a time
        else:
            lm_proof = hmac.new(key, challenge.server_challenge + client_challenge, hashlib.md5)
            lm_response = lm_proof.digest() + client_challenge
        session_base_key = hmac.new(key, proof, hashlib.md5).digest()
        self._session_key = self._random(16)
        encrypted_key = rc4_stream(session_base_key)(self._session_key)
        message = self._authenticate_message(
            lm_response, proof + blob, encrypted_key, mic=bytes(16)
        )
        if with_mic:
            signed = self._negotiate + challenge_message + message
            mic = hmac.new(self._session_key, signed, hashlib.md5).digest()
            message = message[:72] + mic + message[88:]
        return message

    def sealer(self) -> NtlmSealer:
        """The session's sealer (MS-NLMP 3.4.5: SIGNKEY, SEALKEY with 128-bit keys)."""
        if self._session_key is None:
            raise NtlmError("the handshake is not complete")
        keys = {
            use: hashlib.md5(self._session_key + magic).digest() for use, magic in _MAGIC.items()
        }
        return NtlmSealer.from_keys(
            sign_out=keys["sign_out"],
            sign_in=keys["sign_in"],
            seal_out=keys["seal_out"],
            seal_in=keys["seal_in"],
        )

    def _client_blob(
        self, challenge: Challenge, client_challenge: bytes, timestamp: bytes | None
    ) -> bytes:
        """NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7) with the server's AV pairs, the SPN
        and, when a MIC follows, MsvAvFlags saying so."""
        when = timestamp or struct.pack("<Q", _filetime(self._clock()))
        pairs = list(challenge.target_info)
        if not any(av_id == AV_TARGET_NAME for av_id, _ in pairs):
            pairs.append((AV_TARGET_NAME, self._spn.encode("utf-16-le")))
        if timestamp is not None:
            pairs = _with_mic_flag(pairs)
        info = b"".join(struct.pack("<HH", i, len(v)) + v for i, v in pairs)
        info += struct.pack("<HH", AV_EOL, 0)
        return b"\x01\x01" + bytes(6) + when + client_challenge + bytes(4) + info + bytes(4)

    def _authenticate_message(
        self, lm_response: bytes, nt_response: bytes, encrypted_key: bytes, *, mic: bytes
    ) -> bytes:
        payload_start = 88  # the fixed part: header, six fields, flags, version, MIC
        parts = [
            lm_response,
            nt_response,
            self._domain.encode("utf-16-le"),
            self._user.encode("utf-16-le"),
            workstation_name().encode("utf-16-le"),
            encrypted_key,
        ]
        fields, offset = [], payload_start
        for part in parts:
            fields.append(struct.pack("<HHI", len(part), len(part), offset))
            offset += len(part)
        head = SIGNATURE + struct.pack("<I", 3) + b"".join(fields)
        return head + struct.pack("<I", self._flags) + _VERSION + mic + b"".join(parts)


def _with_mic_flag(pairs: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The AV pairs with MsvAvFlags' MIC bit set (added when the server sent none)."""
    for index, (av_id, value) in enumerate(pairs):
        if av_id == AV_FLAGS:
            if len(value) != 4:
                raise NtlmError(f"NTLM challenge MsvAvFlags is {len(value)} bytes, not 4")
            (flags,) = struct.unpack("<I", value)
            pairs[index] = (AV_FLAGS, struct.pack("<I", flags | _AV_FLAG_MIC))
            return pairs
    return [*pairs, (AV_FLAGS, struct.pack("<I", _AV_FLAG_MIC))]


def _filetime(seconds: float) -> int:
    return int(seconds * 10_000_000) + _FILETIME_EPOCH_OFFSET
