"""A worker process of apply: it runs the jobs its parent hands it (warn a host, remind,
log off, tell users it is cancelled) on a thread pool, and reports every event to the
parent as it happens. The parent keeps the run's ledger and the audit log (workers.py).

The worker books into a ledger of its own, restored from the parent's book of a host
before each of that host's jobs. Each logoff_sent record is the parent's to write: the
worker asks, and runs a logoff only when the parent answered that its record is on disk.
A worker whose parent is gone stops starting acts and never logs anyone off.

Messages, parent to worker: ("job", Job, HostBook), ("verdicts", request id, answers),
("close",). Worker to parent: ("event", Event, deadline or None), ("pre", request id,
[Event]), ("done", host index, ok).
"""

from __future__ import annotations

import itertools
import logging
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from types import FrameType
from typing import Protocol

from fleetlogoff.auth_guard import AuthFailureGuard
from fleetlogoff.concurrency import fit_forks
from fleetlogoff.events import Event
from fleetlogoff.executor.jobs import Job, run_job
from fleetlogoff.executor.ledger import HostBook, Ledger
from fleetlogoff.executor.settings import ApplySettings, Clock, Sleep, StopFlag, Work
from fleetlogoff.executor.steps import HostSteps
from fleetlogoff.planner import Selection
from fleetlogoff.transport import Connector

log = logging.getLogger(__name__)

