"""apply's worker processes, the parent's side: start them, hand them jobs in start order
(jobs.py's Schedule) as they have room, adopt every event they report into the run's
ledger (which writes the audit log, the recap and the live view), and write each
logoff_sent record before answering the worker that asked for it (worker.py).

A host's whole job runs in one worker with one connection, so a host's connection and
shell serve the whole phase there. The run's stop flag is shared: a stop request in the
parent reaches every worker, and a stop signal a worker receives stops the run. A worker
that dies costs only the hosts it was working on: each is settled as an internal error
with what is known (a logoff whose record was written is "result unknown"); the jobs left
go to the other workers, or run in this process when none is left.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, SpawnContext

from fleetlogoff.auth_guard import AuthFailureGuard
from fleetlogoff.events import ErrorInfo, Event
from fleetlogoff.executor.jobs import Job, Schedule, ThreadHosts, report_internal_error, settle_of
from fleetlogoff.executor.ledger import NOT_RECORDED, Ledger
from fleetlogoff.executor.settings import Work
from fleetlogoff.executor.steps import HostSteps
from fleetlogoff.executor.worker import SettableStop, WorkerSetup, process_main, serve

log = logging.getLogger(__name__)

# Below this many hosts per process, starting a process costs more than it saves (as for
# reading, collect.py).
MIN_HOSTS_PER_PROCESS = 50
_POLL_S = 0.2  # how soon a stop request in the parent reaches the workers, at worst
_JOIN_S = 10.0
WORKER_DIED = ErrorInfo("internal", "WorkerDied", "its worker process died")


@dataclass
class WorkerLink:
    """The parent's end of one worker.

    Attributes:
        jobs: where the parent's messages go.
        reports: where the worker's messages come from.
        join: waits for the worker to end, at most the seconds given.
        kill: ends a worker that did not end.
        capacity: jobs it runs at once.
        running: its jobs handed out and not done, by host index.
        alive: False once its line to the parent broke.
    """

    jobs: Connection
    reports: Connection
    join: Callable[[float], None]
    kill: Callable[[], None]
    capacity: int
    running: dict[int, Job] = field(default_factory=dict)
    alive: bool = True


@dataclass
class Crew:
    """Started workers, the stop flag they share and the lockout guard they share."""

    links: list[WorkerLink]
    shared_stop: SettableStop
    guard: AuthFailureGuard


Launch = Callable[[WorkerSetup, int], Crew]
"""Starts `count` workers for a setup (launch_processes; tests also use threads)."""


def launch_processes(setup: WorkerSetup, count: int, fork: bool | None = None) -> Crew:
    """Start `count` worker processes: forked when this process runs no other thread (no
    imports to repeat, nothing to pickle), spawned otherwise, since a fork copies locks
    that other threads may hold (`fork` decides instead, for tests)."""
    if fork is None:
        forkable = "fork" in multiprocessing.get_all_start_methods()
        fork = forkable and threading.active_count() == 1
    context: ForkContext | SpawnContext = (
        multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
    )
    shared_stop = context.Event()
    hosts = [w.host for w in setup.work]
    guard = AuthFailureGuard(hosts, setup.settings.auth_failure_limit, context)
    links: list[WorkerLink] = []
    for _ in range(count):
        jobs_reader, jobs = context.Pipe(duplex=False)
        reports, reports_writer = context.Pipe(duplex=False)
        inherited = [c for link in links for c in (link.jobs, link.reports)]
        process = context.Process(
            target=process_main,
            args=(setup, jobs_reader, reports_writer, inherited if fork else [],
                  shared_stop, guard),
            daemon=True,
        )  # fmt: skip
        process.start()
        jobs_reader.close()  # the worker's ends: theirs alone, so that a death reads as EOF
        reports_writer.close()
        links.append(WorkerLink(jobs, reports, process.join, process.terminate, setup.threads))
    how = "forked" if fork else "spawned"
    log.info("%d worker processes (%s), %d hosts at once in each", count, how, setup.threads)
    return Crew(links, shared_stop, guard)


def launch_threads(setup: WorkerSetup, count: int) -> Crew:
    """Workers on threads of this process, each with its own pipes and ledger: the same
    protocol without processes (the executor's tests run it with fake hosts and clocks)."""
    shared_stop = threading.Event()
    guard = AuthFailureGuard([w.host for w in setup.work], setup.settings.auth_failure_limit)
    links = []
    for number in range(count):
        jobs_reader, jobs = multiprocessing.Pipe(duplex=False)
        reports, reports_writer = multiprocessing.Pipe(duplex=False)
        local_stop = threading.Event()
        thread = threading.Thread(
            target=_serve_then_close,
            args=(setup, jobs_reader, reports_writer, shared_stop, local_stop, guard),
            name=f"apply-worker-{number}",
            daemon=True,
        )
        thread.start()
        links.append(WorkerLink(jobs, reports, thread.join, jobs.close, setup.threads))
    return Crew(links, shared_stop, guard)


def _serve_then_close(
    setup: WorkerSetup,
    jobs: Connection,
    reports: Connection,
    shared_stop: SettableStop,
    local_stop: threading.Event,
    guard: AuthFailureGuard,
) -> None:
    try:
        serve(setup, jobs, reports, shared_stop, local_stop, guard)
    finally:  # as a process's exit would: the parent reads EOF
        jobs.close()
        reports.close()


def processes_for(hosts: int, processes: int, min_hosts: int = MIN_HOSTS_PER_PROCESS) -> int:
    """Worker processes a run of `hosts` gets when `processes` are allowed: all of them,
    or none (this process does the work) when the fleet is too small to share."""
    return processes if processes > 1 and hosts >= processes * min_hosts else 0


def threads_per_worker(forks: int, processes: int) -> int:
    """Hosts at once in each worker: the run's --forks, shared."""
    return max(1, math.ceil(forks / processes))


class WorkerPool:
    """Runs jobs in worker processes; this process keeps the ledger.

    Args:
        crew: the started workers.
        ledger: the run's ledger (the authority on every target).
        steps: this process's own steps (settling a dead worker's hosts, running jobs
            here when no worker is left).
        work: the run's work.
        stop: the run's stop flag in this process.
        forks: hosts at once when jobs run here.
    """

    def __init__(
        self,
        crew: Crew,
        ledger: Ledger,
        steps: HostSteps,
        work: Sequence[Work],
        stop: threading.Event,
        forks: int,
    ) -> None:
        self._crew = crew
        self._ledger = ledger
        self._steps = steps
        self._work = work
        self._stop = stop
        self._here = ThreadHosts(steps, work, forks)

    def run(self, jobs: Sequence[Job]) -> list[bool]:
        """Run `jobs`; each one's result, in the order given."""
        schedule = Schedule(jobs, self._work)
        results: dict[int, bool] = {}
        try:
            while schedule.pending or self._running():
                self._sync_stop()
                if not self._alive():
                    rest = schedule.drain()
                    results.update(zip([j.index for j in rest], self._here.run(rest), strict=True))
                    continue
                self._hand_out(schedule)
                self._receive(schedule, results)
            self._sync_stop()  # a stop a worker saw is the run's before the policy asks
        except BaseException:
            self._abandon(schedule, results)
            raise
        return [results[j.index] for j in jobs]

    def close(self) -> None:
        """Let the workers go (every job is done), and wait for them."""
        for link in self._crew.links:
            if link.alive:
                self._send(link, ("close",))
        for link in self._crew.links:
            link.join(_JOIN_S)
            link.kill()  # a no-op for a worker that has ended

    # -- the loop -----------------------------------------------------------------------

    def _running(self) -> int:
        return sum(len(link.running) for link in self._crew.links)

    def _alive(self) -> list[WorkerLink]:
        return [link for link in self._crew.links if link.alive]

    def _sync_stop(self) -> None:
        """One stop flag for the run: the parent's (signals here, a failed audit log)
        and the workers' (a signal to a worker)."""
        if self._stop.is_set():
            if not self._crew.shared_stop.is_set():
                self._crew.shared_stop.set()
        elif self._crew.shared_stop.is_set():
            self._stop.set()

    def _hand_out(self, schedule: Schedule) -> None:
        """Give each worker jobs while it has room, the emptiest first."""
        while True:
            link = max(self._alive(), key=lambda w: w.capacity - len(w.running), default=None)
            if link is None or len(link.running) >= link.capacity:
                return
            job = schedule.take()
            if job is None:
                return
            book = self._ledger.snapshot(self._work[job.index].host.name)
            if self._send(link, ("job", job, book)):
                link.running[job.index] = job
            else:
                schedule.give_back(job)  # it never reached the worker

    def _receive(self, schedule: Schedule, results: dict[int, bool]) -> None:
        """Take in what the workers sent; what arrives together is written together."""
        by_line = {link.reports: link for link in self._alive()}
        inbox: list[tuple[WorkerLink, tuple[object, ...]]] = []
        lost = []
        for ready in wait(list(by_line), timeout=_POLL_S):
            link = by_line[ready]  # type: ignore[index]  # wait returns the objects given
            try:
                while link.reports.poll():
                    inbox.append((link, link.reports.recv()))
            except (EOFError, OSError):
                lost.append(link)
        self._take_in(inbox, schedule, results)
        for link in lost:
            self._lost(link, schedule, results)

    def _take_in(
        self,
        inbox: list[tuple[WorkerLink, tuple[object, ...]]],
        schedule: Schedule,
        results: dict[int, bool],
    ) -> None:
        """Book the events and check the logoff_sent records asked for, write them all at
        once (one fsync), then answer each request and note each job done."""
        out: list[Event] = []
        asks: list[tuple[WorkerLink, object, list[str | None], list[Event]]] = []
        done: list[tuple[WorkerLink, int, bool]] = []
        for link, message in inbox:
            kind = message[0]
            if kind == "event":
                event = _event(message[1])
                if self._ledger.book(event, _deadline(message[2])):
                    out.append(event)
            elif kind == "pre":
                events = [_event(e) for e in _items(message[2])]
                verdicts = self._ledger.check_logoffs(events)
                asks.append((link, message[1], verdicts, events))
                out.extend(e for e, why in zip(events, verdicts, strict=True) if why is None)
            else:  # done
                done.append((link, _index(message[1]), bool(message[2])))
        kept = {id(e): ok for e, ok in zip(out, self._ledger.publish_many(out), strict=True)}
        for link, request, verdicts, events in asks:
            answers = [
                why if why is not None else None if kept[id(e)] else NOT_RECORDED
                for e, why in zip(events, verdicts, strict=True)
            ]
            written = [e for e, answer in zip(events, answers, strict=True) if answer is None]
            self._ledger.commit_logoffs(written)
            if not self._send(link, ("verdicts", request, answers)):
                link.alive = False  # its EOF settles its hosts
        for link, index, ok in done:
            schedule.finished(link.running.pop(index))
            results[index] = ok

    def _send(self, link: WorkerLink, message: tuple[object, ...]) -> bool:
        try:
            link.jobs.send(message)
        except (OSError, ValueError):
            link.alive = False
            return False
        return True

    def _lost(self, link: WorkerLink, schedule: Schedule, results: dict[int, bool]) -> None:
        """A worker died: its hosts are settled with what is known; credentials it was
        trying are let go, so no other worker waits on it for ever."""
        link.alive = False
        self._crew.guard.abandon()
        log.warning("a worker process died; %d host(s) it held are settled", len(link.running))
        for index, job in sorted(link.running.items()):
            settle = settle_of(self._steps, job)
            report_internal_error(self._ledger, self._work[index], WORKER_DIED, settle)
            schedule.finished(job)
            results[index] = False
        link.running.clear()

    def _abandon(self, schedule: Schedule, results: dict[int, bool]) -> None:
        """A bug in this loop: end the workers, settle what they held; later phases (the
        cancel notices) run in this process."""
        for link in self._crew.links:
            link.kill()
            if link.alive:
                self._lost(link, schedule, results)


# What a worker sends is checked for its shape: a bug there is an error, not a wrong act.


def _event(value: object) -> Event:
    if not isinstance(value, Event):
        raise TypeError(f"a worker sent {type(value).__name__}, not an Event")
    return value


def _deadline(value: object) -> datetime | None:
    if value is not None and not isinstance(value, datetime):
        raise TypeError(f"a worker sent {type(value).__name__}, not a deadline")
    return value


def _items(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"a worker sent {type(value).__name__}, not a list")
    return value


def _index(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"a worker sent {type(value).__name__}, not a host index")
    return value
