"""The direct NTLM sealing against pyspnego's own, both ways, message after message:
pyspnego's own acceptor (the reference; the lab has a faster one) unseals what the direct
path sealed, and the direct path unseals what pyspnego sealed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import spnego

from fleetlogoff.lab.auth import write_user_file
from fleetlogoff.lab.contract import Account
from fleetlogoff.transport.ntlm_seal import NtlmSealer, SealError
from tests.pyspnego_acceptor import PyspnegoAcceptor


@pytest.fixture
def contexts(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A completed pyspnego NTLM client and pyspnego's own acceptor."""
    users = write_user_file(tmp_path, "RDS01", [Account("alice", "Passw0rd!")])
    acceptor = PyspnegoAcceptor(users)
    options = spnego.NegotiateOptions.wrapping_winrm
    client = spnego.client("alice", "Passw0rd!", hostname="h", protocol="ntlm", options=options)
    challenge = acceptor.step(client.step() or b"")
    acceptor.step(client.step(challenge) or b"")
    assert client.complete and acceptor.complete
    yield client, acceptor.context


def test_messages_seal_and_unseal_both_ways_in_order(contexts: tuple[Any, Any]) -> None:
    client, server = contexts
    sealer = NtlmSealer(client)
    assert sealer.fast
    for size in (0, 1, 100, 5000, 70_000):
        message = os.urandom(size)
        signature, sealed = sealer.wrap(message)
        assert server.unwrap_winrm(signature, sealed) == message  # pyspnego agrees
        answer = os.urandom(size + 7)
        reference = server.wrap_winrm(answer)
        assert sealer.unwrap(reference.header, reference.data) == answer


def test_a_tampered_or_replayed_answer_is_refused(contexts: tuple[Any, Any]) -> None:
    client, server = contexts
    sealer = NtlmSealer(client)
    first = server.wrap_winrm(b"first")
    assert sealer.unwrap(first.header, first.data) == b"first"
    with pytest.raises(SealError):
        sealer.unwrap(first.header, first.data)  # replayed: the sequence number moved on
    second = server.wrap_winrm(b"second")
    flipped = bytes([second.data[0] ^ 1]) + second.data[1:]
    with pytest.raises(SealError):
        sealer.unwrap(second.header, flipped)


def test_an_unfamiliar_context_falls_back_to_pyspnegos_own(contexts: tuple[Any, Any]) -> None:
    client, server = contexts

    class Opaque:
        """A context this module does not know the inside of."""

        def wrap_winrm(self, data: bytes) -> Any:
            return client.wrap_winrm(data)

        def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
            plain: bytes = client.unwrap_winrm(header, data)
            return plain

    sealer = NtlmSealer(Opaque())
    assert not sealer.fast
    signature, sealed = sealer.wrap(b"hello")
    assert server.unwrap_winrm(signature, sealed) == b"hello"
    reply = server.wrap_winrm(b"world")
    assert sealer.unwrap(reply.header, reply.data) == b"world"
    with pytest.raises(SealError):
        sealer.unwrap(reply.header, reply.data)
