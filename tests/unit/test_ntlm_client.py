"""The project's NTLMv2 client against pyspnego's own acceptor (the reference; not the
lab's faster one): it checks the NT proof and the MIC of every AUTHENTICATE message
written here, a wrong password or a tampered message is refused, the session's sealing
agrees both ways, and a hostile or unusable challenge is refused with one line, never a
traceback."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest
from spnego._ntlm_raw.crypto import ntowfv1
from spnego._ntlm_raw.messages import Authenticate, TargetInfo
from spnego.exceptions import SpnegoError

from fleetlogoff.lab.auth import write_user_file
from fleetlogoff.lab.contract import Account
from fleetlogoff.transport.ntlm_client import (
    AV_FLAGS,
    AV_TARGET_NAME,
    AV_TIMESTAMP,
    KEY_EXCH,
    SEAL,
    TARGET_INFO,
    NtlmClient,
    NtlmError,
    parse_challenge,
    split_user,
)
from fleetlogoff.transport.ntlm_seal import SealError
from tests.pyspnego_acceptor import PyspnegoAcceptor

PASSWORD = "Passw0rd!"


def acceptor(tmp_path: Path, *accounts: Account) -> PyspnegoAcceptor:
    users = write_user_file(tmp_path, "RDS01", list(accounts) or [Account("alice", PASSWORD)])
    return PyspnegoAcceptor(users)


def client(username: str = "alice", password: str = PASSWORD, **kw: Any) -> NtlmClient:
    return NtlmClient(username, ntowfv1(password), target_host="rds01.corp.test", **kw)


def client_info(sent: Authenticate) -> dict[int, Any]:
    """The AV pairs the client put in its NTLMv2 response (after NTProofStr and the blob's
    fixed 28 bytes), by id."""
    response = sent.nt_challenge_response
    assert response is not None
    return {int(k): v for k, v in TargetInfo.unpack(response[16 + 28 :]).items()}


def handshake(server: PyspnegoAcceptor, ntlm: NtlmClient) -> bytes:
    """Negotiate, challenge, authenticate; the AUTHENTICATE message sent."""
    challenge = server.step(ntlm.negotiate()) or b""
    message = ntlm.authenticate(challenge)
    server.step(message)
    return message


@pytest.mark.parametrize(
    "username", ["alice", "RDS01\\alice", "WORKGROUP\\alice", "rds01\\ALICE", "Alice"]
)
def test_pyspnegos_acceptor_accepts_the_handshake_and_its_mic(
    tmp_path: Path, username: str
) -> None:
    server = acceptor(tmp_path)
    message = handshake(server, client(username))
    assert server.complete
    sent = Authenticate.unpack(message)
    assert sent.mic is not None and sent.mic != bytes(16)
    assert sent.lm_challenge_response == bytes(24)  # the server sent a timestamp
    assert sent.user_name == split_user(username)[1]
    info = client_info(sent)
    assert info[AV_TARGET_NAME] == "http/rds01.corp.test"
    assert int(info[AV_FLAGS]) & 0x2


def test_a_wrong_password_is_refused(tmp_path: Path) -> None:
    server = acceptor(tmp_path)
    with pytest.raises(SpnegoError):
        handshake(server, client(password="wrong"))
    assert not server.complete


@pytest.mark.parametrize("where", ["mic", "nt_proof", "session_key"])
def test_a_tampered_authenticate_message_is_refused(tmp_path: Path, where: str) -> None:
    server = acceptor(tmp_path)
    ntlm = client()
    message = bytearray(ntlm.authenticate(server.step(ntlm.negotiate()) or b""))
    sent = Authenticate.unpack(bytes(message))
    if where == "mic":
        at = 72
    elif where == "nt_proof":
        (at,) = struct.unpack_from("<I", message, 24)
    else:
        (at,) = struct.unpack_from("<I", message, 56)
    assert sent.mic is not None
    message[at] ^= 0x01
    with pytest.raises(SpnegoError):
        server.step(bytes(message))


def test_the_session_seals_and_unseals_both_ways_with_pyspnego(tmp_path: Path) -> None:
    server = acceptor(tmp_path)
    ntlm = client()
    handshake(server, ntlm)
    sealer, reference = ntlm.sealer(), server.context
    assert sealer.fast
    for size in (0, 1, 100, 5000, 70_000):
        message = os.urandom(size)
        signature, sealed = sealer.wrap(message)
        assert reference.unwrap_winrm(signature, sealed) == message
        answer = reference.wrap_winrm(os.urandom(size + 3))
        assert sealer.unwrap(answer.header, answer.data)
    replay = reference.wrap_winrm(b"once")
    assert sealer.unwrap(replay.header, replay.data) == b"once"
    with pytest.raises(SealError):
        sealer.unwrap(replay.header, replay.data)


def test_fixed_randomness_gives_the_same_message_twice(tmp_path: Path) -> None:
    """Only the random client challenge and session key vary between handshakes."""

    def fixed(size: int) -> bytes:
        return bytes(range(size))

    server = acceptor(tmp_path)
    challenge = server.step(client().negotiate()) or b""
    first, second = client(random=fixed), client(random=fixed)
    first.negotiate()
    second.negotiate()
    assert first.authenticate(challenge) == second.authenticate(challenge)


# -- the server's challenge is untrusted input ----------------------------------------------


def challenge_message(
    flags: int = 0xE28A8235, pairs: bytes | None = None, *, kind: int = 2
) -> bytes:
    """A CHALLENGE_MESSAGE as Windows writes it, with `pairs` as its target info."""
    if pairs is None:
        stamp = struct.pack("<Q", 134_000_000_000_000_000)
        name = "RDS01".encode("utf-16-le")
        pairs = (
            struct.pack("<HH", 1, len(name))
            + name
            + struct.pack("<HH", AV_TIMESTAMP, 8)
            + stamp
            + struct.pack("<HH", 0, 0)
        )
    head = b"NTLMSSP\x00" + struct.pack("<I", kind) + struct.pack("<HHI", 0, 0, 56)
    head += struct.pack("<I", flags) + b"\x11" * 8 + bytes(8)
    head += struct.pack("<HHI", len(pairs), len(pairs), 56) + bytes(8)
    return head + pairs


def test_a_well_formed_challenge_reads() -> None:
    read = parse_challenge(challenge_message())
    assert read.server_challenge == b"\x11" * 8 and read.value(AV_TIMESTAMP) is not None


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (b"", "not an NTLM challenge"),
        (b"NTLMSSP\x00" + bytes(10), "not an NTLM challenge"),
        (b"HTTP/1.1 200 OK\r\n" * 4, "not an NTLM challenge"),
        (challenge_message(kind=3), "type 3"),
        (challenge_message()[:-6], "runs past the message"),
        (challenge_message(pairs=struct.pack("<HH", 1, 4) + b"ab"), "runs past its field"),
        (challenge_message(pairs=struct.pack("<HH", 1, 2) + b"ab"), "does not end with"),
        (challenge_message(pairs=b"\x00" * 9000), "too large"),
    ],
)
def test_a_malformed_challenge_is_one_clear_error(message: bytes, words: str) -> None:
    with pytest.raises(NtlmError, match=words):
        client().negotiate()
        parse_challenge(message)
    ntlm = client()
    ntlm.negotiate()
    with pytest.raises(NtlmError):
        ntlm.authenticate(message)


@pytest.mark.parametrize("lacking", [SEAL, KEY_EXCH])
def test_a_host_that_will_not_seal_as_winrm_needs_is_refused(lacking: int) -> None:
    ntlm = client()
    ntlm.negotiate()
    with pytest.raises(NtlmError, match="will not sign and seal"):
        ntlm.authenticate(challenge_message(flags=0xE28A8235 & ~lacking))


def test_a_malformed_msvavflags_is_refused() -> None:
    pairs = struct.pack("<HH", AV_TIMESTAMP, 8) + bytes(8)
    pairs += struct.pack("<HH", AV_FLAGS, 2) + b"\x00\x00" + struct.pack("<HH", 0, 0)
    ntlm = client()
    ntlm.negotiate()
    with pytest.raises(NtlmError, match="MsvAvFlags"):
        ntlm.authenticate(challenge_message(pairs=pairs))


def test_without_a_server_time_the_client_sends_an_lmv2_response_and_no_mic() -> None:
    ntlm = client(clock=lambda: 1_800_000_000.0)
    ntlm.negotiate()
    pairs = struct.pack("<HH", 1, 2) + b"R\x00" + struct.pack("<HH", 0, 0)
    sent = Authenticate.unpack(ntlm.authenticate(challenge_message(pairs=pairs)))
    assert sent.lm_challenge_response is not None and sent.lm_challenge_response != bytes(24)
    assert sent.mic == bytes(16)
    assert AV_FLAGS not in client_info(sent)


def test_no_target_info_still_names_the_service() -> None:
    ntlm = client()
    ntlm.negotiate()
    message = challenge_message(flags=0xE28A8235 & ~TARGET_INFO, pairs=b"")
    sent = Authenticate.unpack(ntlm.authenticate(message))
    assert client_info(sent)[AV_TARGET_NAME] == "http/rds01.corp.test"


def test_authenticate_before_negotiate_and_sealer_before_the_end_are_refused() -> None:
    with pytest.raises(NtlmError):
        client().authenticate(challenge_message())
    with pytest.raises(NtlmError):
        client().sealer()


def test_hash_form_passwords_take_this_client_and_others_pyspnegos() -> None:
    from fleetlogoff.transport import ntlm_http

    hashed = "0" * 32 + ":" + ntowfv1(PASSWORD).hex()
    own = ntlm_http._handshake_for("alice", hashed, "rds01")
    assert isinstance(own, ntlm_http._OwnHandshake)
    assert own.first() == client().negotiate()
    other = ntlm_http._handshake_for("alice", "", "rds01")  # no hash form: pyspnego's path
    assert isinstance(other, ntlm_http._PyspnegoHandshake)
    assert other.first().startswith(b"NTLMSSP\x00\x01\x00\x00\x00")
