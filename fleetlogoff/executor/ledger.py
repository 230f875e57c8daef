"""The run's book of promises: which targets were warned until when, whose logoff was sent,
and each target's one outcome. Every event goes out through it, so "exactly one outcome per
target" and "never log off someone who was not warned" are kept in one place.

With worker processes (workers.py) each worker keeps a ledger of its own for the hosts it
is given, restored from the parent's before each host's part of a phase, and the parent's
ledger stays the authority: it adopts every event a worker booked (dropping a second
outcome or a phase announced twice) and writes each logoff_sent record itself, after
checking the target was warned and its deadline has come, before the worker may act.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fleetlogoff.events import OUTCOMES, ErrorInfo, Event, Kind, RecordError
from fleetlogoff.executor.settings import Clock, Emit, EmitMany, Work
from fleetlogoff.model import Session

log = logging.getLogger(__name__)

TargetKey = tuple[str, int]  # (host name, session id): ids are unique within one host's plan

NOT_RECORDED = "its logoff_sent record could not be written"


@dataclass(frozen=True, slots=True)
class HostBook:
    """What the ledger knows of one host's targets: handed to the worker process that
    works on the host next, so that it starts from the parent's book.

    Attributes:
        host: the host's name.
        promised: (session id, deadline) of each warned target.
        sent: session ids whose logoff_sent record was written.
        outcomes: (session id, outcome) of each target that has one.
    """

    host: str
    promised: tuple[tuple[int, datetime], ...] = ()
    sent: tuple[int, ...] = ()
    outcomes: tuple[tuple[int, Kind], ...] = ()


class Ledger:
    """Thread-safe record of the run, emitting every event it is told of.

    Args:
        work: the hosts of the run and their targets.
        emit: where each event goes (the audit log, the recap, the view); raises
            RecordError when a logoff_sent record cannot be kept.
        emit_many: where several events go at once (one write and one fsync of the
            audit log), raising RecordError when they could not all be kept; None sends
            them to `emit` one by one.
        clock: the current time.
        warning_required: a logoff needs a delivered warning whose deadline has come
            (apply with --warn); checked again here before every logoff_sent record.
    """

    def __init__(
        self,
        work: Sequence[Work],
        emit: Emit,
        clock: Clock,
        *,
        warning_required: bool = False,
        emit_many: EmitMany | None = None,
    ) -> None:
        self._emit = emit
        self._emit_many = emit_many
        self._clock = clock
        self._warning_required = warning_required
        self._lock = threading.Lock()
        # Each host's targets in plan order: the questions below are asked per host, and
        # scanning every target of the fleet for each host made a run quadratic.
        self._by_host: dict[str, dict[TargetKey, Session]] = {}
        for w in work:
            mine = self._by_host.setdefault(w.host.name, {})
            for t in w.plan.targets:
                mine[(w.host.name, t.session.id)] = t.session
        self._promised: dict[TargetKey, datetime] = {}
        self._sent: set[TargetKey] = set()
        self._outcomes: dict[TargetKey, Kind] = {}
        self._phases: set[str] = set()

    # -- events -------------------------------------------------------------------------

    def event(
        self,
        kind: Kind,
        host: str | None = None,
        session: Session | None = None,
        reason: str = "",
        *,
        data: dict[str, object] | None = None,
        error: ErrorInfo | None = None,
    ) -> None:
        """Emit a fact that is not an outcome (outcomes go through `outcome`)."""
        self._publish(self._make(kind, host, session, reason, data=data, error=error))

    def phase(self, name: str) -> None:
        """Announce a phase the first time any host enters it."""
        self.adopt(self._make(Kind.PHASE_STARTED, reason=name))

    def outcome(
        self,
        kind: Kind,
        host: str,
        session: Session,
        reason: str,
        error: ErrorInfo | None = None,
        data: dict[str, object] | None = None,
    ) -> bool:
        """Record a target's outcome; a second one for the same target is dropped.

        Returns:
            True when this was the target's first outcome (and was emitted).
        """
        assert kind in OUTCOMES, kind
        return self.adopt(self._make(kind, host, session, reason, data=data, error=error))

    def adopt(self, event: Event, deadline: datetime | None = None) -> bool:
        """Book an event and emit it: an outcome, a promise (WARNED, with its exact
        `deadline`), a phase or any other fact; made here or by a worker's ledger. An
        outcome for a target that has one, or a phase already announced, is dropped.

        Returns:
            True when the event was emitted.
        """
        if not self.book(event, deadline):
            return False
        self._publish(event, deadline)
        return True

    def book(self, event: Event, deadline: datetime | None = None) -> bool:
        """`adopt` without emitting: True when the event is to be emitted (the caller
        emits it, e.g. with others at once: publish_many)."""
        if event.kind == Kind.LOGOFF_SENT:
            raise ValueError("logoff_sent records go through record_logoffs")
        key = _key(event)
        with self._lock:
            if event.kind == Kind.PHASE_STARTED:
                if event.reason in self._phases:
                    return False
                self._phases.add(event.reason)
            elif event.kind in OUTCOMES:
                previous = self._outcomes.get(key)
                if previous is not None:
                    log.debug("%s session %d: already %s, not %s", *key, previous, event.kind)
                    return False
                self._outcomes[key] = event.kind
            elif event.kind == Kind.WARNED:
                if deadline is None:
                    raise ValueError("a promise needs its deadline")
                earlier = self._promised.get(key)
                # A repeated warning (after a lost answer) may promise a later deadline;
                # the latest promise is the one to keep.
                self._promised[key] = deadline if earlier is None else max(earlier, deadline)
        return True

    def _publish(self, event: Event, deadline: datetime | None = None) -> None:
        """Send a booked event on (a worker's ledger sends it to the parent)."""
        self._emit(event)

    def publish_many(self, events: Sequence[Event]) -> list[bool]:
        """Emit booked events and checked logoff_sent records at once, in order.

        Returns:
            Per event, whether it was kept (a logoff_sent record that was not: its
            logoff must not run).
        """
        if not events:
            return []
        if self._emit_many is not None:
            try:
                self._emit_many(events)
            except RecordError:
                return [e.kind != Kind.LOGOFF_SENT for e in events]
            return [True] * len(events)
        kept = []
        for event in events:
            try:
                self._emit(event)
            except RecordError:
                kept.append(False)  # the sink has asked the run to stop
            else:
                kept.append(True)
        return kept

    def _make(
        self,
        kind: Kind,
        host: str | None = None,
        session: Session | None = None,
        reason: str = "",
        *,
        data: dict[str, object] | None = None,
        error: ErrorInfo | None = None,
    ) -> Event:
        return Event(
            kind,
            self._clock(),
            host=host,
            session_id=session.id if session else None,
            username=session.username if session else None,
            reason=reason,
            data=data or {},
            error=error,
        )

    # -- promises and logoffs -----------------------------------------------------------

    def promise(self, host: str, session: Session, deadline: datetime, text: str) -> None:
        """The warning reached the user: they may not be logged off before `deadline`."""
        data: dict[str, object] = {"deadline": deadline.isoformat(timespec="seconds")}
        self.adopt(self._make(Kind.WARNED, host, session, text, data=data), deadline)

    def record_logoffs(self, host: str, targets: Sequence[tuple[Session, str]]) -> list[str | None]:
        """Write each target's logoff_sent record (with why it goes) *before* its logoff,
        after checking it may go: no outcome yet and, when a warning is required, warned
        with its deadline come.

        Returns:
            Per target, None when its record is written (it may be sent), else why not.
        """
        now = self._clock()
        verdicts: list[str | None] = [self._why_not_send((host, s.id), now) for s, _ in targets]
        events = [
            Event(Kind.LOGOFF_SENT, now, host, s.id, s.username, reason)
            for (s, reason), why in zip(targets, verdicts, strict=True)
            if why is None
        ]
        answers = iter(self._pre_record(events) if events else [])
        verdicts = [why if why is not None else next(answers) for why in verdicts]
        with self._lock:  # this ledger's own book too (a worker's: settling a lost host)
            kept = zip(targets, verdicts, strict=True)
            self._sent.update((host, s.id) for (s, _), why in kept if not why)
        return verdicts

    def _pre_record(self, events: Sequence[Event]) -> list[str | None]:
        """Have the logoff_sent records written (a worker asks its parent)."""
        return self.adopt_pre_records(events)

    def adopt_pre_records(self, events: Sequence[Event]) -> list[str | None]:
        """Check and write logoff_sent records, made here or by a worker's ledger; a
        record that cannot be written is refused: no record, no act.

        Returns:
            Per event, None when written (its logoff may be sent), else why not.
        """
        verdicts = self.check_logoffs(events)
        approved = [e for e, why in zip(events, verdicts, strict=True) if why is None]
        kept = iter(self.publish_many(approved))
        answers = [
            why if why is not None else None if next(kept) else NOT_RECORDED for why in verdicts
        ]
        self.commit_logoffs([e for e, why in zip(events, answers, strict=True) if why is None])
        return answers

    def check_logoffs(self, events: Sequence[Event]) -> list[str | None]:
        """Per logoff_sent record, None when its target may go now, else why not."""
        now = self._clock()
        return [self._why_not_send(_key(event), now) for event in events]

    def commit_logoffs(self, events: Sequence[Event]) -> None:
        """These logoff_sent records are kept: their logoffs may have run from now on."""
        with self._lock:
            self._sent.update(_key(event) for event in events)

    def _why_not_send(self, key: TargetKey, now: datetime) -> str | None:
        with self._lock:
            if key not in self._by_host.get(key[0], {}):
                return "not a target of this run"
            if key in self._outcomes:
                return f"it already has an outcome ({self._outcomes[key]})"
            if not self._warning_required:
                return None
            promised = self._promised.get(key)
        if promised is None:
            return "no warning was delivered to this session"
        if promised > now:
            return "its warning's deadline has not come"
        return None

    def deadline(self, host: str, session: Session) -> datetime | None:
        """The deadline this target was promised, None when it was not warned."""
        with self._lock:
            return self._promised.get((host, session.id))

    def latest_deadline(self) -> datetime | None:
        """The latest deadline promised to anybody: the shared wait runs until then."""
        with self._lock:
            return max(self._promised.values(), default=None)

    def was_sent(self, host: str, session: Session) -> bool:
        """Whether its logoff_sent line was written (its logoff may have run)."""
        with self._lock:
            return (host, session.id) in self._sent

    # -- a host's book, between processes ---------------------------------------------------

    def snapshot(self, host: str) -> HostBook:
        """What this ledger knows of `host`'s targets."""
        with self._lock:
            keys = [key for key, _ in self._targets_of(host)]
            return HostBook(
                host,
                tuple((k[1], self._promised[k]) for k in keys if k in self._promised),
                tuple(k[1] for k in keys if k in self._sent),
                tuple((k[1], self._outcomes[k]) for k in keys if k in self._outcomes),
            )

    def restore(self, book: HostBook) -> None:
        """Take another ledger's knowledge of one host (the parent's, in a worker)."""
        with self._lock:
            for key, _ in self._targets_of(book.host):
                self._promised.pop(key, None)
                self._sent.discard(key)
                self._outcomes.pop(key, None)
            for session_id, deadline in book.promised:
                self._promised[(book.host, session_id)] = deadline
            self._sent.update((book.host, session_id) for session_id in book.sent)
            for session_id, kind in book.outcomes:
                self._outcomes[(book.host, session_id)] = kind

    # -- questions ----------------------------------------------------------------------

    def has_outcome(self, host: str, session: Session) -> bool:
        """Whether the target's outcome is already recorded."""
        with self._lock:
            return (host, session.id) in self._outcomes

    def open_targets(self, host: str) -> list[Session]:
        """This host's targets without an outcome yet, in plan order."""
        with self._lock:
            return [s for key, s in self._targets_of(host) if key not in self._outcomes]

    def warned_waiting(self, host: str) -> list[Session]:
        """Warned targets still waiting for their logoff (reminders go to them)."""
        with self._lock:
            return [
                s
                for key, s in self._targets_of(host)
                if key in self._promised and key not in self._outcomes
            ]

    def warned_not_sent(self, host: str) -> list[Session]:
        """Warned targets whose logoff was never sent: they are owed a cancel notice."""
        with self._lock:
            return [
                s
                for key, s in self._targets_of(host)
                if key in self._promised and key not in self._sent
            ]

    def host_has(self, host: str, kinds: frozenset[Kind]) -> bool:
        """Whether some target of `host` ended with one of `kinds`."""
        with self._lock:
            return any(self._outcomes.get(key) in kinds for key, _ in self._targets_of(host))

    def _targets_of(self, host: str) -> list[tuple[TargetKey, Session]]:
        return list(self._by_host.get(host, {}).items())


def _key(event: Event) -> TargetKey:
    return event.host or "", event.session_id if event.session_id is not None else -1
