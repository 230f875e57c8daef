"""collect on its own: readings in inventory order whatever order hosts finish in, a bug in
one host's work is that host's error, transient transport errors are retried, the rest not."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from fleetlogoff.collect import (
    CollectOptions,
    HostReading,
    collect_host,
    gather,
    iterate_fleet,
    received_reading,
    sent_form,
    start_reading,
)
from fleetlogoff.model import Doubt, Host, Session, SessionState
from fleetlogoff.transport import CommandOutput
from tests.executor.fakes import FakeConnector, FakeTime, Fault, inventory_hosts, lab_host, stale

NO_PAUSE = CollectOptions(forks=4, retries=2, retry_pause_s=0.0)


def _setup(names: list[str], faults: list[Fault] | None = None) -> tuple[list[Host], FakeConnector]:
    time = FakeTime()
    sims = [lab_host(n, time, stale(2, f"{n}-user", time)) for n in names]
    return inventory_hosts(names), FakeConnector(sims, time, faults or [])


def test_gather_returns_inventory_order_and_tells_each_as_it_comes() -> None:
    hosts = inventory_hosts(["a", "b", "c"])
    finished = [
        HostReading(hosts[2], "ok"),
        HostReading(hosts[0], "ok"),
        HostReading(hosts[1], "error"),
    ]
    told: list[str] = []
    readings = gather(iter(finished), hosts, on_done=lambda r: told.append(r.host.name))
    assert [r.host.name for r in readings] == ["a", "b", "c"]
    assert told == ["c", "a", "b"]


def test_iterate_fleet_turns_a_bug_into_that_hosts_error() -> None:
    hosts = inventory_hosts(["good", "buggy"])

    def work(host: Host) -> HostReading:
        if host.name == "buggy":
            raise KeyError("oops")
        return HostReading(host, "ok")

    readings = {r.host.name: r for r in iterate_fleet(hosts, work, NO_PAUSE)}
    assert readings["good"].status == "ok"
    assert readings["buggy"].status == "error"
    assert readings["buggy"].error == "internal error: KeyError: 'oops'"


def test_iterate_fleet_of_nobody_yields_nothing() -> None:
    results: Iterator[HostReading] = iterate_fleet([], lambda h: HostReading(h, "ok"), NO_PAUSE)
    assert list(results) == []


def test_sessions_are_read_and_parsed() -> None:
    hosts, connector = _setup(["rds1", "rds2"])
    readings = gather(start_reading(hosts, connector, NO_PAUSE), hosts)
    assert [r.status for r in readings] == ["ok", "ok"]
    assert [s.username for s in readings[0].sessions] == ["rds1-user"]


def test_a_transient_error_is_retried() -> None:
    hosts, connector = _setup(["rds1"], [Fault("rds1", "quser", nth=1, kind="reset")])
    reading = collect_host(hosts[0], connector, NO_PAUSE)
    assert reading.status == "ok" and reading.attempts == 2


def test_retries_are_bounded() -> None:
    hosts, connector = _setup(["rds1"], [Fault("rds1", "quser", nth=0, kind="reset")])
    reading = collect_host(hosts[0], connector, NO_PAUSE)
    assert reading.status == "error" and reading.attempts == 3


def test_an_unreachable_host_is_not_retried() -> None:
    hosts, connector = _setup(["rds1"], [Fault("rds1", "open", nth=0, kind="unreachable")])
    reading = collect_host(hosts[0], connector, NO_PAUSE)
    assert reading.status == "unreachable" and reading.attempts == 1


def test_output_that_cannot_be_read_keeps_the_raw_text() -> None:
    garbage = CommandOutput(b"this is not quser\r\n", b"", 0)
    hosts, connector = _setup(["rds1"], [Fault("rds1", "quser", kind=None, output=garbage)])
    reading = collect_host(hosts[0], connector, NO_PAUSE)
    assert reading.status == "error" and "this is not quser" in reading.raw


def test_a_bugs_traceback_is_for_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fleetlogoff.collect")
    hosts = inventory_hosts(["buggy"])

    def work(host: Host) -> HostReading:
        raise RuntimeError("bug")

    assert [r.status for r in iterate_fleet(hosts, work, NO_PAUSE)] == ["error"]
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert with_traceback and all(r.levelno == logging.DEBUG for r in with_traceback)


def test_a_reading_crosses_from_a_worker_unchanged() -> None:
    hosts, connector = _setup(["rds1", "rds2"])
    read = collect_host(hosts[1], connector, NO_PAUSE)
    assert read.facts is not None and read.sessions  # a real reading, with its facts
    doubtful = Session(
        7,
        "CORP\\ann",
        "rdp-tcp#3",
        SessionState.DISCONNECTED,
        "Disc",
        None,
        "*",
        datetime(2026, 3, 29, 2, 30),
        "3/29/2026 2:30 AM",
        current=True,
        doubts=(Doubt("idle", "idle time '*'"), Doubt("user", "two names")),
    )
    readings = [
        read,
        replace(read, sessions=(*read.sessions, doubtful), attempts=2),
        HostReading(hosts[1], "unreachable", "connection refused", attempts=3),
        HostReading(hosts[0], "error", "cannot parse", raw="garbage\r\n"),
    ]
    for reading in readings:
        index = hosts.index(reading.host)
        wire = pickle.loads(pickle.dumps(sent_form(index, reading)))
        back = received_reading(hosts, wire)
        assert back == reading
        assert back.host is hosts[index]  # the parent's own Host, never a pickled copy
