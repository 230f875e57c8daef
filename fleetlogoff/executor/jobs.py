"""Each host's part of a phase as a job (warn its targets, remind or tell them it is
cancelled, log off), which job starts next, and running jobs on a thread pool in this
process. workers.py runs the same jobs in worker processes.

Start order: the jobs that take longest start first (a host with more targets sends more
messages), so that the phase ends soonest: the last host to start is a short one, not a
long one started last. Entries that name the same endpoint (address and port) take turns
(concurrency.py's per-host limit), and an endpoint with several entries starts early,
since its entries run one after another.
"""

from __future__ import annotations

import functools
import logging
import queue
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleetlogoff.concurrency import PER_HOST, endpoint_of
from fleetlogoff.events import ErrorInfo, Kind, RecordError
from fleetlogoff.executor.ledger import Ledger
from fleetlogoff.executor.settings import Work
from fleetlogoff.executor.steps import HostSteps
from fleetlogoff.model import Session

log = logging.getLogger(__name__)

JobKind = Literal["warn", "notify", "logoff"]
Settle = Callable[[Work, str, ErrorInfo], None]


@dataclass(frozen=True, slots=True)
class Job:
    """One host's part of a phase.

    Attributes:
        kind: warn (its targets), notify (a reminder or a cancel notice to
            `recipients`), logoff (verify, log off, confirm).
        index: the host's place in the run's work.
        notice: REMINDED or CANCEL_NOTICE, for notify.
        template: the notice's text, for notify.
        deadline: the deadline a reminder repeats (None for a cancel notice).
        recipients: who gets the notice (chosen by the parent's ledger).
    """

    kind: JobKind
    index: int
    notice: Kind | None = None
    template: str = ""
    deadline: datetime | None = None
    recipients: tuple[Session, ...] = ()


def run_job(steps: HostSteps, work: Work, job: Job) -> bool:
    """Do one job; True when nothing failed on the host. A bug is that host's internal
    error, never the run's end."""
    if job.kind == "warn":
        return guarded(steps.ledger, work, lambda: steps.warn_host(work), steps.settle_unwarned)
    if job.kind == "logoff":
        return guarded(steps.ledger, work, lambda: steps.log_off_host(work), steps.settle_lost)
    notice = job.notice
    if notice is None:
        raise ValueError("a notify job needs its notice kind")
    recipients = list(job.recipients)
    return guarded(
        steps.ledger,
        work,
        lambda: steps.notify_host(work.host, notice, job.template, job.deadline, recipients),
    )


def guarded(
    ledger: Ledger, work: Work, act: Callable[[], bool], settle: Settle | None = None
) -> bool:
    """One host's bug must not hide the other hosts' outcomes: it is reported as an
    internal error with its cause (the traceback only in the debug log)."""
    try:
        return act()
    except RecordError:
        return False  # the sink failed and stopped the run; nothing to add
    except Exception as exc:
        log.debug("%s: internal error", work.host.name, exc_info=True)
        report_internal_error(ledger, work, ErrorInfo.from_exception(exc), settle)
        return False


def report_internal_error(
    ledger: Ledger, work: Work, error: ErrorInfo, settle: Settle | None
) -> None:
    """Book a host's internal error and settle its open targets with it."""
    why = f"internal error: {error.reason}"
    try:
        ledger.event(Kind.INTERNAL_ERROR, work.host.name, reason=why, error=error)
        if settle is not None:
            settle(work, why, error)
    except Exception:  # the sink itself failing must not stop the other hosts
        log.debug("%s: reporting the internal error failed", work.host.name, exc_info=True)


def settle_of(steps: HostSteps, job: Job) -> Settle | None:
    """How a job's host is settled when the job could not finish (a worker died)."""
    if job.kind == "warn":
        return steps.settle_unwarned
    if job.kind == "logoff":
        return steps.settle_lost
    return None


# Relative cost in commands: opening and reading the host is about as much as one
# command more; a warning or a notice sends one msg per recipient; a logoff is the
# guarded logoff and one confirming read after the read.
_OPEN_AND_READ = 2


def job_cost(job: Job, work: Work) -> int:
    """About how long a job takes, in commands."""
    if job.kind == "warn":
        return _OPEN_AND_READ + len(work.plan.targets)
    if job.kind == "notify":
        return _OPEN_AND_READ + len(job.recipients)
    return _OPEN_AND_READ + 2


class Schedule:
    """Hands out jobs in start order, holding back a job whose endpoint is busy.

    Args:
        jobs: the jobs of one phase (or one batch).
        work: the run's work, which the jobs' indices point into.
        per_host: jobs at once on one endpoint.
    """

    def __init__(self, jobs: Sequence[Job], work: Sequence[Work], per_host: int = PER_HOST):
        self._per_host = per_host
        self._endpoint = {j.index: endpoint_of(work[j.index].host) for j in jobs}
        costs = {j.index: job_cost(j, work[j.index]) for j in jobs}
        chain: Counter[tuple[str, int]] = Counter()
        for job in jobs:
            chain[self._endpoint[job.index]] += costs[job.index]
        order = {j.index: n for n, j in enumerate(jobs)}
        self._pending = sorted(
            jobs,
            key=lambda j: (-chain[self._endpoint[j.index]], -costs[j.index], order[j.index]),
        )
        self._busy: Counter[tuple[str, int]] = Counter()

    @property
    def pending(self) -> int:
        """Jobs not handed out yet."""
        return len(self._pending)

    def take(self) -> Job | None:
        """The next job that may start now; None when none may (none left, or each one
        left waits for its endpoint)."""
        for position, job in enumerate(self._pending):
            endpoint = self._endpoint[job.index]
            if self._busy[endpoint] < self._per_host:
                self._busy[endpoint] += 1
                return self._pending.pop(position)
        return None

    def finished(self, job: Job) -> None:
        """A job handed out has ended: its endpoint is free for the next."""
        self._busy[self._endpoint[job.index]] -= 1

    def give_back(self, job: Job) -> None:
        """A job handed out that never started: it is the next to go."""
        self.finished(job)
        self._pending.insert(0, job)

    def drain(self) -> list[Job]:
        """Every job not handed out yet, in start order (to run elsewhere)."""
        rest, self._pending = self._pending, []
        return rest


class ThreadHosts:
    """Runs jobs on a thread pool in this process (`forks` at once)."""

    def __init__(self, steps: HostSteps, work: Sequence[Work], forks: int) -> None:
        self._steps = steps
        self._work = work
        self._forks = forks

    def run(self, jobs: Sequence[Job]) -> list[bool]:
        """Run `jobs`; each one's result, in the order given."""
        if not jobs:
            return []
        schedule = Schedule(jobs, self._work)
        done: queue.SimpleQueue[tuple[Job, Future[bool]]] = queue.SimpleQueue()
        results: dict[int, bool] = {}
        threads = max(1, min(self._forks, len(jobs)))
        running = 0
        with ThreadPoolExecutor(max_workers=threads) as pool:
            while schedule.pending or running:
                while running < threads and (job := schedule.take()) is not None:
                    future = pool.submit(run_job, self._steps, self._work[job.index], job)
                    future.add_done_callback(functools.partial(_put, done, job))
                    running += 1
                finished, future = done.get()
                running -= 1
                schedule.finished(finished)
                results[finished.index] = future.result()
        return [results[j.index] for j in jobs]


def _put(done: queue.SimpleQueue[tuple[Job, Future[bool]]], job: Job, future: Future[bool]) -> None:
    done.put((job, future))
