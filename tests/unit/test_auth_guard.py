"""The account-lockout guard: a few rejections of the same credentials stop new hosts."""

from __future__ import annotations

import logging
import threading
from collections import Counter

import pytest

from fleetlogoff.auth_guard import WAIT, AuthFailureGuard, Outcome
from fleetlogoff.collect import CollectOptions, gather, start_reading
from fleetlogoff.errors import TransportError
from fleetlogoff.model import Connection, Host, Secret
from fleetlogoff.transport import CommandOutput, HostSession

QUSER = (
    b" USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME\r\n"
    b" alice                 rdp-tcp#1           2  Active          .  3/4/2026 9:15 AM\r\n"
)


def _host(name: str, user: str = "CORP\\svc", password: str = "pw") -> Host:
    connection = Connection(name, 5985, username=user, password=Secret(password))
    return Host(name, ("all",), connection)


class _Session:
    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        return CommandOutput(QUSER, b"", 0)

    def close(self) -> None:
        return None


class FakeConnector:
    """Rejects the credentials of hosts whose password is "wrong"; counts attempts."""

    def __init__(self, rejected: set[str] | None = None) -> None:
        self.attempts: Counter[str] = Counter()
        self._rejected = rejected or set()
        self._lock = threading.Lock()

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        with self._lock:
            self.attempts[host.name] += 1
        password = host.connection.password
        if host.name in self._rejected or (password and password.reveal() == "wrong"):
            raise TransportError(host.name, "auth_failed", "credentials rejected (HTTP 401)")
        return _Session()


def _read(
    hosts: list[Host], connector: FakeConnector, limit: int = 3, forks: int = 50
) -> dict[str, str]:
    options = CollectOptions(forks=forks, auth_failure_limit=limit, retry_pause_s=0)
    readings = gather(start_reading(hosts, connector, options), hosts)
    return {r.host.name: f"{r.status}: {r.error}" for r in readings}


def test_a_wrong_password_is_tried_on_three_hosts_only(caplog: pytest.LogCaptureFixture) -> None:
    hosts = [_host(f"rds{n:03}", password="wrong") for n in range(200)]
    connector = FakeConnector()
    with caplog.at_level(logging.WARNING):
        results = _read(hosts, connector)
    assert sum(connector.attempts.values()) == 3  # whatever the forks and the timing
    outcomes = Counter(results.values())
    assert outcomes == {
        "auth_failed: credentials rejected (HTTP 401)": 3,
        "error: not started: 3 authentication failures as CORP\\svc "
        "(account lockout protection)": 197,
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "stopped starting hosts that log on as CORP\\svc: 3 authentication failures and no "
        "success (protecting the account from lockout; --auth-failure-limit N changes the "
        "limit, 0 turns it off)"
    ]


def test_other_credentials_go_on_and_a_limit_of_zero_tries_everything() -> None:
    wrong = [_host(f"bad{n}", user="CORP\\old", password="wrong") for n in range(10)]
    right = [_host(f"good{n}", user="CORP\\svc", password="right") for n in range(10)]
    connector = FakeConnector()
    results = _read(wrong + right, connector, limit=2)
    assert all(results[h.name].startswith("ok") for h in right)
    assert sum(connector.attempts[h.name] for h in wrong) == 2
    connector = FakeConnector()
    _read(wrong, connector, limit=0)
    assert sum(connector.attempts.values()) == 10


def test_proven_credentials_are_not_stopped_by_later_rejections() -> None:
    """Once a host accepted them, a rejection is that host's own (a local account)."""
    hosts = [_host(f"rds{n:02}") for n in range(30)]
    rejected = {f"rds{n:02}" for n in range(1, 30, 3)}  # 10 hosts, all after rds00
    connector = FakeConnector(rejected)
    results = _read(hosts, connector, forks=1)  # one at a time: rds00 proves them first
    assert sum(connector.attempts.values()) == 30
    assert Counter(r.split(":")[0] for r in results.values()) == {"ok": 20, "auth_failed": 10}


def test_the_guard_lets_in_limit_attempts_until_proof_or_refusal() -> None:
    hosts = [_host(f"h{n}") for n in range(6)]
    guard = AuthFailureGuard(hosts, limit=3)
    assert [guard.try_enter(h) for h in hosts[:4]] == [None, None, None, WAIT]
    guard.leave(hosts[0], Outcome.REJECTED)
    assert guard.try_enter(hosts[3]) is WAIT  # 2 in flight + 1 rejection = 3
    guard.leave(hosts[1], Outcome.UNKNOWN)  # unreachable: the credentials were not judged
    assert guard.try_enter(hosts[3]) is None
    guard.prove(hosts[2])
    assert guard.try_enter(hosts[4]) is None and guard.try_enter(hosts[5]) is None


def test_the_guard_refuses_after_limit_rejections_without_proof() -> None:
    hosts = [_host(f"h{n}") for n in range(4)]
    guard = AuthFailureGuard(hosts, limit=2)
    for host in hosts[:2]:
        assert guard.try_enter(host) is None
        guard.leave(host, Outcome.REJECTED)
    refusal = guard.try_enter(hosts[2])
    assert isinstance(refusal, str) and guard.is_refusal(refusal)
    assert refusal == (
        "not started: 2 authentication failures as CORP\\svc (account lockout protection)"
    )
    guard.abandon()
    assert "worker process died" in str(guard.try_enter(hosts[3]))


def test_a_dead_worker_does_not_stop_credentials_already_proven() -> None:
    hosts = [_host(f"h{n}") for n in range(3)]
    guard = AuthFailureGuard(hosts, limit=2)
    assert guard.try_enter(hosts[0]) is None
    guard.leave(hosts[0], Outcome.PROVEN)
    guard.abandon()  # a worker died: only unproven credentials could be waiting on it
    assert guard.try_enter(hosts[1]) is None


class _NoLock:
    """A lock that fails the test when taken."""

    def __enter__(self) -> None:
        raise AssertionError("the lock was taken")

    def __exit__(self, *_: object) -> None:
        return None


def test_once_proven_hosts_enter_and_leave_without_the_shared_lock() -> None:
    hosts = [_host(f"h{n}") for n in range(5)]
    guard = AuthFailureGuard(hosts, limit=2)
    assert guard.enter(hosts[0]) is None
    guard.prove(hosts[0])
    guard.leave(hosts[0], Outcome.PROVEN)
    guard._cond = _NoLock()  # every step below would fail if it took the lock
    for host in hosts[1:]:
        assert guard.enter(host) is None and guard.try_enter(host) is None
        guard.prove(host)
        guard.leave(host, Outcome.REJECTED)  # a local account's rejection: its own business
    assert guard.try_enter(hosts[1]) is None
