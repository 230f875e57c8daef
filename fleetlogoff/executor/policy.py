"""The executor's policy: the phases (warning, the one shared wait with its reminders,
logoff in rolling batches, cancel notices), maintenance windows at the start, the failure
limit, and what a stop request or a bug in one host's work does to the rest.

What happens on each host is in steps.py (procedures) and acts.py (commands). Whatever ends
a run, every target ends with exactly one outcome, nobody is logged off without the warning
they were promised, and warned users whose logoff was never sent are told it is cancelled.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from fleetlogoff.auth_guard import AuthFailureGuard
from fleetlogoff.events import Kind
from fleetlogoff.executor.jobs import Job, ThreadHosts
from fleetlogoff.executor.ledger import Ledger
from fleetlogoff.executor.settings import (
    ApplySettings,
    Clock,
    Emit,
    EmitMany,
    RunResult,
    Sleep,
    Work,
)
from fleetlogoff.executor.steps import HostSteps
from fleetlogoff.executor.worker import WorkerSetup
from fleetlogoff.executor.workers import (
    Launch,
    WorkerPool,
    launch_processes,
    processes_for,
    threads_per_worker,
)
from fleetlogoff.messages import CANCEL_MESSAGE, REMINDER_MESSAGE
from fleetlogoff.model import Session
from fleetlogoff.planner import Selection
from fleetlogoff.transport import Connector

log = logging.getLogger(__name__)

Countdown = Callable[[float], None]


def _no_countdown(_remaining_s: float) -> None:
    return None


class Executor:
    """Runs the phases of apply over a set of hosts."""

    def __init__(
        self,
        work: Sequence[Work],
        *,
        selection: Selection,
        connector: Connector,
        settings: ApplySettings,
        emit: Emit,
        clock: Clock,
        stop: threading.Event,
        sleep: Sleep = time.sleep,
        emit_many: EmitMany | None = None,
    ) -> None:
        """Prepare a run.

        Args:
            work: the hosts with targets, and their part of the plan.
            selection: the rules, to check each target is still selected before acting.
            connector: opens host sessions.
            settings: how to carry out the plan.
            emit: where every event goes; raises RecordError when a record cannot be kept
                (then it must also set `stop`).
            clock: the current time, UTC-aware.
            stop: set when no new act may start (Ctrl-C, SIGTERM, SIGHUP, a failed audit).
            sleep: pauses between retries and confirmation reads.
            emit_many: where several events go at once (one fsync for a burst of events
                from the worker processes); None sends them to `emit` one by one.
        """
        self._work = list(work)
        self._index = {w.host.name: i for i, w in enumerate(self._work)}
        self._selection = selection
        self._connector = connector
        self._settings = settings
        self._clock = clock
        self._stop = stop
        self._sleep = sleep
        required = settings.warn > timedelta(0)
        self._ledger = Ledger(
            self._work, emit, clock, warning_required=required, emit_many=emit_many
        )
        hosts = [w.host for w in self._work]
        self._steps = self._make_steps(AuthFailureGuard(hosts, settings.auth_failure_limit))
        self._hosts: ThreadHosts | WorkerPool = ThreadHosts(self._steps, self._work, settings.forks)
        self._workers_tried = False
        self._interrupted = False

    def _make_steps(self, guard: AuthFailureGuard) -> HostSteps:
        return HostSteps(
            ledger=self._ledger,
            selection=self._selection,
            connector=self._connector,
            settings=self._settings,
            clock=self._clock,
            stop=self._stop,
            sleep=self._sleep,
            facts={w.host.name: w.plan.facts for w in self._work},
            guard=guard,
        )

    def start_workers(self, launch: Launch = launch_processes, count: int | None = None) -> int:
        """Start the worker processes now, when the fleet is large enough for them (the
        run starts them otherwise). Call it before starting threads of your own (a live
        display), so that they can be forked instead of spawned.

        Args:
            launch: how workers start (processes; tests also run them on threads).
            count: this many workers whatever the fleet's size (tests); None: the
                settings' processes, when the fleet is large enough.

        Returns:
            How many workers run the hosts (0: this process does).
        """
        if self._workers_tried:
            return 0
        self._workers_tried = True
        if count is None:
            count = processes_for(len(self._work), self._settings.processes)
        if count <= 0 or not self._work:
            return 0
        setup = WorkerSetup(
            self._work,
            self._selection,
            self._connector,
            self._settings,
            self._clock,
            self._sleep,
            threads_per_worker(self._settings.forks, count),
        )
        crew = launch(setup, count)
        self._steps = self._make_steps(crew.guard)  # one guard for the run, shared
        self._hosts = WorkerPool(
            crew, self._ledger, self._steps, self._work, self._stop, self._settings.forks
        )
        return count

    # -- the run ------------------------------------------------------------------------

    def run(self, countdown: Countdown = _no_countdown) -> RunResult:
        """Carry out every phase; `countdown` hears the seconds left until the logoffs
        during the shared wait."""
        self.start_workers()
        try:
            active = self._open_windows()
            if active:
                self._phases(active, countdown)
            return RunResult(hosts_in_window=len(active))
        finally:
            try:
                self._settle_the_rest()
                self._cancel_notices()
            finally:
                if isinstance(self._hosts, WorkerPool):
                    self._hosts.close()

    def _phases(self, active: list[Work], countdown: Countdown) -> None:
        if self._settings.warn > timedelta(0):
            self._ledger.phase("warning")
            self._run([Job("warn", self._index[w.host.name]) for w in active])
            if self._stopped("during the warnings: nothing logged off"):
                return
            deadline = self._ledger.latest_deadline()
            if deadline is None:
                return  # nobody was warned, so nobody may be logged off
            if not self._wait(deadline, countdown):
                self._stopped("during the wait: nothing logged off")
                return
        self._ledger.phase("logging_off")
        self._logoff_all(active)
        self._stopped("during logoff")

    def _stopped(self, when: str) -> bool:
        """Whether a stop was requested; the first time it is seen, it is recorded."""
        if self._stop.is_set() and not self._interrupted:
            self._interrupted = True
            self._ledger.event(Kind.INTERRUPTED, reason=when)
        return self._stop.is_set()

    def _settle_the_rest(self) -> None:
        """Targets nothing happened to (a stop request, or a bug in the run) say so."""
        self._stopped("before the end")
        why = "interrupted before it was acted on" if self._stop.is_set() else "run ended early"
        for work in self._work:
            for target in self._ledger.open_targets(work.host.name):
                self._ledger.outcome(Kind.NOT_ATTEMPTED, work.host.name, target, why)

    def _open_windows(self) -> list[Work]:
        """Hosts whose window stays open for the warning and the logoffs; the others are
        skipped, with every target's outcome saying why."""
        needed = self._settings.warn + self._settings.window_margin
        active = []
        for work in self._work:
            closed = self._steps.window_closed(work.host, needed)
            if closed is None:
                active.append(work)
            else:
                self._steps.skip_host(work, closed)
        return active

    # -- reminders and cancel notices -----------------------------------------------------

    def _remind_all(self, deadline: datetime) -> None:
        self._notify_all(Kind.REMINDED, REMINDER_MESSAGE, deadline, self._ledger.warned_waiting)

    def _cancel_notices(self) -> None:
        """Tell every warned user whose logoff was never sent that it is cancelled (a stop
        request does not hold this back: it is what the users were promised)."""
        if not self._settings.notify_cancel:
            return
        if any(self._ledger.warned_not_sent(w.host.name) for w in self._work):
            self._ledger.phase("cancelling")
            self._notify_all(Kind.CANCEL_NOTICE, CANCEL_MESSAGE, None, self._ledger.warned_not_sent)

    def _notify_all(
        self,
        kind: Kind,
        template: str,
        deadline: datetime | None,
        recipients_of: Callable[[str], list[Session]],
    ) -> None:
        jobs = []
        for work in self._work:
            recipients = tuple(recipients_of(work.host.name))
            if recipients:
                index = self._index[work.host.name]
                jobs.append(Job("notify", index, kind, template, deadline, recipients))
        self._run(jobs)

    # -- waiting ------------------------------------------------------------------------

    def _wait(self, deadline: datetime, countdown: Countdown) -> bool:
        """The one shared wait, to the latest deadline promised, broken where reminders are
        due; False when a stop request came first."""
        self._ledger.phase("waiting")
        until = deadline.astimezone().strftime("%H:%M:%S")
        self._ledger.event(
            Kind.WAIT_STARTED,
            reason=f"logoffs start at {until}",
            data={"deadline": deadline.isoformat(timespec="seconds")},
        )
        for before in sorted(self._settings.reminders, reverse=True):
            if not self._wait_until(deadline - before, deadline, countdown):
                return False
            self._remind_all(deadline)
        return self._wait_until(deadline, deadline, countdown)

    def _wait_until(self, moment: datetime, deadline: datetime, countdown: Countdown) -> bool:
        while True:
            remaining = (moment - self._clock()).total_seconds()
            countdown(max(0.0, (deadline - self._clock()).total_seconds()))
            if remaining <= 0:
                return True
            if self._stop.wait(min(1.0, remaining)):
                return False

    # -- logoff -------------------------------------------------------------------------

    def _logoff_all(self, active: list[Work]) -> None:
        """Log off in rolling batches, starting no new batch past the failure limit."""
        batches = _batches(active, self._batch_size(len(active)))
        failed = done = 0
        for index, batch in enumerate(batches):
            why = self._why_not_go_on(failed, done)
            if why is not None:
                for rest in batches[index:]:
                    for work in rest:
                        self._steps.skip_host(work, f"not started: {why}")
                return
            results = self._run([Job("logoff", self._index[w.host.name]) for w in batch])
            done += len(batch)
            failed += sum(1 for ok in results if not ok)

    def _why_not_go_on(self, failed: int, done: int) -> str | None:
        if self._stop.is_set():
            return "interrupted"
        limit = self._settings.max_fail_percentage
        if limit is not None and done > 0 and failed * 100.0 / done > limit:
            return f"failure limit reached ({failed} of {done} hosts failed, limit {limit:g}%)"
        return None

    def _batch_size(self, hosts: int) -> int | None:
        if self._settings.batch_percent is not None:
            return max(1, math.ceil(hosts * self._settings.batch_percent / 100))
        return self._settings.batch_size

    # -- hosts in parallel ----------------------------------------------------------------

    def _run(self, jobs: list[Job]) -> list[bool]:
        """Each host's job, in threads here or in the worker processes."""
        return self._hosts.run(jobs)


def _batches(work: Sequence[Work], size: int | None) -> list[list[Work]]:
    if not size:
        return [list(work)]
    return [list(work[i : i + size]) for i in range(0, len(work), size)]
