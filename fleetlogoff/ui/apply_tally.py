"""What an apply display needs to know, folded from events as they come: the phase, how
far each phase got, counts by outcome, the deadline, and every host with a problem.

Kinds are compared by their values (events.Kind is a StrEnum), so kinds this display
does not draw specially are counted and listed all the same. Targets are keyed by
(host, session id): a fact repeated (a warning sent again after a lost answer) counts once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fleetlogoff.events import Event

Key = tuple[str, int]

OUTCOME_KINDS = (
    "logged_off",
    "spared",
    "skipped",
    "stuck",
    "failed",
    "not_warned",
    "not_attempted",
)
# Outcomes and host facts an admin must look at; printed as they happen.
PROBLEM_KINDS = frozenset(
    {
        "failed",
        "stuck",
        "not_warned",
        "warn_failed",
        "host_unreachable",
        "internal_error",
        "host_skipped",
    }
)
HOST_LOST_KINDS = frozenset({"host_unreachable", "host_skipped", "internal_error"})
PHASE_TITLES = {
    "warning": "Warning users",
    "waiting": "Waiting for the deadline",
    "logging_off": "Logging off",
    "confirming": "Confirming",
    "cancelling": "Telling warned users the logoff is cancelled",
}


@dataclass
class PhaseProgress:
    """One phase's bar: targets settled out of the targets it covers."""

    name: str
    started: datetime
    total: int
    settled: set[Key] = field(default_factory=set)

    @property
    def done(self) -> int:
        return min(len(self.settled), self.total)


@dataclass
class HostFacts:
    """Everything said about one host, for the recap."""

    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)  # host-level problem kinds seen

    @property
    def problem(self) -> bool:
        return bool(self.notes) or any(self.counts[k] for k in PROBLEM_KINDS)


class ApplyTally:
    """Thread-safe fold of apply events; the views read it under `lock`."""

    def __init__(self, targets: Mapping[str, Sequence[int]]) -> None:
        """Args: targets: the session ids planned on each host acted on."""
        self.lock = threading.RLock()
        self.targets = {host: tuple(ids) for host, ids in targets.items()}
        self.total_targets = sum(len(ids) for ids in self.targets.values())
        self.hosts: dict[str, HostFacts] = {name: HostFacts() for name in targets}
        self.counts: Counter[str] = Counter()
        self.phase: str | None = None
        self.phases: dict[str, PhaseProgress] = {}
        self.deadline: datetime | None = None
        self.wait_started: datetime | None = None
        self.interrupted = False
        self._told_phases = False  # the executor announces phases: stop inferring them
        self._outcomes: dict[Key, str] = {}
        self._warned: set[Key] = set()
        self._reminded: set[Key] = set()

    # -- folding ------------------------------------------------------------------------

    def add(self, event: Event) -> str | None:
        """Fold one event; returns the phase it started, if it started one."""
        with self.lock:
            kind = event.kind.value
            started = self._phase_change(event)
            if started is not None:
                self._start_phase(started, event.time)
            if kind == "wait_started":
                self.deadline = _deadline(event) or self.deadline
                self.wait_started = self.wait_started or event.time
            elif kind == "interrupted":
                self.interrupted = True
            if event.host is None:
                return started
            facts = self.hosts.setdefault(event.host, HostFacts())
            if event.session_id is None or self._count_target(
                kind, (event.host, event.session_id), event
            ):
                facts.counts[kind] += 1
            if kind in HOST_LOST_KINDS:
                facts.lost.add(kind)
                note = f"{kind.replace('_', ' ')}: {event_detail(event)}"
                facts.notes.append(note.rstrip(": "))
                self._settle_host(event.host)
            return started

    def _phase_change(self, event: Event) -> str | None:
        kind = event.kind.value
        if kind == "phase_started":
            self._told_phases = True
            return event.reason if event.reason != self.phase else None
        if self._told_phases:
            return None
        # An executor that does not announce phases: infer them from the first fact of each.
        inferred = {
            "warned": "warning",
            "warn_failed": "warning",
            "wait_started": "waiting",
            "host_started": "logging_off",
            "cancel_notice": "cancelling",
        }.get(kind)
        if inferred is None or inferred == self.phase or inferred in self.phases:
            return None
        return inferred

    def _start_phase(self, name: str, when: datetime) -> None:
        self.phase = name
        if name not in self.phases:
            self.phases[name] = PhaseProgress(name, when, self._phase_total(name))
            if name in ("logging_off", "confirming"):
                self.phases[name].settled |= set(self._outcomes)

    def _phase_total(self, name: str) -> int:
        if name == "cancelling":
            return len(self._warned)
        return self.total_targets

    def _count_target(self, kind: str, key: Key, event: Event) -> bool:
        """Fold a fact about one target; False when it repeats one already counted."""
        if kind == "warned":
            self.deadline = max(filter(None, (self.deadline, _deadline(event))), default=None)
            self._settle("warning", key)
            return self._first(self._warned, key, kind)
        if kind == "reminded":
            return self._first(self._reminded, key, kind)
        if kind in OUTCOME_KINDS:
            for phase in ("warning", "logging_off", "confirming"):
                self._settle(phase, key)
            if key in self._outcomes:
                return False
            self._outcomes[key] = kind
            self.counts[kind] += 1
            return True
        if kind == "warn_failed":
            self._settle("warning", key)
        elif kind == "logoff_sent":
            # The logoff phase's progress is the logoffs sent; their outcomes come later,
            # from the confirming re-read (without this the bar stays at 0 until then).
            self._settle("logging_off", key)
        elif kind == "cancel_notice":
            self._settle("cancelling", key)
        self.counts[kind] += 1
        return True

    def _first(self, seen: set[Key], key: Key, kind: str) -> bool:
        if key in seen:
            return False
        seen.add(key)
        self.counts[kind] += 1
        return True

    def _settle(self, phase: str, key: Key) -> None:
        progress = self.phases.get(phase)
        if progress is not None:
            progress.settled.add(key)

    def _settle_host(self, host: str) -> None:
        """A host lost in the current phase settles all its targets there."""
        progress = self.phases.get(self.phase or "")
        if progress is not None:
            progress.settled.update((host, i) for i in self.targets.get(host, ()))

    # -- reading ------------------------------------------------------------------------

    def problem_hosts(self) -> list[tuple[str, HostFacts]]:
        with self.lock:
            return [(name, facts) for name, facts in self.hosts.items() if facts.problem]

    def outcome_counts(self) -> dict[str, int]:
        with self.lock:
            return {k: self.counts[k] for k in OUTCOME_KINDS if self.counts[k]}

    @property
    def lost_hosts(self) -> int:
        with self.lock:
            return sum(1 for facts in self.hosts.values() if facts.lost)

    def lost_by_kind(self) -> dict[str, int]:
        """Hosts by host-level problem: {"host_unreachable": 2, "host_skipped": 5}."""
        with self.lock:
            counted = Counter(kind for facts in self.hosts.values() for kind in facts.lost)
        return dict(sorted(counted.items()))


def _deadline(event: Event) -> datetime | None:
    value = event.data.get("deadline")
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def event_detail(event: Event) -> str:
    """The event's reason, and the error behind it when the reason does not say it."""
    # getattr: events gain a structured `error` (ErrorInfo) from the engine; its reason
    # is the detail when an event carries no reason of its own.
    error = getattr(event, "error", None)
    cause = str(getattr(error, "reason", "") or "")
    if cause and cause not in event.reason:
        return f"{event.reason}: {cause}" if event.reason else cause
    return event.reason
