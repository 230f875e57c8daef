"""Hosts at once: fitted to the descriptor limit; one endpoint named twice takes turns."""

from __future__ import annotations

import threading
from collections import defaultdict

from fleetlogoff.collect import CollectOptions, _shares, gather, start_reading
from fleetlogoff.concurrency import DEFAULT_FORKS, endpoint_limits, fit_forks, forks_within
from fleetlogoff.model import Connection, Host, Secret
from fleetlogoff.transport import CommandOutput, HostSession


def _host(name: str, address: str, port: int = 5985) -> Host:
    return Host(name, ("all",), Connection(address, port, username="u", password=Secret("p")))


def test_forks_fit_the_open_file_limit() -> None:
    assert forks_within(200, None) == 200
    assert forks_within(200, 1024) == 200
    assert forks_within(500, 1024) == (1024 - 64) // 3
    assert forks_within(50, 10) == 1  # never none at all
    assert 1 <= fit_forks(DEFAULT_FORKS) <= DEFAULT_FORKS


def test_only_endpoints_named_twice_get_a_turn() -> None:
    hosts = [_host("a", "10.0.0.1"), _host("a-alias", "10.0.0.1"), _host("b", "10.0.0.2")]
    hosts.append(_host("c", "10.0.0.1", 5986))  # another port: another endpoint
    limits = endpoint_limits(hosts)
    assert set(limits) == {"a", "a-alias"} and limits["a"] is limits["a-alias"]


def test_entries_of_one_endpoint_share_a_worker_process() -> None:
    hosts = [_host(f"h{n}", f"10.0.0.{n % 3}") for n in range(9)]
    shares = _shares(hosts, 2)
    assert sorted(i for share in shares for i in share) == list(range(9))
    for share in shares:
        addresses = {hosts[i].connection.address for i in share}
        assert all(
            hosts[j].connection.address not in addresses
            for s in shares
            if s is not share
            for j in s
        )


class _Session:
    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        return CommandOutput(b"No User exists for *\r\n", b"", 1)

    def close(self) -> None:
        return None


class PairingConnector:
    """Each open waits until a host of the other endpoint is opening too (a barrier of
    two), and records any moment when one endpoint had two opens at once."""

    def __init__(self) -> None:
        self.busy: dict[str, int] = defaultdict(int)
        self.overlaps = 0
        self._lock = threading.Lock()
        self._pair = threading.Barrier(2, timeout=30)  # the timeout only ends a broken run

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        address = host.connection.address
        with self._lock:
            self.busy[address] += 1
            self.overlaps += self.busy[address] > 1
        try:
            self._pair.wait()
        finally:
            with self._lock:
                self.busy[address] -= 1
        return _Session()


def test_an_endpoint_named_five_times_is_read_one_entry_at_a_time() -> None:
    hosts = [_host(f"a{n}", "10.0.0.1") for n in range(5)]
    hosts += [_host(f"b{n}", "10.0.0.2") for n in range(5)]
    connector = PairingConnector()
    readings = gather(start_reading(hosts, connector, CollectOptions(forks=10)), hosts)
    assert connector.overlaps == 0
    assert [r.status for r in readings] == ["ok"] * 10
