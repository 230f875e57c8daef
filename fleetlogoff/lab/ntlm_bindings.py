"""Whether a client's NTLM AUTHENTICATE message carries channel bindings, as Windows'
CbtHardeningLevel=Strict asks over HTTPS.

pyspnego's NTLM acceptor refuses bindings that differ from the TLS channel's, but takes an
all-zero MsvAvChannelBindings (or none at all) as "the client has none" and accepts it:
Relaxed, Windows' default. Strict refuses such a client; this reads the message to tell.

Layout (MS-NLMP): AUTHENTICATE_MESSAGE's NtChallengeResponseFields sit at byte 20 (length,
max length, offset from the message's start; 2.2.1.3). An NTLMv2 response is the 16-byte
NTProofStr, then NTLMv2_CLIENT_CHALLENGE, whose AV pairs start after 28 fixed bytes
(2.2.2.7); MsvAvChannelBindings (AvId 0x000A) holds the MD5 of the client's
gss_channel_bindings_struct, all zeros when it has none (2.2.2.1). An NTLM message sits
whole inside SPNEGO's DER (an OCTET STRING), so its offsets hold there too.
"""

from __future__ import annotations

import struct

_AUTHENTICATE = b"NTLMSSP\x00\x03\x00\x00\x00"
_NT_RESPONSE_FIELDS = 20
_AV_PAIRS_START = 16 + 28
_MSV_AV_EOL = 0x0000
_MSV_AV_CHANNEL_BINDINGS = 0x000A


def ntlm_channel_bound(token: bytes) -> bool | None:
    """Whether the NTLM AUTHENTICATE message in `token` (raw or SPNEGO-wrapped) carries
    channel bindings other than zeros.

    Returns:
        None when the token holds no AUTHENTICATE message (a negotiate, or Kerberos);
        False for no bindings, zero bindings, NTLMv1 or a message too short to tell.
    """
    start = token.find(_AUTHENTICATE)
    if start < 0:
        return None
    message = token[start:]
    if len(message) < _NT_RESPONSE_FIELDS + 8:
        return False
    length, _, offset = struct.unpack_from("<HHI", message, _NT_RESPONSE_FIELDS)
    response = message[offset : offset + length]
    return _bindings_in(response[_AV_PAIRS_START:]) if len(response) > 24 else False


def _bindings_in(pairs: bytes) -> bool:
    position = 0
    while position + 4 <= len(pairs):
        av_id, av_len = struct.unpack_from("<HH", pairs, position)
        if av_id == _MSV_AV_EOL:
            break
        value = pairs[position + 4 : position + 4 + av_len]
        if av_id == _MSV_AV_CHANNEL_BINDINGS:
            return any(value)
        position += 4 + av_len
    return False
