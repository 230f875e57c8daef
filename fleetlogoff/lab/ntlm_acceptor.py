"""The lab's NTLM acceptor for raw NTLMSSP handshakes: pyspnego's decisions, without its cost.

pyspnego's NTLM acceptor (spnego/_ntlm.py) costs about half a millisecond per handshake,
nearly all of it Python bookkeeping: a context object with enum flag arithmetic, message
classes that re-pack what they unpack, the NTLM_USER_FILE read and parsed on every
AUTHENTICATE. A lab of 1,000 hosts pays it on every connection. This acceptor does the same
steps directly for the messages WinRM clients send (MS-NLMP 3.2.5, NTLMv2 with extended
session security, key exchange, signing and sealing), and hands anything else to pyspnego:

* NEGOTIATE: a message of at least 32 bytes asking for UNICODE gets the CHALLENGE pyspnego
  would build (`_step_accept_negotiate`: the same flags, target name, AV pairs in the same
  order, timestamp and version), byte for byte; any other goes to a pyspnego acceptor from
  the start.
* AUTHENTICATE: a message in the canonical shape (every payload field at or after byte 88
  and inside the message, so Version and MIC are where pyspnego reads them; the flags
  above; a 16-byte encrypted session key; a user name; an NTLMv2 response whose blob is
  exactly what pyspnego re-packs it to: well-formed AV pairs of known kinds, no repeats,
  one MsvAvEOL and four zero bytes) is checked here as pyspnego checks it: the credential
  from the host's user file (the same lookup, `_get_credential`), channel bindings when the
  acceptor has some, NTProofStr, the MIC when MsvAvFlags announces one, then the session
  key and the signing and sealing keys. Any other AUTHENTICATE (NTLMv1, LM, anonymous, odd
  offsets, unusual AV pairs) goes to a pyspnego acceptor given this handshake's NEGOTIATE
  and CHALLENGE, which decides exactly as it always did.

tests/lab/test_ntlm_acceptor.py holds the two to each other: the same CHALLENGE bytes for
the same randomness and clock, the same verdict, user and keys on pyspnego's messages and
on thousands of mutated ones.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import logging
import os
import socket
import struct
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import lru_cache
from pathlib import Path
from typing import Any

import spnego
from spnego._context import split_username
from spnego._ntlm_raw.crypto import RC4Handle, ntowfv1, rc4k
from spnego._ntlm_raw.messages import Challenge, Negotiate, Version
from spnego.channel_bindings import GssChannelBindings

from fleetlogoff.lab.ntlm_seal import AcceptorSealer

# pyspnego's NTLM acceptor logs every token it takes and gives at DEBUG under its module's
# logger; the direct path logs the same records, so a log reads as it did (and log hygiene
# that scrubs them, fleetlogoff/transport/log_hygiene.py, sees them as before).
_SPNEGO_LOG = logging.getLogger("spnego._ntlm")
_LOG_FORMATS = {"input": "NTLM step input: %s", "output": "NTLM step output: %s"}
_SIGNATURE = b"NTLMSSP\x00"
_NEGOTIATE_TYPE = b"\x01\x00\x00\x00"
_AUTHENTICATE_TYPE = b"\x03\x00\x00\x00"
_CHALLENGE_HEAD = _SIGNATURE + b"\x02\x00\x00\x00"

# NegotiateFlags (MS-NLMP 2.2.2.5).
_UNICODE = 0x00000001
_OEM = 0x00000002
_REQUEST_TARGET = 0x00000004
_SIGN = 0x00000010
_SEAL = 0x00000020
_LM_KEY = 0x00000080
_NTLM = 0x00000200
_ALWAYS_SIGN = 0x00008000
_TARGET_TYPE_SERVER = 0x00020000
_EXTENDED_SESSION_SECURITY = 0x00080000
_TARGET_INFO = 0x00800000
_VERSION = 0x02000000
_KEY_128 = 0x20000000
_KEY_EXCH = 0x40000000
_CHALLENGE_ADDS = _REQUEST_TARGET | _NTLM | _ALWAYS_SIGN | _TARGET_INFO | _TARGET_TYPE_SERVER
_DIRECT = _UNICODE | _SIGN | _SEAL | _EXTENDED_SESSION_SECURITY | _KEY_128 | _KEY_EXCH

# AV pair ids (MS-NLMP 2.2.2.1) and what their values must be for the direct path.
_AV_EOL = 0
_AV_TEXT = frozenset((1, 2, 3, 4, 5, 9))  # computer/domain/tree/target names, UTF-16-LE
_AV_FLAGS = 6
_AV_TIMESTAMP = 7
_AV_CHANNEL_BINDINGS = 10
_AV_KNOWN = _AV_TEXT | {_AV_FLAGS, _AV_TIMESTAMP, _AV_CHANNEL_BINDINGS}  # not 8: Single_Host
_AV_FLAG_MIC = 0x00000002

_EPOCH_FILETIME = 116444736000000000  # 1970-01-01 in 100 ns units since 1601
_UNIX_EPOCH = datetime.datetime(1970, 1, 1)
_ONE_US = datetime.timedelta(microseconds=1)
_FIELDS = struct.Struct("<" + "HHI" * 6 + "I")  # six payload fields, then NegotiateFlags
_PAIR = struct.Struct("<HH")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_ZERO16 = bytes(16)
_TO_CLIENT = b"server-to-client"
_TO_SERVER = b"client-to-server"


class NtlmAcceptor:
    """One NTLM handshake on one connection, the acceptor side, in pyspnego's shape
    (step, complete, client_principal, negotiated_protocol) plus `sealer`.

    Args:
        user_file: the host's NTLM user file (auth.write_user_file).
        channel_bindings: the TLS channel's bindings; a client's must match or be zeros.
        environment: what pyspnego needs around each of its steps (auth.py points
            NTLM_USER_FILE at the host's file under a lock); unused on the direct path.
    """

    def __init__(
        self,
        user_file: Path,
        channel_bindings: GssChannelBindings | None,
        environment: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._user_file = user_file
        self._bindings = channel_bindings
        self._environment = environment
        self._negotiate = b""
        self._challenge = b""
        self._proxy: Any = None  # pyspnego's acceptor once a message left the direct path
        self._principal = ""
        self._sealer: AcceptorSealer | None = None

    @property
    def complete(self) -> bool:
        """True once the client authenticated."""
        if self._proxy is not None:
            return bool(self._proxy.complete)
        return self._sealer is not None

    @property
    def client_principal(self) -> str | None:
        """`DOMAIN\\user` or `user` as pyspnego names the client, None before completion."""
        if self._proxy is not None:
            return self._proxy.client_principal  # type: ignore[no-any-return]
        return self._principal if self._sealer is not None else None

    @property
    def negotiated_protocol(self) -> str:
        """Always "ntlm"."""
        return "ntlm"

    @property
    def sealer(self) -> AcceptorSealer:
        """Seals and unseals the connection's messages; only once complete."""
        if self._proxy is not None:
            self._sealer = self._sealer or AcceptorSealer(self._proxy)
        if self._sealer is None:
            raise ValueError("NTLM handshake not complete")
        return self._sealer

    def wrap_winrm(self, data: bytes) -> spnego.WinRMWrapResult:
        """Seal one message, as pyspnego's context does (through `sealer`)."""
        header, sealed, padding = self.sealer.wrap_winrm(data)
        return spnego.WinRMWrapResult(header=header, data=sealed, padding_length=padding)

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
        """Unseal one message, as pyspnego's context does (through `sealer`)."""
        return self.sealer.unwrap_winrm(header, data)

    def step(self, token: bytes) -> bytes | None:
        """Take the client's NEGOTIATE (returns the CHALLENGE) or AUTHENTICATE (returns None).

        Raises:
            Exception: whatever pyspnego raises for a message it refuses, or ValueError for
                one refused here (the caller maps both to 401).
        """
        if self._proxy is not None:
            return self._proxy_step(token)
        if not self._negotiate:
            out: bytes | None = self._accept_negotiate(token)
        elif self._sealer is not None:
            raise ValueError("NTLM handshake already complete")
        else:
            self._accept_authenticate(token)
            out = None
        if self._proxy is None:  # pyspnego logged its own if it took over
            _log_token("output", out or b"")
        return out

    def _proxy_step(self, token: bytes) -> bytes | None:
        with self._environment():
            out = self._proxy.step(token)
        return out if isinstance(out, bytes) else None

    def _new_proxy(self) -> Any:
        options = spnego.NegotiateOptions.wrapping_winrm
        with self._environment():
            return spnego.server(protocol="ntlm", options=options, channel_bindings=self._bindings)

    def _accept_negotiate(self, token: bytes) -> bytes:
        if (
            len(token) < 32
            or token[8:12] != _NEGOTIATE_TYPE
            or not _U32.unpack_from(token, 12)[0] & _UNICODE
            or "LM_COMPAT_LEVEL" in os.environ  # pyspnego reads it; keep its reading
        ):
            self._proxy = self._new_proxy()
            return self._proxy_step(token) or b""
        _log_token("input", token)
        flags = (_U32.unpack_from(token, 12)[0] | _CHALLENGE_ADDS) & ~_OEM
        if flags & _EXTENDED_SESSION_SECURITY:
            flags &= ~_LM_KEY
        challenge = challenge_message(flags, os.urandom(8), _filetime_now())
        self._negotiate = bytes(token)
        self._challenge = challenge
        return challenge

    def _accept_authenticate(self, token: bytes) -> None:
        parsed = _parse_authenticate(token)
        if parsed is None:
            self._fall_back(token)
            return
        user, domain, nt_response, session_key_enc, pairs = parsed
        composed = f"{domain}\\{user}" if domain else user
        query_domain, query_user = split_username(composed)
        query_domain = query_domain or ""
        if not query_user:  # pyspnego would take the file's first entry: leave it to it
            self._fall_back(token)
            return
        _log_token("input", token)
        nt_hash = _credentials(self._user_file).get((query_domain.upper(), query_user.upper()))
        if nt_hash is None:
            raise ValueError("no matching credential in the host's NTLM user file")
        if self._bindings is not None:
            theirs = pairs.get(_AV_CHANNEL_BINDINGS)
            if theirs is None:
                raise ValueError("acceptor bindings specified but not present in the response")
            ours = hashlib.md5(self._bindings.pack()).digest()
            if theirs not in (ours, _ZERO16):
                raise ValueError("acceptor bindings do not match the initiator's")
        response_key = _hmac_md5(nt_hash, (user.upper() + domain).encode("utf-16-le"))
        server_challenge = self._challenge[24:32]
        proof = _hmac_md5(response_key, server_challenge + nt_response[16:])
        if not hmac.compare_digest(proof, nt_response[:16]):
            raise ValueError("invalid NTLM response from the initiator")
        session_key = rc4k(_hmac_md5(response_key, proof), session_key_enc)
        announced = pairs.get(_AV_FLAGS)
        if announced is not None and _U32.unpack(announced)[0] & _AV_FLAG_MIC:
            blanked = token[:72] + _ZERO16 + token[88:]
            mic = _hmac_md5(session_key, self._negotiate + self._challenge + blanked)
            if not hmac.compare_digest(mic, token[72:88]):
                raise ValueError("invalid MIC in the NTLM AUTHENTICATE message")
        self._principal = f"{query_domain}\\{query_user}" if query_domain else query_user
        self._sealer = AcceptorSealer.direct(
            RC4Handle(_key(session_key, _TO_CLIENT, b"sealing")).update,
            RC4Handle(_key(session_key, _TO_SERVER, b"sealing")).update,
            _key(session_key, _TO_CLIENT, b"signing"),
            _key(session_key, _TO_SERVER, b"signing"),
        )

    def _fall_back(self, token: bytes) -> None:
        """pyspnego decides, as if it had answered the NEGOTIATE with this CHALLENGE."""
        proxy = self._new_proxy()
        proxy._temp_negotiate = Negotiate.unpack(self._negotiate)
        proxy._temp_challenge = Challenge.unpack(self._challenge)
        self._proxy = proxy
        self._proxy_step(token)


def _log_token(direction: str, token: bytes) -> None:
    """pyspnego's DEBUG record of a token (spnego/_ntlm.py `NTLMProxy.step`)."""
    if _SPNEGO_LOG.isEnabledFor(logging.DEBUG):
        _SPNEGO_LOG.debug(_LOG_FORMATS[direction], base64.b64encode(token).decode())


def challenge_message(flags: int, server_challenge: bytes, timestamp: bytes) -> bytes:
    """The CHALLENGE pyspnego's acceptor sends (spnego/_ntlm.py `_step_accept_negotiate`,
    messages.py `Challenge`): target name the machine's host name in upper case, AV pairs
    NbComputerName, NbDomainName "WORKSTATION", DnsComputerName, Timestamp, EOL."""
    head, tail = _challenge_template(flags, socket.gethostname())
    return head + server_challenge + tail[:-12] + timestamp + tail[-4:]


@lru_cache(maxsize=16)
def _challenge_template(flags: int, hostname: str) -> tuple[bytes, bytes]:
    """The CHALLENGE around its server challenge; its last 12 bytes are the timestamp and
    MsvAvEOL (the timestamp is the last pair)."""
    name = hostname.upper().encode("utf-16-le")
    pairs = b"".join(
        _PAIR.pack(av_id, len(value)) + value
        for av_id, value in (
            (1, name),
            (2, "WORKSTATION".encode("utf-16-le")),
            (3, hostname.encode("utf-16-le")),
            (_AV_TIMESTAMP, bytes(8)),
        )
    )
    pairs += _PAIR.pack(_AV_EOL, 0)
    version = _version() if flags & _VERSION else b""
    name_offset = 48 + len(version)
    info_offset = name_offset + len(name)
    head = b"".join(
        (
            _CHALLENGE_HEAD,
            struct.pack("<HHI", len(name), len(name), name_offset),
            _U32.pack(flags),
        )
    )
    tail = b"".join(
        (
            bytes(8),  # Reserved
            struct.pack("<HHI", len(pairs), len(pairs), info_offset),
            version,
            name,
            pairs,
        )
    )
    return head, tail


@lru_cache(maxsize=1)
def _version() -> bytes:
    return bytes(Version.get_current().pack())


def _filetime_now() -> bytes:
    """FileTime.now().pack() as pyspnego computes it: the local wall clock read as UTC."""
    micro = (datetime.datetime.now() - _UNIX_EPOCH) // _ONE_US
    return _U64.pack(_EPOCH_FILETIME + micro * 10)


def _parse_authenticate(
    token: bytes,
) -> tuple[str, str, bytes, bytes, dict[int, bytes]] | None:
    """(user, domain, NtChallengeResponse, encrypted session key, AV pairs) of a canonical
    AUTHENTICATE (module docstring), None for any other message."""
    if len(token) < 88 or token[:8] != _SIGNATURE or token[8:12] != _AUTHENTICATE_TYPE:
        return None
    values = _FIELDS.unpack_from(token, 12)
    flags = values[18]
    if flags & _DIRECT != _DIRECT:
        return None
    fields = []
    for index in range(6):
        length, offset = values[3 * index], values[3 * index + 2]
        if offset < 88 or offset + length > len(token):
            return None
        fields.append(token[offset : offset + length])
    _, nt_response, domain_raw, user_raw, _, session_key_enc = fields
    if not user_raw or len(session_key_enc) != 16 or len(nt_response) < 16 + 32:
        return None
    try:
        user = user_raw.decode("utf-16-le")
        domain = domain_raw.decode("utf-16-le")
    except UnicodeDecodeError:
        return None
    blob = nt_response[16:]
    if blob[:8] != b"\x01\x01" + bytes(6) or blob[24:28] != bytes(4):
        return None
    if not _in_datetime_range(_U64.unpack_from(blob, 8)[0]):
        return None
    pairs = _canonical_pairs(blob[28:])
    return None if pairs is None else (user, domain, nt_response, session_key_enc, pairs)


def _canonical_pairs(data: bytes) -> dict[int, bytes] | None:
    """The AV pairs of an NTLMv2 blob when pyspnego re-packs them to these very bytes:
    known kinds with well-formed values, none repeated, then MsvAvEOL and four zero bytes."""
    pairs: dict[int, bytes] = {}
    position = 0
    while position + 4 <= len(data):
        av_id, length = _PAIR.unpack_from(data, position)
        position += 4
        if av_id == _AV_EOL:
            return pairs if length == 0 and data[position:] == bytes(4) else None
        value = data[position : position + length]
        position += length
        if av_id not in _AV_KNOWN or av_id in pairs or len(value) != length:
            return None
        if av_id in _AV_TEXT:
            try:
                value.decode("utf-16-le")
            except UnicodeDecodeError:
                return None
        elif (av_id == _AV_FLAGS and length != 4) or (
            av_id == _AV_TIMESTAMP
            and (length != 8 or not _in_datetime_range(_U64.unpack(value)[0]))
        ):
            return None
        pairs[av_id] = value
    return None


def _in_datetime_range(filetime: int) -> bool:
    """Whether pyspnego's FileTime.unpack takes this value (a datetime in years 1-9999)."""
    try:
        _UNIX_EPOCH + datetime.timedelta(microseconds=(filetime - _EPOCH_FILETIME) // 10)
    except OverflowError:
        return False
    return True


def _credentials(user_file: Path) -> dict[tuple[str, str], bytes]:
    """(DOMAIN, USER) upper-cased to the NT hash, first line first, read as pyspnego reads
    the file (`_get_credential`); re-read when the file changes."""
    stat = user_file.stat()
    return _read_credentials(str(user_file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4096)
def _read_credentials(path: str, mtime_ns: int, size: int) -> dict[tuple[str, str], bytes]:
    del mtime_ns, size  # cache keys only
    found: dict[tuple[str, str], bytes] = {}
    with open(path, mode="rb") as handle:
        text = handle.read().decode()
    for line in text.splitlines():
        parts = line.split(":")
        try:
            domain: str | None
            user: str | None
            if len(parts) == 3:  # Heimdal DOMAIN:USER:PASSWORD
                domain, user, nt_hash = parts[0], parts[1], ntowfv1(parts[2])
            elif len(parts) == 6:  # smbpasswd, the form auth.write_user_file writes
                domain, user = split_username(parts[0])
                base64.b16decode(parts[2].upper())
                nt_hash = base64.b16decode(parts[3].upper())
            else:
                continue
        except (ValueError, binascii.Error):
            break  # pyspnego stops with an error here: no later line is ever found
        found.setdefault(((domain or "").upper(), (user or "").upper()), nt_hash)
    return found


def _key(session_key: bytes, direction: bytes, kind: bytes) -> bytes:
    """SIGNKEY/SEALKEY with extended session security and 128-bit keys (MS-NLMP 3.4.5)."""
    constant = b"session key to %s %s key magic constant\x00" % (direction, kind)
    return hashlib.md5(session_key + constant).digest()


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "md5")
