"""The lab's direct NTLM sealing (lab/ntlm_seal.py) against pyspnego's own, byte for byte:
each side of a completed handshake gets two identical acceptor contexts (the same keys),
one sealed by pyspnego and one by AcceptorSealer, and every message must come out the same."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import spnego

from fleetlogoff.lab import encryption
from fleetlogoff.lab.auth import _user_file, prime_user_file_variable, write_user_file
from fleetlogoff.lab.contract import Account
from fleetlogoff.lab.ntlm_seal import AcceptorSealer


def _handshake(tmp_path: Path) -> tuple[Any, Any]:
    """A complete client and pyspnego's own NTLM acceptor (the lab's takes the direct path
    to its keys: tests/lab/test_ntlm_acceptor.py)."""
    users = write_user_file(tmp_path, "RDS01", [Account("alice", "Passw0rd!")])
    prime_user_file_variable(users)
    options = spnego.NegotiateOptions.wrapping_winrm
    client = spnego.client("alice", "Passw0rd!", hostname="h", protocol="ntlm", options=options)
    with _user_file(users):
        server = spnego.server(protocol="ntlm", options=options)
        challenge = server.step(client.step() or b"")
        server.step(client.step(challenge) or b"")
    assert client.complete and server.complete
    return client, _Acceptor(server)


class _Acceptor:
    """The pyspnego context and one AcceptorSealer on it, as the lab used them."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.sealer = AcceptorSealer(context)


def _twin(context: Any) -> Any:
    """An independent copy of a complete NTLM context, RC4 streams included."""
    twin = copy.copy(context)
    for name in ("_handle_in", "_handle_out"):
        handle = copy.copy(getattr(context, name))
        handle.reset()  # a fresh stream from the same key: no message went through yet
        setattr(twin, name, handle)
    return twin


def test_replies_and_requests_are_the_bytes_pyspnego_makes(tmp_path: Path) -> None:
    client, acceptor = _handshake(tmp_path)
    reference = _twin(acceptor.context)
    sealer = acceptor.sealer
    assert sealer.fast
    for size in (0, 1, 100, 1600, 70_000):
        answer = os.urandom(size)
        ours = encryption.seal(sealer, answer)
        assert ours == encryption.seal(reference, answer)
        request = os.urandom(size + 3)
        header, data, _ = client.wrap_winrm(request)
        reference_plain = reference.unwrap_winrm(header, data)
        assert sealer.unwrap_winrm(header, data) == reference_plain == request
        # The client, which speaks pyspnego, reads the lab's answer.
        parsed = encryption.parse_sealed(ours)
        assert client.unwrap_winrm(parsed.signature, parsed.ciphertext) == answer


def test_a_tampered_or_replayed_request_is_refused(tmp_path: Path) -> None:
    client, acceptor = _handshake(tmp_path)
    sealer = acceptor.sealer
    header, data, _ = client.wrap_winrm(b"first")
    assert sealer.unwrap_winrm(header, data) == b"first"
    with pytest.raises(Exception, match="signature"):
        sealer.unwrap_winrm(header, data)  # replayed: sequence number 0 again
    client2, acceptor2 = _handshake(tmp_path)
    header, data, _ = client2.wrap_winrm(b"second")
    tampered = bytes([data[0] ^ 1]) + data[1:]
    with pytest.raises(Exception, match="signature"):
        acceptor2.sealer.unwrap_winrm(header, tampered)


def test_other_contexts_are_sealed_by_pyspnego() -> None:
    class Wrapper:
        def wrap_winrm(self, data: bytes) -> Any:
            return spnego.WinRMWrapResult(header=b"H" * 16, data=data[::-1], padding_length=0)

        def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
            return data[::-1]

    sealer = AcceptorSealer(Wrapper())
    assert not sealer.fast
    assert sealer.wrap_winrm(b"abc") == (b"H" * 16, b"cba", 0)
    assert sealer.unwrap_winrm(b"H" * 16, b"cba") == b"abc"
