"""Reading channel bindings out of real NTLM AUTHENTICATE messages (pyspnego's client
makes them), raw and inside SPNEGO."""

from __future__ import annotations

from pathlib import Path

import spnego
from spnego.channel_bindings import GssChannelBindings

from fleetlogoff.lab.auth import NegotiateAcceptor, write_user_file
from fleetlogoff.lab.contract import Account
from fleetlogoff.lab.ntlm_bindings import ntlm_channel_bound

BINDINGS = GssChannelBindings(application_data=b"tls-server-end-point:" + b"\x01" * 32)


def _authenticate(
    tmp_path: Path, protocol: str, bindings: GssChannelBindings | None
) -> tuple[bytes, bytes]:
    """A client's negotiate and authenticate tokens, against the lab's acceptor."""
    options = spnego.NegotiateOptions.use_ntlm
    client = spnego.client(
        "alice", "pw", hostname="host", protocol=protocol, channel_bindings=bindings,
        options=options,
    )  # fmt: skip
    server = NegotiateAcceptor(write_user_file(tmp_path, "HOST", [Account("alice", "pw")]))
    negotiate = client.step()
    assert negotiate is not None
    challenge = server.step(negotiate)
    authenticate = client.step(challenge)
    assert authenticate is not None
    return negotiate, authenticate


def test_bindings_are_seen_raw_and_in_spnego(tmp_path: Path) -> None:
    for protocol in ("ntlm", "negotiate"):
        negotiate, bound = _authenticate(tmp_path, protocol, BINDINGS)
        assert ntlm_channel_bound(negotiate) is None  # not an AUTHENTICATE message
        assert ntlm_channel_bound(bound) is True
        assert ntlm_channel_bound(_authenticate(tmp_path, protocol, None)[1]) is False


def test_odd_tokens_never_count_as_bound(tmp_path: Path) -> None:
    marker = b"NTLMSSP\x00\x03\x00\x00\x00"
    assert ntlm_channel_bound(b"") is None
    assert ntlm_channel_bound(marker) is False  # too short
    huge_offset = marker + b"\x00" * 8 + b"\xff\xff\xff\xff\xff\xff\xff\x7f" + b"\x00" * 40
    assert ntlm_channel_bound(huge_offset) is False
    _, bound = _authenticate(tmp_path, "ntlm", BINDINGS)
    for cut in range(0, len(bound), 7):  # every truncation reads as unbound or bound, never raises
        assert ntlm_channel_bound(bound[:cut]) in (None, False, True)
