"""Carry out a plan: warn, one shared wait, re-verify, log off, confirm.

Every fact goes out through `emit` as an Event (audit log, recap, live view). Nothing is
decided here that the pure core can decide: identity and rule checks are in the planner.
A stop request (Ctrl-C, SIGTERM) lets in-flight commands finish but starts nothing new.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleetlogoff.collect import encode_for, read_sessions
from fleetlogoff.errors import (
    HostCommandError,
    ParseError,
    TransportError,
)
from fleetlogoff.events import Event, Kind
from fleetlogoff.guard import guarded_logoff
from fleetlogoff.inventory.settings import host_codepage
from fleetlogoff.messages import (
    CANCEL_MESSAGE,
    DEFAULT_MESSAGE,
    NOTICE_DISPLAY_S,
    REMINDER_MESSAGE,
    clock_minute,
    command_failure,
    render_message,
    spoken_duration,
)
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers.timezone import HostClock
from fleetlogoff.planner import HostPlan, Selection, recheck_target, same_session
from fleetlogoff.transport import CommandOutput, Connector, HostSession

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ApplySettings:
    """How to carry out the plan.

    Attributes:
        warn: time between the warning and the logoff; zero means no warning.
        message: warning template ({user}, {host}, {minutes}, {time_left}, {deadline}).
        forks: hosts at once.
        batch_size: hosts per rolling batch (None: all at once).
        batch_percent: batch size as a percentage of the hosts acted on.
        max_fail_percentage: stop starting new batches once failed hosts exceed it.
        host_timeout_s: deadline for one host's whole work in one phase.
        command_timeout_s: deadline for one command (a hung logoff).
        confirm_attempts: quser re-reads to see a logged-off session disappear.
        confirm_pause_s: pause between those re-reads.
        notify_cancel: tell warned users when the run is interrupted before the logoff.
        reminders: how long before the deadline to remind warned users (each < warn).
    """

    warn: timedelta = timedelta(0)
    message: str = DEFAULT_MESSAGE
    forks: int = 50
    batch_size: int | None = None
    batch_percent: float | None = None
    max_fail_percentage: float | None = None
    host_timeout_s: float = 60.0
    command_timeout_s: float = 30.0
    confirm_attempts: int = 4
    confirm_pause_s: float = 1.0
    notify_cancel: bool = True
    reminders: tuple[timedelta, ...] = ()


@dataclass(frozen=True, slots=True)
class Work:
    """One host to act on: its inventory entry and its part of the plan."""

    host: Host
    plan: HostPlan


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
    ) -> None:
        self._work = list(work)
        self._selection = selection
        self._connector = connector
        self._settings = settings
        self._emit = emit
        self._clock = clock
        self._stop = stop
        # What plan learned of each host's dates and clock: apply reads them the same way.
        self._facts = {w.host.name: w.plan.facts for w in work}
        self.warned: dict[str, list[Session]] = {}
        self.latest_deadline: datetime | None = None
        self._warned_lock = threading.Lock()

    # -- events -------------------------------------------------------------------------

    def _event(
        self, kind: Kind, host: str | None, session: Session | None = None, reason: str = ""
    ) -> None:
        self._emit(
            Event(
                kind,
                self._clock(),
                host=host,
                session_id=session.id if session else None,
                username=session.username if session else None,
                reason=reason,
            )
        )

    # -- warning ------------------------------------------------------------------------

    def warn_all(self) -> datetime | None:
        """Warn every target that is still the planned session, all hosts in parallel.

        Each message promises its own deadline: the moment it was sent plus --warn. On a
        large fleet sending takes a while, so one deadline fixed before sending would be
        past for the last users warned. The shared wait then runs to the latest promise.

        Returns:
            The latest deadline promised, or None when nobody was warned.
        """
        self._parallel(self._work, self._warn_host)
        return self.latest_deadline

    def _warn_host(self, work: Work) -> bool:
        if self._stop.is_set():
            return True
        try:
            with _opened(self._connector, work.host, self._settings.host_timeout_s) as session:
                current = self._read(session, work.host)
                for planned in work.plan.targets:
                    if self._stop.is_set():
                        break
                    self._warn_one(session, work, planned.session, current)
        except (TransportError, ParseError, HostCommandError) as exc:
            self._event(Kind.HOST_UNREACHABLE, work.host.name, reason=f"warning: {exc}")
            return False
        return True

    def _warn_one(
        self,
        session: HostSession,
        work: Work,
        planned: Session,
        current: Sequence[Session],
    ) -> None:
        check = recheck_target(
            work.host, planned, current, self._selection, self._clock(), work.plan.facts
        )
        if check.status != "proceed" or check.session is None:
            return  # the logoff phase re-checks and reports it; no warning for a stranger
        deadline = self._clock() + self._settings.warn
        text = render_message(self._settings.message, self._values(work, planned, deadline))
        output = self._send_message(session, work.host, planned.id, text, deadline)
        failure = command_failure(
            output.stdout, output.stderr, output.exit_code, host_codepage(work.host)
        )
        if failure:
            self._event(Kind.WARN_FAILED, work.host.name, planned, failure)
            return
        with self._warned_lock:
            self.warned.setdefault(work.host.name, []).append(planned)
            if self.latest_deadline is None or deadline > self.latest_deadline:
                self.latest_deadline = deadline
        self._event(Kind.WARNED, work.host.name, planned, text)

    def _values(self, work: Work, planned: Session, deadline: datetime | None) -> dict[str, str]:
        left = (deadline - self._clock()).total_seconds() if deadline else 0.0
        return {
            "user": planned.username,
            "host": work.host.name,
            "minutes": str(max(0, round(left)) // 60),
            "time_left": spoken_duration(left),
            "deadline": clock_minute(work.host, deadline, _clock_of(work)) if deadline else "",
        }

    def _send_message(
        self, session: HostSession, host: Host, session_id: int, text: str, until: datetime | None
    ) -> CommandOutput:
        # The text goes through stdin, never the command line: no quoting can go wrong,
        # and `" & shutdown /r & "` is just words on a user's screen. /TIME keeps it on
        # screen until the deadline (msg's default is 60 s).
        left = (until - self._clock()).total_seconds() if until else NOTICE_DISPLAY_S
        return session.run(
            f"msg {session_id} /TIME:{max(1, math.ceil(left))}",
            stdin=encode_for(host, text),
            timeout=self._settings.command_timeout_s,
        )

    def remind_all(self, deadline: datetime) -> None:
        """Remind warned users, still in the same session, how long they have left."""
        self._notify_warned(REMINDER_MESSAGE, deadline, Kind.REMINDED)

    def notify_cancelled(self) -> None:
        """Tell warned users the logoff will not happen (best effort, in parallel)."""
        self._notify_warned(CANCEL_MESSAGE, None, Kind.CANCEL_NOTICE)

    def _notify_warned(self, template: str, deadline: datetime | None, kind: Kind) -> None:
        hosts = [w for w in self._work if w.host.name in self.warned]
        self._parallel(hosts, lambda w: self._notify_host(w, template, deadline, kind))

    def _notify_host(
        self, work: Work, template: str, deadline: datetime | None, kind: Kind
    ) -> bool:
        try:
            with _opened(self._connector, work.host, self._settings.host_timeout_s) as session:
                current = self._read(session, work.host)
                for planned in self.warned.get(work.host.name, []):
                    if not any(same_session(planned, c) for c in current):
                        continue  # gone, or somebody else's now: never message a stranger
                    text = render_message(template, self._values(work, planned, deadline))
                    output = self._send_message(session, work.host, planned.id, text, deadline)
                    self._event(
                        kind,
                        work.host.name,
                        planned,
                        command_failure(
                            output.stdout, output.stderr, output.exit_code, host_codepage(work.host)
                        )
                        or text,
                    )
        except (TransportError, ParseError, HostCommandError) as exc:
            self._event(Kind.HOST_UNREACHABLE, work.host.name, reason=f"{kind.value}: {exc}")
            return False
        return True

    # -- waiting ------------------------------------------------------------------------

    def wait_until(self, deadline: datetime, tick: Callable[[float], None]) -> bool:
        """Sleep until the deadline; False if a stop request came first."""
        while True:
            remaining = (deadline - self._clock()).total_seconds()
            tick(max(0.0, remaining))
            if remaining <= 0:
                return True
            if self._stop.wait(min(1.0, remaining)):
                return False

    # -- logoff -------------------------------------------------------------------------

    def logoff_all(self) -> None:
        """Log off in rolling batches, stopping new batches past the failure limit."""
        batches = _batches(self._work, self._batch_size())
        failed = done = 0
        for index, batch in enumerate(batches):
            if self._stop.is_set() or self._over_failure_limit(failed, done):
                why = "interrupted" if self._stop.is_set() else "failure limit reached"
                for rest in batches[index:]:
                    for work in rest:
                        self._event(Kind.HOST_SKIPPED, work.host.name, reason=f"not started: {why}")
                return
            results = self._parallel(batch, self._logoff_host)
            done += len(batch)
            failed += sum(1 for ok in results if not ok)

    def _batch_size(self) -> int | None:
        if self._settings.batch_percent is not None:
            return max(1, math.ceil(len(self._work) * self._settings.batch_percent / 100))
        return self._settings.batch_size

    def _over_failure_limit(self, failed: int, done: int) -> bool:
        limit = self._settings.max_fail_percentage
        return limit is not None and done > 0 and failed * 100.0 / done > limit

    def _logoff_host(self, work: Work) -> bool:
        """One host's logoffs; True when nothing failed there."""
        if self._stop.is_set():
            self._event(Kind.HOST_SKIPPED, work.host.name, reason="not started: interrupted")
            return True
        self._event(Kind.HOST_STARTED, work.host.name)
        sent: list[Session] = []
        try:
            with _opened(self._connector, work.host, self._settings.host_timeout_s) as session:
                current = self._read(session, work.host)
                ok = True
                for planned in work.plan.targets:
                    ok &= self._logoff_one(session, work, planned.session, current, sent)
                ok &= self._confirm(session, work.host, sent)
        except (TransportError, ParseError, HostCommandError) as exc:
            self._event(Kind.HOST_UNREACHABLE, work.host.name, reason=str(exc))
            for unconfirmed in sent:
                self._event(
                    Kind.FAILED,
                    work.host.name,
                    unconfirmed,
                    "logoff sent; result unknown: host lost",
                )
            return False
        self._event(Kind.HOST_DONE, work.host.name)
        return ok

    def _logoff_one(
        self,
        session: HostSession,
        work: Work,
        planned: Session,
        current: Sequence[Session],
        sent: list[Session],
    ) -> bool:
        host = work.host.name
        if self._stop.is_set():
            self._event(Kind.SKIPPED, host, planned, "interrupted before logoff")
            return True
        check = recheck_target(
            work.host, planned, current, self._selection, self._clock(), work.plan.facts
        )
        if check.status in ("gone", "changed"):
            self._event(Kind.SKIPPED, host, planned, check.reason)
            return True
        if check.status == "spared":
            self._event(Kind.SPARED, host, planned, check.reason)
            return True
        self._event(Kind.LOGOFF_SENT, host, planned, check.reason)
        try:  # identity check and logoff in one host-side command (guard.py)
            outcome = guarded_logoff(session, work.host, planned, self._settings.command_timeout_s)
        except TransportError as exc:
            if exc.kind != "timeout":
                raise
            self._event(Kind.FAILED, host, planned, "logoff did not finish in time")
            return False
        if outcome.event_kind is not None:
            self._emit(outcome.event(host, planned, self._clock()))
            return outcome.event_kind is not Kind.FAILED
        sent.append(planned)
        return True

    def _confirm(self, session: HostSession, host: Host, sent: list[Session]) -> bool:
        """Re-read until every logged-off session is gone; what stays is stuck, not done."""
        pending = list(sent)
        for attempt in range(self._settings.confirm_attempts):
            if attempt:
                time.sleep(self._settings.confirm_pause_s)
            current = self._read(session, host)
            still = [p for p in pending if any(same_session(p, c) for c in current)]
            for gone in (p for p in pending if p not in still):
                self._event(Kind.LOGGED_OFF, host.name, gone, "logged off and gone")
            pending = still
            if not pending:
                break
        sent.clear()
        for stuck in pending:
            self._event(Kind.STUCK, host.name, stuck, "logoff ran but the session is still there")
        return not pending

    # -- helpers ------------------------------------------------------------------------

    def _read(self, session: HostSession, host: Host) -> list[Session]:
        timeout = self._settings.command_timeout_s
        sessions, _ = read_sessions(session, host, timeout, self._facts.get(host.name))
        return sessions

    def _parallel(self, work: Sequence[Work], job: Callable[[Work], bool]) -> list[bool]:
        if not work:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self._settings.forks, len(work)))) as pool:
            return list(pool.map(lambda w: _guarded(job, w, self._event), work))


def _clock_of(work: Work) -> HostClock | None:
    return work.plan.facts.clock if work.plan.facts is not None else None


def _guarded(job: Callable[[Work], bool], work: Work, event: Callable[..., None]) -> bool:
    try:
        return job(work)
    except Exception as exc:  # one host's bug must not hide the others' outcomes
        log.exception("%s: unexpected failure", work.host.name)
        event(Kind.HOST_UNREACHABLE, work.host.name, None, f"internal error: {exc}")
        return False


def _batches(work: Sequence[Work], size: int | None) -> list[list[Work]]:
    if not size:
        return [list(work)]
    return [list(work[i : i + size]) for i in range(0, len(work), size)]


class _opened:
    """Context manager around connector.open that always closes the host session."""

    def __init__(self, connector: Connector, host: Host, deadline_s: float) -> None:
        self._connector = connector
        self._host = host
        self._deadline_s = deadline_s
        self._session: HostSession | None = None

    def __enter__(self) -> HostSession:
        self._session = self._connector.open(self._host, deadline_s=self._deadline_s)
        return self._session

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            self._session.close()
