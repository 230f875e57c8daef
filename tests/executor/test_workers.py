"""The process model: hosts in worker processes, the ledger and the audit trail in the
parent. The workers run on threads here (the same pipes, messages and ledgers as worker
processes, with the fake hosts and clock shared); tests/integration/test_apply_workers.py
runs real processes."""

from __future__ import annotations

import functools
import threading
from dataclasses import replace
from datetime import timedelta
from multiprocessing import Pipe
from multiprocessing.connection import Connection

from fleetlogoff.auth_guard import AuthFailureGuard
from fleetlogoff.events import Event, Kind
from fleetlogoff.executor import ApplySettings, Work
from fleetlogoff.executor.jobs import Job, Schedule
from fleetlogoff.executor.ledger import Ledger
from fleetlogoff.executor.worker import WorkerSetup, serve
from fleetlogoff.executor.workers import (
    Crew,
    WorkerLink,
    launch_processes,
    processes_for,
    threads_per_worker,
)
from fleetlogoff.lab.host import SimHost
from fleetlogoff.model import Session

from .fakes import (
    FakeTime,
    Fault,
    Run,
    SharedFakeTime,
    assert_warned_before_every_logoff,
    lab_host,
    stale,
)

WARN = ApplySettings(warn=timedelta(minutes=5), forks=2)


class WorkerDies(BaseException):
    """Ends a worker's job as a process's death would: no result, no more events."""


class Workers:
    """Launches workers on threads and keeps their ends, so a test can stop one (as a
    signal would) or kill one (as a crash would: its pipes close, its job ends)."""

    def __init__(self) -> None:
        self.local_stops: list[threading.Event] = []
        self.ends: list[tuple[Connection, Connection]] = []

    def launch(self, setup: WorkerSetup, count: int) -> Crew:
        shared_stop = threading.Event()
        guard = AuthFailureGuard([w.host for w in setup.work], setup.settings.auth_failure_limit)
        links = []
        for _ in range(count):
            jobs_reader, jobs = Pipe(duplex=False)
            reports, reports_writer = Pipe(duplex=False)
            local = threading.Event()
            self.local_stops.append(local)
            self.ends.append((jobs_reader, reports_writer))
            args = (setup, jobs_reader, reports_writer, shared_stop, local, guard)
            thread = threading.Thread(target=serve, args=args, daemon=True)
            thread.start()
            links.append(WorkerLink(jobs, reports, thread.join, jobs.close, setup.threads))
        return Crew(links, shared_stop, guard)

    def kill(self, index: int) -> None:
        for end in self.ends[index]:
            end.close()
        raise WorkerDies()


def fleet(time: FakeTime, count: int) -> list[SimHost]:
    return [
        lab_host(f"rds-{i}", time, stale(2, f"u{i}a", time), stale(3, f"u{i}b", time))
        for i in range(count)
    ]


def test_two_workers_log_off_every_target_each_record_written_by_the_parent() -> None:
    time = FakeTime()
    run = Run(fleet(time, 6), time, WARN, workers=2).execute()
    assert run.workers_started == [2]
    assert set(run.outcomes().values()) == {Kind.LOGGED_OFF}
    assert_warned_before_every_logoff(run)
    sent = {(e.host, e.session_id) for e in run.of(Kind.LOGOFF_SENT)}
    assert sent == set(run.outcomes())
    # Every event reached the parent's sink once: one warning and one outcome per target.
    assert len(run.of(Kind.WARNED)) == len(run.of(Kind.LOGGED_OFF)) == 12
    phases = [e.reason for e in run.of(Kind.PHASE_STARTED)]
    assert phases == ["warning", "waiting", "logging_off", "confirming"]


def test_a_dead_worker_costs_only_its_hosts_and_the_rest_goes_on() -> None:
    """The only worker dies during rds-0's logoff, after the parent wrote its records: those
    targets are failed (result unknown), never claimed; the other hosts are done here."""
    time = FakeTime()
    workers = Workers()
    death = Fault("rds-0", "logoff", nth=1, kind=None, effect=lambda: workers.kill(0))
    settings = ApplySettings(warn=timedelta(minutes=5), forks=1)
    run = Run(fleet(time, 3), time, settings, faults=[death], workers=1, launch=workers.launch)
    run.execute()
    outcomes = run.outcomes()
    assert {outcomes[("rds-0", s)] for s in (2, 3)} == {Kind.FAILED}
    assert all("result unknown" in e.reason for e in run.of(Kind.FAILED))
    assert {outcomes[(f"rds-{i}", s)] for i in (1, 2) for s in (2, 3)} == {Kind.LOGGED_OFF}
    internal = run.of(Kind.INTERNAL_ERROR)
    assert [e.host for e in internal] == ["rds-0"] and "worker process died" in internal[0].reason
    assert run.logoffs("rds-0") == []  # it died before the logoff ran
    assert_warned_before_every_logoff(run)


