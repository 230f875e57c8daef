"""What happens during apply, as facts: the executor emits them, the audit log records
them, the UI draws them. One vocabulary for all three."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    """Event kinds; the audit log's `event` field."""

    RUN_STARTED = "run_started"
    RUN_ENDED = "run_ended"
    HOST_STARTED = "host_started"
    HOST_UNREACHABLE = "host_unreachable"
    HOST_SKIPPED = "host_skipped"  # window closed, not started after the failure limit
    HOST_DONE = "host_done"
    WARNED = "warned"
    WARN_FAILED = "warn_failed"
    REMINDED = "reminded"  # a warned user was reminded before the deadline
    CANCEL_NOTICE = "cancel_notice"  # a warned user was told the logoff is cancelled
    SPARED = "spared"  # rules no longer select the session (e.g. active again)
    SKIPPED = "skipped"  # not the planned session any more, or gone
    LOGOFF_SENT = "logoff_sent"  # written before logoff runs: the record never lags the act
    LOGGED_OFF = "logged_off"
    STUCK = "stuck"  # logoff ran but the session is still there
    FAILED = "failed"  # logoff reported an error or did not finish
    PHASE_STARTED = "phase_started"  # reason: warning, waiting, logging_off, confirming
    WAIT_STARTED = "wait_started"
    INTERRUPTED = "interrupted"


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
    """

    kind: Kind
    time: datetime
    host: str | None = None
    session_id: int | None = None
    username: str | None = None
    reason: str = ""
    data: dict[str, object] = field(default_factory=dict)