PARENT_GONE = "the parent process is gone: no record, no act"
# What asks a run to stop (as in cli/apply.py): Ctrl-C reaches every process of the
# terminal's group, a service manager may signal every process of the run. In a worker
# they only ask the run to stop; the worker itself never dies mid-act from them.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_POLL_S = 0.2


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to do any host's jobs (inherited by a forked worker, pickled
    for a spawned one).

    Attributes:
        work: the run's hosts with targets; jobs name them by index.
        selection: the rules, to check each target is still selected before acting.
        connector: opens host sessions.
        settings: how to carry out the plan.
        clock: the current time, UTC-aware.
        sleep: pauses between retries and confirmation reads.
        threads: hosts at once in this worker.
    """

    work: Sequence[Work]
    selection: Selection
    connector: Connector
    settings: ApplySettings
    clock: Clock
    sleep: Sleep
    threads: int


class SettableStop(StopFlag, Protocol):
    """A stop flag that can also be set (threading.Event, multiprocessing's Event)."""

    def set(self) -> None:
        """Ask the run to stop."""
        ...


class _EitherStop:
    """Stopped when the run was asked to (the shared flag) or this worker was (a signal,
    or its parent gone); a stop this worker sees first is passed on to the whole run."""

    def __init__(self, shared: SettableStop, local: threading.Event) -> None:
        self._shared = shared
        self._local = local
        self.orphaned = threading.Event()  # the parent is gone: nobody else to tell

    def is_set(self) -> bool:
        if self._local.is_set():
            if not self._shared.is_set():
                self._shared.set()  # here, not in the signal handler: it takes a lock
            return True
        return self.orphaned.is_set() or self._shared.is_set()


class Channel:
    """The worker's line to its parent, shared by the worker's threads."""

    def __init__(self, to_parent: Connection) -> None:
        self._conn = to_parent
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._waiting: dict[int, tuple[Future[list[str | None]], int]] = {}
        self._gone = False

    def send(self, message: tuple[object, ...]) -> bool:
        """Send one message; False when the parent is gone."""
        with self._lock:
            if self._gone:
                return False
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                self._gone = True
                return False
        return True

    def ask(self, events: Sequence[Event]) -> list[str | None]:
        """Have the parent write these logoff_sent records; per record None when it is
        on disk (its logoff may run), else why not."""
        answer: Future[list[str | None]] = Future()
        with self._lock:
            request = next(self._ids)
            self._waiting[request] = (answer, len(events))
        if not self.send(("pre", request, list(events))):
            self._forget(request)
            return [PARENT_GONE] * len(events)
        return answer.result()

    def answer(self, request: int, verdicts: list[str | None]) -> None:
        """The parent's answer to a request."""
        answer = self._forget(request)
        if answer is not None:
            answer.set_result(verdicts)

    def close(self) -> None:
        """The parent is gone: every request waiting is refused, nothing more is sent."""
        with self._lock:
            self._gone = True
            waiting, self._waiting = self._waiting, {}
        for answer, count in waiting.values():
            answer.set_result([PARENT_GONE] * count)

    def _forget(self, request: int) -> Future[list[str | None]] | None:
        with self._lock:
            entry = self._waiting.pop(request, None)
        return entry[0] if entry is not None else None


class WorkerLedger(Ledger):
    """A worker's ledger: books like the parent's, sends each event to the parent, and
    has the parent write the logoff_sent records."""

    def __init__(
        self, work: Sequence[Work], channel: Channel, clock: Clock, *, warning_required: bool
    ) -> None:
        super().__init__(work, _never, clock, warning_required=warning_required)
        self._channel = channel

    def _publish(self, event: Event, deadline: datetime | None = None) -> None:
        self._channel.send(("event", event, deadline))

    def _pre_record(self, events: Sequence[Event]) -> list[str | None]:
        return self._channel.ask(events)


def _never(event: Event) -> None:
    raise AssertionError(f"a worker's ledger sends its events to the parent: {event.kind}")


def serve(
    setup: WorkerSetup,
    jobs: Connection,
    to_parent: Connection,
    shared_stop: SettableStop,
    local_stop: threading.Event,
    guard: AuthFailureGuard | None,
) -> None:
    """Run the parent's jobs until it says close or is gone.

    Args:
        setup: what the jobs need.
        jobs: the parent's messages.
        to_parent: where events, record requests and results go.
        shared_stop: the run's stop flag, shared with the parent and the other workers.
        local_stop: set by this worker's signal handlers.
        guard: the run's lockout guard, shared with the other workers.
    """
    channel = Channel(to_parent)
    stop = _EitherStop(shared_stop, local_stop)
    required = setup.settings.warn > timedelta(0)
    ledger = WorkerLedger(setup.work, channel, setup.clock, warning_required=required)
    steps = HostSteps(
        ledger=ledger,
        selection=setup.selection,
        connector=setup.connector,
        settings=setup.settings,
        clock=setup.clock,
        stop=stop,
        sleep=setup.sleep,
        facts={w.host.name: w.plan.facts for w in setup.work},
        guard=guard,
    )

    def do(job: Job) -> None:
        ok = run_job(steps, setup.work[job.index], job)
        channel.send(("done", job.index, ok))

    with ThreadPoolExecutor(max_workers=fit_forks(max(1, setup.threads))) as pool:
        while True:
            if local_stop.is_set() and not shared_stop.is_set():
                shared_stop.set()  # a signal to this worker stops the whole run
            try:
                if not jobs.poll(_POLL_S):
                    continue
                message = jobs.recv()
            except (EOFError, OSError):
                stop.orphaned.set()  # the parent is gone: nothing new starts
                channel.close()
                break
            if message[0] == "job":
                ledger.restore(check_book(message[2]))
                pool.submit(do, message[1])
            elif message[0] == "verdicts":
                channel.answer(message[1], message[2])
            else:  # close: the parent has every job's result
                break


def process_main(
    setup: WorkerSetup,
    jobs: Connection,
    to_parent: Connection,
    inherited: Sequence[Connection],
    shared_stop: SettableStop,
    guard: AuthFailureGuard,
) -> None:
    """A worker process's entry point: stop signals only ask the run to stop."""
    for connection in inherited:  # a forked worker's copies of the parent's other pipes
        connection.close()
    local_stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        local_stop.set()

    for number in STOP_SIGNALS:
        signal.signal(number, request_stop)
    serve(setup, jobs, to_parent, shared_stop, local_stop, guard)


def check_book(book: object) -> HostBook:
    """A host's book as the parent sent it."""
    if not isinstance(book, HostBook):
        raise TypeError(f"expected a HostBook, got {type(book).__name__}")
    return book
