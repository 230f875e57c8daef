"""What happens during apply, as facts: the executor emits them, the audit log records
them, the UI draws them. One vocabulary for all three (docs/audit-and-report.md).

Every planned target ends with exactly one *outcome* (OUTCOMES): logged_off, stuck,
failed, spared, skipped, not_warned or not_attempted. The other kinds are steps along
the way (warned, reminded, cancel_notice, logoff_sent) or run- and host-level facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from fleetlogoff.errors import FleetLogoffError, HostCommandError, ParseError, TransportError


class Kind(StrEnum):
    """Event kinds; the audit log's `event` field."""

    RUN_STARTED = "run_started"
    RUN_ENDED = "run_ended"
    PHASE_STARTED = "phase_started"  # reason: one of PHASES, once per run when first entered
    WAIT_STARTED = "wait_started"  # the shared wait; data: deadline (the latest promise)
    INTERRUPTED = "interrupted"  # a stop request (Ctrl-C, SIGTERM, SIGHUP) was seen
    HOST_STARTED = "host_started"  # the logoff phase began on a host
    HOST_UNREACHABLE = "host_unreachable"  # a phase could not reach the host; error: why
    HOST_SKIPPED = "host_skipped"  # window closed, or not started (interrupt, failure limit)
    HOST_DONE = "host_done"  # the logoff phase finished on a host
    INTERNAL_ERROR = "internal_error"  # a bug in the tool's own work on a host; error: cause
    WARNED = "warned"  # the warning reached the user; data: deadline promised
    WARN_FAILED = "warn_failed"  # one attempt to warn failed (retried while time allows)
    REMINDED = "reminded"  # a warned user was reminded before the deadline
    CANCEL_NOTICE = "cancel_notice"  # a warned user was told the logoff is cancelled
    LOGOFF_SENT = "logoff_sent"  # written before logoff runs: the record never lags the act
    # Outcomes: exactly one per planned target.
    LOGGED_OFF = "logged_off"  # logoff ran and the session is gone
    STUCK = "stuck"  # logoff ran but the session is still there
    FAILED = "failed"  # logoff reported an error, did not finish, or its result is unknown
    SPARED = "spared"  # rules no longer select the session (e.g. active again)
    SKIPPED = "skipped"  # not the planned session any more, or gone
    NOT_WARNED = "not_warned"  # the warning was not delivered: never logged off
    NOT_ATTEMPTED = "not_attempted"  # never acted on: interrupt, failure limit, window, host lost


OUTCOMES = frozenset(
    {
        Kind.LOGGED_OFF,
        Kind.STUCK,
        Kind.FAILED,
        Kind.SPARED,
        Kind.SKIPPED,
        Kind.NOT_WARNED,
        Kind.NOT_ATTEMPTED,
    }
)
# Written *before* their act: when such a record cannot be written (the sink raises
# RecordError), the act does not happen.
PRE_RECORDS = frozenset({Kind.LOGOFF_SENT})
# PHASE_STARTED reasons, in the order a run goes through them. Hosts overlap (one may be
# confirming while another still logs off), so each is announced once, when first entered.
PHASES = ("warning", "waiting", "logging_off", "confirming", "cancelling")


class RecordError(FleetLogoffError):
    """An event could not be recorded (the audit log failed): nothing more may be acted on."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error as structured facts, so the audit log keeps its kind and code.

    Attributes:
        type: the error class ("TransportError", "HostCommandError", "ParseError",
            "internal" for a bug).
        kind: TransportError's kind (unreachable, auth_failed, timeout, reset, protocol,
            tls), the failing command for HostCommandError and ParseError, or the
            exception's class name for internal errors.
        reason: one line.
        code: the Windows error number when the host printed one, else None.
    """

    type: str
    kind: str
    reason: str
    code: int | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """Describe any exception; ones the tool does not know are internal errors."""
        if isinstance(exc, TransportError):
            return cls("TransportError", exc.kind, exc.reason)
        if isinstance(exc, HostCommandError):
            return cls("HostCommandError", exc.command, exc.reason, exc.code)
        if isinstance(exc, ParseError):
            return cls("ParseError", exc.command, str(exc))
        if isinstance(exc, FleetLogoffError):
            return cls(type(exc).__name__, type(exc).__name__, str(exc))
        return cls("internal", type(exc).__name__, f"{type(exc).__name__}: {exc}")

    def document(self) -> dict[str, object]:
        """The JSON form (audit log and report)."""
        return {"type": self.type, "kind": self.kind, "reason": self.reason, "code": self.code}


@dataclass(frozen=True, slots=True)
class Event:
    """One fact.

    Attributes:
        kind: what happened.
        time: when (UTC, aware).
        host: inventory name, None for run-level events.
        session_id: the Windows session id it concerns, if any.
        username: the session's user, if any.
        reason: human detail ("changed since plan: id 4 now belongs to bob").
        data: extra structured fields for the audit log (JSON-able values only).
        error: the error behind the event, as structured facts, if any.
    """

    kind: Kind
    time: datetime
    host: str | None = None
    session_id: int | None = None
    username: str | None = None
    reason: str = ""
    data: dict[str, object] = field(default_factory=dict)
    error: ErrorInfo | None = None

    def document(self) -> dict[str, object]:
        """The JSON form shared by the audit log and the report (docs/audit-and-report.md):
        absent facts are left out, `data` never overwrites a field."""
        record: dict[str, object] = {
            "time": self.time.isoformat(timespec="milliseconds"),
            "event": self.kind.value,
        }
        if self.host is not None:
            record["host"] = self.host
        if self.session_id is not None:
            record["session_id"] = self.session_id
        if self.username is not None:
            record["username"] = self.username
        if self.reason:
            record["reason"] = self.reason
        if self.error is not None:
            record["error"] = self.error.document()
        for key, value in self.data.items():
            record.setdefault(key, value)
        return record