def test_a_stop_signal_to_a_worker_stops_the_whole_run() -> None:
    """SIGTERM or Ctrl-C reaching a worker (its handler sets its own flag) stops the run:
    nobody more is warned, nobody is logged off, the warned are told it is cancelled."""
    time = FakeTime()
    workers = Workers()
    signal = Fault("rds-0", "msg", nth=1, kind=None, effect=lambda: workers.local_stops[0].set())
    settings = ApplySettings(warn=timedelta(minutes=5), forks=1)
    run = Run(fleet(time, 3), time, settings, faults=[signal], workers=1, launch=workers.launch)
    run.execute()
    assert [e.reason for e in run.of(Kind.INTERRUPTED)] == [
        "during the warnings: nothing logged off"
    ]
    assert run.of(Kind.LOGOFF_SENT) == []
    # The signal arrives while rds-0's one guarded message command runs: both its users
    # were warned by it; no other host is.
    assert [e.username for e in run.of(Kind.WARNED)] == ["u0a", "u0b"]
    told = [e.username for e in run.of(Kind.CANCEL_NOTICE) if e.data["delivered"]]
    assert told == ["u0a", "u0b"]
    assert run.stop.is_set()


def test_the_parent_writes_a_logoff_record_only_when_its_book_allows_it() -> None:
    """Whatever a worker asks, the parent's ledger checks the target was warned, its
    deadline has come and it has no outcome yet, before the record is written."""
    time = FakeTime()
    run = Run(fleet(time, 1), time, WARN)
    plan = run.make_plan()
    emitted: list[Event] = []
    work = [Work(run.hosts[0], plan.hosts[0])]
    ledger = Ledger(work, emitted.append, time.clock, warning_required=True)
    ann, bob = (t.session for t in plan.hosts[0].targets)

    def ask(*sessions: Session) -> list[str | None]:
        return ledger.adopt_pre_records(
            [Event(Kind.LOGOFF_SENT, time.clock(), "rds-0", s.id, s.username) for s in sessions]
        )

    assert ask(ann) == ["no warning was delivered to this session"]
    ledger.promise("rds-0", ann, time.clock() + timedelta(minutes=5), "text")
    assert ask(ann) == ["its warning's deadline has not come"]
    time.advance(300)
    ledger.outcome(Kind.SPARED, "rds-0", bob, "active again")
    assert ask(ann, bob) == [None, "it already has an outcome (spared)"]
    assert [e.kind for e in emitted if e.kind == Kind.LOGOFF_SENT] == [Kind.LOGOFF_SENT]
    assert ledger.was_sent("rds-0", ann) and not ledger.was_sent("rds-0", bob)


def test_a_worker_starts_from_the_parents_book_of_a_host() -> None:
    time = FakeTime()
    run = Run(fleet(time, 1), time, WARN)
    plan = run.make_plan()
    work = [Work(run.hosts[0], plan.hosts[0])]
    parent = Ledger(work, lambda e: None, time.clock, warning_required=True)
    ann, bob = (t.session for t in plan.hosts[0].targets)
    deadline = time.clock() + timedelta(minutes=5)
    parent.promise("rds-0", ann, deadline, "text")
    parent.outcome(Kind.NOT_WARNED, "rds-0", bob, "msg failed")
    worker = Ledger(work, lambda e: None, time.clock, warning_required=True)
    worker.restore(parent.snapshot("rds-0"))
    assert worker.deadline("rds-0", ann) == deadline
    assert worker.open_targets("rds-0") == [ann]
    assert worker.snapshot("rds-0") == parent.snapshot("rds-0")


