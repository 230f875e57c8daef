"""The lab's NTLM acceptor (lab/ntlm_acceptor.py) against pyspnego's, which it replaces on
the direct path: the same CHALLENGE bytes for the same randomness and clock, and for every
AUTHENTICATE (real clients' and thousands of mutated ones) the same verdict, the same
client name and the same keys (the same sealed bytes)."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import struct
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
import spnego
from spnego._ntlm_raw.messages import Challenge, Negotiate
from spnego.channel_bindings import GssChannelBindings

from fleetlogoff.lab import auth, ntlm_acceptor
from fleetlogoff.lab.contract import Account
from fleetlogoff.lab.ntlm_acceptor import NtlmAcceptor
from fleetlogoff.lab.ntlm_seal import AcceptorSealer

HOST = "3-RDS01"
ACCOUNTS = [Account("alice", "Passw0rd!"), Account("Bob", "s3cret:x"), Account("carol", "pw")]
BINDINGS = GssChannelBindings(application_data=b"tls-server-end-point:" + b"\x07" * 32)
OTHER_BINDINGS = GssChannelBindings(application_data=b"tls-server-end-point:" + b"\x08" * 32)


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = auth.write_user_file(tmp_path, HOST, ACCOUNTS)
    auth.prime_user_file_variable(path)
    return path


def _environment(users: Path) -> Callable[[], AbstractContextManager[None]]:
    return lambda: auth._user_file(users)


def _client(user: str, password: str, bindings: GssChannelBindings | None = None) -> Any:
    options = spnego.NegotiateOptions.wrapping_winrm
    return spnego.client(
        user, password, hostname="h", protocol="ntlm", options=options, channel_bindings=bindings
    )


def _reference(users: Path, negotiate: bytes, challenge: bytes, bindings: Any) -> Any:
    """pyspnego's acceptor, as if it had answered `negotiate` with `challenge`."""
    with auth._user_file(users):
        proxy: Any = spnego.server(
            protocol="ntlm",
            options=spnego.NegotiateOptions.wrapping_winrm,
            channel_bindings=bindings,
        )
    proxy._temp_negotiate = Negotiate.unpack(negotiate)
    proxy._temp_challenge = Challenge.unpack(challenge)
    return proxy


def _verdict(step: Callable[[], object]) -> bool:
    try:
        step()
    except Exception:
        return False
    return True


PATHS: dict[str, int] = {"direct": 0, "pyspnego": 0}


def _same_outcome(
    users: Path, negotiate: bytes, challenge: bytes, token: bytes, bindings: Any = None
) -> bool:
    """Feed `token` to both acceptors (each given the same NEGOTIATE and CHALLENGE) and
    check they agree; returns whether they accepted."""
    ours = NtlmAcceptor(users, bindings, _environment(users))
    ours._negotiate, ours._challenge = negotiate, challenge
    reference = _reference(users, negotiate, challenge, bindings)
    accepted = _verdict(lambda: ours.step(token))
    with auth._user_file(users):
        expected = _verdict(lambda: reference.step(token))
    assert accepted == expected, token.hex()
    PATHS["pyspnego" if ours._proxy is not None else "direct"] += 1
    assert ours.complete == bool(reference.complete)
    if accepted:
        assert ours.client_principal == reference.client_principal
        theirs = AcceptorSealer(reference)
        for message in (b"", b"one", os.urandom(999)):
            assert ours.sealer.wrap_winrm(message) == theirs.wrap_winrm(message)
    return accepted


