"""The end-of-run tally per host, in the spirit of Ansible's PLAY RECAP, built from events;
and the --report document built from it (schema: docs/audit-and-report.md)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from fleetlogoff.events import Event, Kind

# The recap's columns: `warned` is a step, the others are the outcomes (one per target).
RECAP_COLUMNS = (
    ("warned", Kind.WARNED),
    ("logged_off", Kind.LOGGED_OFF),
    ("spared", Kind.SPARED),
    ("skipped", Kind.SKIPPED),
    ("not_warned", Kind.NOT_WARNED),
    ("not_attempted", Kind.NOT_ATTEMPTED),
    ("stuck", Kind.STUCK),
    ("failed", Kind.FAILED),
)
REPORT_FORMAT = 1


@dataclass
class HostTally:
    """Counts for one host, plus why it could not be worked on (if so)."""

    counts: dict[str, int] = field(default_factory=lambda: {c: 0 for c, _ in RECAP_COLUMNS})
    unreachable: str | None = None
    skipped_host: str | None = None
    internal_error: str | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the report says about the run as a whole (the audit log's run_started and
    run_ended lines carry the same facts).

    Attributes:
        run_id: shared with every audit line of the run.
        started: when the run started (UTC).
        ended: when it ended (UTC).
        plan_digest: sha256 of the canonical plan document acted on.
        exit_code: the process's exit code.
        audit_log: the audit log's path.
    """

    run_id: str
    started: datetime
    ended: datetime
    plan_digest: str
    exit_code: int
    audit_log: str


class Recap:
    """Thread-safe accumulator of events into per-host tallies."""

    def __init__(self, hosts: list[str]) -> None:
        self._lock = threading.Lock()
        self.hosts: dict[str, HostTally] = {name: HostTally() for name in hosts}
        self.interrupted = False
        self.internal_errors = 0
        self.events: list[Event] = []

    def add(self, event: Event) -> None:
        """Count one event (thread-safe)."""
        with self._lock:
            self.events.append(event)
            if event.kind == Kind.INTERRUPTED:
                self.interrupted = True
            if event.kind == Kind.INTERNAL_ERROR:
                self.internal_errors += 1
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
            if event.kind == Kind.INTERNAL_ERROR:
                tally.internal_error = event.reason

    def total(self, column: str) -> int:
        """One column summed over the hosts."""
        with self._lock:
            return sum(t.counts[column] for t in self.hosts.values())

    @property
    def unreachable_hosts(self) -> int:
        """Hosts some phase could not reach."""
        with self._lock:
            return sum(1 for t in self.hosts.values() if t.unreachable)

    @property
    def problems(self) -> bool:
        """Anything an admin must look at: failures, stuck sessions, users who were not
        warned, lost hosts, internal errors."""
        return bool(
            self.total("failed")
            or self.total("stuck")
            or self.total("not_warned")
            or self.unreachable_hosts
            or self.internal_errors
        )

    def totals(self) -> dict[str, int]:
        """Every column summed, plus the host-level counts."""
        with self._lock:
            sums = {c: sum(t.counts[c] for t in self.hosts.values()) for c, _ in RECAP_COLUMNS}
            return {
                **sums,
                "hosts": len(self.hosts),
                "hosts_unreachable": sum(1 for t in self.hosts.values() if t.unreachable),
                "hosts_skipped": sum(1 for t in self.hosts.values() if t.skipped_host),
                "internal_errors": self.internal_errors,
            }

    def document(self, run: RunInfo) -> dict[str, object]:
        """The machine-readable outcome for --report."""
        totals = self.totals()
        with self._lock:
            return {
                "format_version": REPORT_FORMAT,
                "run": run.run_id,
                "started": run.started.isoformat(timespec="milliseconds"),
                "ended": run.ended.isoformat(timespec="milliseconds"),
                "plan_digest": run.plan_digest,
                "exit_code": run.exit_code,
                "audit_log": run.audit_log,
                "interrupted": self.interrupted,
                "totals": totals,
                "hosts": {
                    name: {
                        **t.counts,
                        "unreachable": t.unreachable,
                        "not_started": t.skipped_host,
                        "internal_error": t.internal_error,
                    }
                    for name, t in self.hosts.items()
                },
                "events": [e.document() for e in self.events],
            }