def test_hosts_start_costliest_first_and_one_at_a_time_per_endpoint() -> None:
    time = FakeTime()
    sims = [
        lab_host("one", time, stale(2, "a", time)),
        lab_host("three", time, stale(2, "b", time), stale(3, "c", time), stale(4, "d", time)),
        lab_host("alias", time, stale(2, "e", time)),
        lab_host("two", time, stale(2, "f", time), stale(3, "g", time)),
    ]
    run = Run(sims, time, WARN)
    plan = run.make_plan()
    # "alias" names the same machine as "three" (another name for one address and port).
    three = run.hosts[1].connection
    hosts = [replace(h, connection=three) if h.name == "alias" else h for h in run.hosts]
    work = [Work(h, p) for h, p in zip(hosts, plan.hosts, strict=True)]
    schedule = Schedule([Job("warn", i) for i in range(4)], work)
    # "three" and "alias" run one after the other: together the longest, so first.
    started = [schedule.take() for _ in range(3)]
    assert [work[j.index].host.name for j in started if j] == ["three", "two", "one"]
    assert schedule.take() is None  # alias waits for its endpoint
    assert started[0] is not None
    schedule.finished(started[0])
    alias = schedule.take()
    assert alias is not None and work[alias.index].host.name == "alias"
    assert schedule.pending == 0


def test_how_many_workers_and_threads() -> None:
    assert processes_for(1000, 2) == 2
    assert processes_for(99, 2) == 0  # too small to share: this process does it
    assert processes_for(1000, 1) == 0
    assert threads_per_worker(200, 2) == 100
    assert threads_per_worker(5, 4) == 2


def test_lockout_guard_stops_trying_a_rejected_password_across_the_fleet() -> None:
    """Issue 9.5 in apply: a password that fails on 3 hosts with no success anywhere is
    not tried on the others; their users are not warned and say why."""
    time = FakeTime()
    sims = fleet(time, 6)
    run = Run(sims, time, ApplySettings(warn=timedelta(minutes=5), forks=1))
    run.make_plan()
    rejections = [Fault(s.name, "open", nth=0, kind="auth_failed") for s in sims]
    run.connector.faults.extend(rejections)
    run.execute()
    assert sum(f.seen for f in rejections) == 3  # three attempts, then none
    outcomes = run.outcomes()
    assert set(outcomes.values()) == {Kind.NOT_WARNED}
    refused = [e for e in run.of(Kind.NOT_WARNED) if "lockout" in e.reason]
    assert {e.host for e in refused} == {f"rds-{i}" for i in range(3, 6)}
    assert all(m == [] for m in (run.messages(s.name) for s in sims))


def test_lockout_guard_lets_proven_credentials_go_on() -> None:
    """Once a host accepted the password, a few hosts rejecting it (local accounts, a host
    outside the domain) do not stop the others."""
    time = FakeTime()
    sims = fleet(time, 6)
    run = Run(sims, time, ApplySettings(warn=timedelta(0), forks=1))
    run.make_plan()
    run.connector.faults.extend(
        Fault(f"rds-{i}", "open", nth=0, kind="auth_failed") for i in (1, 2, 3, 4)
    )
    run.execute()
    outcomes = run.outcomes()
    assert {outcomes[(f"rds-{i}", s)] for i in (0, 5) for s in (2, 3)} == {Kind.LOGGED_OFF}
    assert not any("lockout" in e.reason for e in run.of(Kind.NOT_ATTEMPTED))


def test_forked_worker_processes_carry_out_the_run() -> None:
    """Real processes, forked (the fake hosts' state stays in each worker: the events the
    parent recorded tell what happened)."""
    time = SharedFakeTime()
    launch = functools.partial(launch_processes, fork=True)
    settings = ApplySettings(warn=timedelta(minutes=5), forks=4)
    run = Run(fleet(time, 4), time, settings, workers=2, launch=launch).execute()
    assert run.workers_started == [2]
    assert set(run.outcomes().values()) == {Kind.LOGGED_OFF}
    seen = {(e.kind, e.host, e.session_id): n for n, e in enumerate(run.events)}
    for host, session_id in run.outcomes():
        warned = seen[(Kind.WARNED, host, session_id)]
        sent = seen[(Kind.LOGOFF_SENT, host, session_id)]
        assert warned < sent < seen[(Kind.LOGGED_OFF, host, session_id)]
    deadlines = {e.data["deadline"] for e in run.of(Kind.WARNED)}
    assert deadlines == {"2026-03-13T09:05:00+00:00"}  # the shared clock, in every worker
