"""The end-of-run tally per host, in the spirit of Ansible's PLAY RECAP, built from events."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fleetlogoff.events import Event, Kind

RECAP_COLUMNS = (
    ("warned", Kind.WARNED),
    ("logged_off", Kind.LOGGED_OFF),
    ("spared", Kind.SPARED),
    ("skipped", Kind.SKIPPED),
    ("stuck", Kind.STUCK),
    ("failed", Kind.FAILED),
)


@dataclass
class HostTally:
    """Counts for one host, plus why it could not be worked on (if so)."""

    counts: dict[str, int] = field(default_factory=lambda: {c: 0 for c, _ in RECAP_COLUMNS})
    unreachable: str | None = None
    skipped_host: str | None = None


class Recap:
    """Thread-safe accumulator of events into per-host tallies."""

    def __init__(self, hosts: list[str]) -> None:
        self._lock = threading.Lock()
        self.hosts: dict[str, HostTally] = {name: HostTally() for name in hosts}
        self.interrupted = False
        self.events: list[Event] = []

    def add(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)
            if event.kind == Kind.INTERRUPTED:
                self.interrupted = True
            if event.host is None:
                return
            tally = self.hosts.setdefault(event.host, HostTally())
            for column, kind in RECAP_COLUMNS:
                if event.kind == kind:
                    tally.counts[column] += 1
            if event.kind == Kind.HOST_UNREACHABLE:
                tally.unreachable = event.reason
            if event.kind == Kind.HOST_SKIPPED:
                tally.skipped_host = event.reason

    def total(self, column: str) -> int:
        with self._lock:
            return sum(t.counts[column] for t in self.hosts.values())

    @property
    def unreachable_hosts(self) -> int:
        with self._lock:
            return sum(1 for t in self.hosts.values() if t.unreachable)

    @property
    def problems(self) -> bool:
        """Anything an admin must look at: failures, stuck sessions, lost hosts."""
        return bool(self.total("failed") or self.total("stuck") or self.unreachable_hosts)

    def document(self) -> dict[str, object]:
        """The machine-readable outcome for --report."""
        with self._lock:
            return {
                "interrupted": self.interrupted,
                "hosts": {
                    name: {
                        **t.counts,
                        "unreachable": t.unreachable,
                        "not_started": t.skipped_host,
                    }
                    for name, t in self.hosts.items()
                },
                "events": [
                    {
                        "event": e.kind.value,
                        "time": e.time.isoformat(timespec="milliseconds"),
                        "host": e.host,
                        "session_id": e.session_id,
                        "username": e.username,
                        "reason": e.reason,
                    }
                    for e in self.events
                ],
            }
