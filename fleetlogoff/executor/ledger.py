"""The run's book of promises: which targets were warned until when, whose logoff was sent,
and each target's one outcome. Every event goes out through it, so "exactly one outcome per
target" and "never log off someone who was not warned" are kept in one place."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from fleetlogoff.events import OUTCOMES, ErrorInfo, Event, Kind
from fleetlogoff.executor.settings import Clock, Emit, Work
from fleetlogoff.model import Session

log = logging.getLogger(__name__)

TargetKey = tuple[str, int]  # (host name, session id): ids are unique within one host's plan


class Ledger:
    """Thread-safe record of the run, emitting every event it is told of."""

    def __init__(self, work: Sequence[Work], emit: Emit, clock: Clock) -> None:
        self._emit = emit
        self._clock = clock
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
        self._emit(
            Event(
                kind,
                self._clock(),
                host=host,
                session_id=session.id if session else None,
                username=session.username if session else None,
                reason=reason,
                data=data or {},
                error=error,
            )
        )

    def phase(self, name: str) -> None:
        """Announce a phase the first time any host enters it."""
        with self._lock:
            if name in self._phases:
                return
            self._phases.add(name)
        self.event(Kind.PHASE_STARTED, reason=name)

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
        key = (host, session.id)
        with self._lock:
            previous = self._outcomes.get(key)
            if previous is not None:
                log.debug("%s session %d: already %s, not %s", host, session.id, previous, kind)
                return False
            self._outcomes[key] = kind
        self.event(kind, host, session, reason, error=error, data=data)
        return True

    # -- promises -----------------------------------------------------------------------

    def promise(self, host: str, session: Session, deadline: datetime, text: str) -> None:
        """The warning reached the user: they may not be logged off before `deadline`."""
        with self._lock:
            key = (host, session.id)
            earlier = self._promised.get(key)
            # A repeated warning (after a lost answer) may promise a later deadline; the
            # latest promise is the one to keep.
            self._promised[key] = deadline if earlier is None else max(earlier, deadline)
        self.event(
            Kind.WARNED,
            host,
            session,
            text,
            data={"deadline": deadline.isoformat(timespec="seconds")},
        )

    def deadline(self, host: str, session: Session) -> datetime | None:
        """The deadline this target was promised, None when it was not warned."""
        with self._lock:
            return self._promised.get((host, session.id))

    def latest_deadline(self) -> datetime | None:
        """The latest deadline promised to anybody: the shared wait runs until then."""
        with self._lock:
            return max(self._promised.values(), default=None)

    def mark_sent(self, host: str, session: Session) -> None:
        """Its logoff_sent line is written: from now on its logoff may have happened."""
        with self._lock:
            self._sent.add((host, session.id))

    def was_sent(self, host: str, session: Session) -> bool:
        """Whether its logoff_sent line was written (its logoff may have run)."""
        with self._lock:
            return (host, session.id) in self._sent

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