def test_challenge_is_pyspnegos_for_the_same_randomness_and_clock(
    users: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spnego._ntlm_raw import messages

    # pyspnego and the lab acceptor both draw from os.urandom: one patch fixes both
    monkeypatch.setattr(os, "urandom", lambda n: b"\x5a" * n)
    when = messages.FileTime.now()
    monkeypatch.setattr(messages.FileTime, "now", classmethod(lambda cls, tz=None: when))
    monkeypatch.setattr(ntlm_acceptor, "_filetime_now", lambda: when.pack())
    for options in (
        spnego.NegotiateOptions.wrapping_winrm,
        spnego.NegotiateOptions.none,
    ):
        negotiate = spnego.client("a", "b", protocol="ntlm", options=options).step()
        assert negotiate is not None
        flag_sets = [struct.unpack_from("<I", negotiate, 12)[0]]
        flag_sets += [flag_sets[0] & ~0x02000000, flag_sets[0] | 0x02, flag_sets[0] & ~0x80000]
        for flags in flag_sets:
            token = negotiate[:12] + struct.pack("<I", flags) + negotiate[16:]
            with auth._user_file(users):
                expected = spnego.server(protocol="ntlm").step(token)
            ours = NtlmAcceptor(users, None, _environment(users))
            assert ours.step(token) == expected
            assert ours._proxy is None  # took the direct path


def test_tokens_are_logged_as_pyspnego_logs_them(
    users: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from spnego._ntlm_raw import messages

    # pyspnego and the lab acceptor both draw from os.urandom: one patch fixes both
    monkeypatch.setattr(os, "urandom", lambda n: b"\x11" * n)
    when = messages.FileTime.now()
    monkeypatch.setattr(messages.FileTime, "now", classmethod(lambda cls, tz=None: when))
    monkeypatch.setattr(ntlm_acceptor, "_filetime_now", lambda: when.pack())
    caplog.set_level(logging.DEBUG, logger="spnego")

    def logged(step: Callable[[], object]) -> list[tuple[str, int, str]]:
        caplog.clear()
        step()
        return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]

    client = _client("alice", "Passw0rd!")
    negotiate = client.step()
    with auth._user_file(users):
        reference: Any = spnego.server(
            protocol="ntlm", options=spnego.NegotiateOptions.wrapping_winrm
        )
        theirs = logged(lambda: reference.step(negotiate))
    ours = NtlmAcceptor(users, None, _environment(users))
    assert logged(lambda: ours.step(negotiate)) == theirs  # NEGOTIATE in, CHALLENGE out
    token = client.step(reference._temp_challenge.pack())  # the CHALLENGE both sent
    with auth._user_file(users):
        theirs = logged(lambda: reference.step(token))
    assert logged(lambda: ours.step(token)) == theirs  # AUTHENTICATE in, nothing out
    assert theirs[1] == ("spnego._ntlm", logging.DEBUG, "NTLM step output: ")


def test_the_clock_reads_as_pyspnegos() -> None:
    from spnego._ntlm_raw.messages import FileTime

    before = struct.unpack("<Q", FileTime.now().pack())[0]
    ours = struct.unpack("<Q", ntlm_acceptor._filetime_now())[0]
    after = struct.unpack("<Q", FileTime.now().pack())[0]
    assert before <= ours <= after


def test_odd_negotiates_go_to_pyspnego(users: Path) -> None:
    negotiate = _client("alice", "Passw0rd!").step()
    oem = negotiate[:12] + struct.pack("<I", 0x02 | 0x200) + negotiate[16:]
    for token in (negotiate[:31], oem):
        ours = NtlmAcceptor(users, None, _environment(users))
        with contextlib.suppress(Exception):  # pyspnego's own verdict on an odd message
            ours.step(token)
        assert ours._proxy is not None


@pytest.mark.parametrize(
    ("user", "password", "accepted"),
    [
        ("alice", "Passw0rd!", True),
        ("ALICE", "Passw0rd!", True),
        (f"{HOST.lower()}\\alice", "Passw0rd!", True),
        (".\\alice", "Passw0rd!", True),
        ("WORKGROUP\\bob", "s3cret:x", True),
        ("OTHER\\alice", "Passw0rd!", False),
        ("alice", "wrong", False),
        ("dave", "pw", False),
        ("alice@example", "Passw0rd!", False),
        ("carol", "pw", True),
    ],
)
def test_real_clients_get_pyspnegos_verdict_name_and_keys(
    users: Path, user: str, password: str, accepted: bool
) -> None:
    client = _client(user, password)
    negotiate = client.step()
    ours = NtlmAcceptor(users, None, _environment(users))
    challenge = ours.step(negotiate)
    assert challenge is not None
    assert challenge is not None and ours._proxy is None
    token = client.step(challenge)
    assert _same_outcome(users, negotiate, challenge, token) is accepted


@pytest.mark.parametrize(
    ("client_bindings", "server_bindings", "accepted"),
    [
        (BINDINGS, BINDINGS, True),
        (None, BINDINGS, False),  # pyspnego refuses a response without the AV pair
        (OTHER_BINDINGS, BINDINGS, False),
        (BINDINGS, None, True),
    ],
)
def test_channel_bindings_as_pyspnego_checks_them(
    users: Path, client_bindings: Any, server_bindings: Any, accepted: bool
) -> None:
    client = _client("alice", "Passw0rd!", client_bindings)
    negotiate = client.step()
    ours = NtlmAcceptor(users, server_bindings, _environment(users))
    challenge = ours.step(negotiate)
    assert challenge is not None
    token = client.step(challenge)
    assert _same_outcome(users, negotiate, challenge, token, server_bindings) is accepted


def test_a_session_seals_both_ways_with_the_client(users: Path) -> None:
    client = _client("alice", "Passw0rd!")
    ours = NtlmAcceptor(users, None, _environment(users))
    ours.step(client.step(ours.step(client.step())))
    assert ours.complete and ours.client_principal == "alice"
    for size in (0, 5, 3000):
        header, data, _ = client.wrap_winrm(b"q" * size)
        assert ours.sealer.unwrap_winrm(header, data) == b"q" * size
        header, data, _ = ours.sealer.wrap_winrm(b"a" * size)
        assert client.unwrap_winrm(header, data) == b"a" * size
    with pytest.raises(ValueError, match="complete"):
        ours.step(b"NTLMSSP\x00\x03\x00\x00\x00")


@pytest.mark.parametrize("seed", range(12))
def test_mutated_authenticates_get_pyspnegos_verdict(users: Path, seed: int) -> None:
    rng = random.Random(seed)
    PATHS.update(direct=0, pyspnego=0)
    bindings = BINDINGS if seed % 3 == 0 else None
    client = _client("alice" if seed % 2 else f"{HOST}\\carol", "Passw0rd!" if seed % 2 else "pw",
                     bindings)  # fmt: skip
    negotiate = client.step()
    ours = NtlmAcceptor(users, bindings, _environment(users))
    challenge = ours.step(negotiate)
    assert challenge is not None
    token = client.step(challenge)
    assert _same_outcome(users, negotiate, challenge, token, bindings)
    for _ in range(150):
        mutated = bytearray(token)
        for _ in range(rng.choice((1, 1, 2, 4))):
            kind = rng.random()
            if len(mutated) < 64:
                break
            if kind < 0.6:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            elif kind < 0.8:
                # payload fields and flags, where the shape is decided
                mutated[rng.randrange(12, 64)] = rng.choice((0, 1, 0x58, 0xFF, rng.randrange(256)))
            else:
                cut = rng.randrange(len(mutated))
                mutated = mutated[:cut] if rng.random() < 0.5 else mutated + os.urandom(cut % 9)
        _same_outcome(users, negotiate, challenge, bytes(mutated), bindings)
    # Both paths decided a fair share (the comparison means something for each).
    assert PATHS["direct"] > 30 and PATHS["pyspnego"] > 30, PATHS


def test_the_lab_takes_a_handshake_through_the_direct_path(users: Path) -> None:
    client = _client("alice", "Passw0rd!")
    acceptor = auth.NegotiateAcceptor(users)
    acceptor.step(client.step(acceptor.step(client.step()) or b"") or b"")
    assert acceptor.complete and acceptor.user == "alice" and acceptor.mechanism == "ntlm"
    assert isinstance(acceptor.context, NtlmAcceptor) and acceptor.context._proxy is None
    assert acceptor.sealer.fast and not acceptor.channel_bound()
    header, data, _ = client.wrap_winrm(b"ping")
    assert acceptor.sealer.unwrap_winrm(header, data) == b"ping"


def test_unused_environment_is_not_entered_on_the_direct_path(users: Path) -> None:
    entered: list[int] = []

    def environment() -> AbstractContextManager[None]:
        entered.append(1)
        return nullcontext()

    client = _client("alice", "Passw0rd!")
    ours = NtlmAcceptor(users, None, environment)
    ours.step(client.step(ours.step(client.step())))
    assert ours.complete and not entered
