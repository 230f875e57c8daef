"""What apply does on one host, each act on an open host session: read the sessions, log
off verified targets (messages go through guard.py's guarded message). Plus `HostLink`,
which opens that session and opens it again after a transient transport error, within
the host's deadline.

No policy lives here (which hosts, when, how many failures are too many): see policy.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

from fleetlogoff.auth_guard import AuthFailureGuard, Outcome
from fleetlogoff.collect import read_sessions
from fleetlogoff.errors import TransportError
from fleetlogoff.events import ErrorInfo
from fleetlogoff.executor.settings import ApplySettings, Clock, Sleep
from fleetlogoff.guard import GuardOutcome, guarded_logoffs
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers.facts import HostFacts
from fleetlogoff.transport import Connector, HostSession

log = logging.getLogger(__name__)

T = TypeVar("T")

# Transport failures worth another attempt: the host answered before, or may answer now
# (collect.py retries the same kinds when reading for a plan).
TRANSIENT_KINDS = frozenset({"reset", "protocol", "timeout"})


class HostLink:
    """One host's session for one phase: opened on first use, opened again after a transient
    transport error, until the host's deadline passes or the attempts run out."""

    def __init__(
        self,
        connector: Connector,
        host: Host,
        settings: ApplySettings,
        clock: Clock,
        sleep: Sleep,
        guard: AuthFailureGuard | None = None,
    ) -> None:
        self.host = host
        self._connector = connector
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._guard = guard
        self._deadline = clock() + timedelta(seconds=settings.host_timeout_s)
        self._session: HostSession | None = None

    def remaining_s(self) -> float:
        """Seconds left before the host's deadline."""
        return (self._deadline - self._clock()).total_seconds()

    def session(self) -> HostSession:
        """The open session, opening one if needed."""
        if self._session is None:
            remaining = self.remaining_s()
            if remaining <= 0:
                raise TransportError(self.host.name, "timeout", "the host's deadline passed")
            self._session = self._open(remaining)
        return self._session

    def _open(self, deadline_s: float) -> HostSession:
        """Connect; with a lockout guard, only when the host's credentials may be tried
        (auth_guard.py: one wrong password is not tried on the whole fleet)."""
        if self._guard is None:
            return self._connector.open(self.host, deadline_s=deadline_s)
        refusal = self._guard.enter(self.host)
        if refusal is not None:
            raise TransportError(self.host.name, "not_started", refusal)
        try:
            session = self._connector.open(self.host, deadline_s=deadline_s)
        except BaseException as exc:
            rejected = isinstance(exc, TransportError) and exc.kind == "auth_failed"
            self._guard.leave(self.host, Outcome.REJECTED if rejected else Outcome.UNKNOWN)
            raise
        self._guard.leave(self.host, Outcome.PROVEN)
        return session

    def run(self, step: Callable[[HostSession], T]) -> T:
        """Run an idempotent step; after a transient transport error, open a new session and
        run it again (up to `retries` more times per step) while the host's deadline allows.
        The last error is raised."""
        retries = self._settings.retries
        while True:
            try:
                return step(self.session())
            except TransportError as exc:
                self.drop()
                if retries <= 0 or not self.may_retry(exc):
                    raise
                log.info("%s: %s; trying again", self.host.name, exc.reason)
                retries -= 1
                self.pause()

    def may_retry(self, exc: TransportError | None = None) -> bool:
        """Whether another attempt fits: the error is transient and time is left."""
        transient = exc is None or exc.kind in TRANSIENT_KINDS
        return transient and self.remaining_s() > self._settings.retry_pause_s

    def pause(self) -> None:
        """The pause before another attempt."""
        self._sleep(self._settings.retry_pause_s)

    def command_timeout(self) -> float:
        """One command's deadline: --timeout, but never past the host's deadline."""
        return max(0.001, min(self._settings.command_timeout_s, self.remaining_s()))

    def drop(self) -> None:
        """Forget a session that may be broken (it is closed, never reused)."""
        if self._session is not None:
            session, self._session = self._session, None
            session.close()

    close = drop


def read_current(
    session: HostSession, host: Host, timeout: float, known: HostFacts | None = None
) -> list[Session]:
    """The host's sessions now (quser), dates read as the plan read them (`known`)."""
    sessions, _ = read_sessions(session, host, timeout, known)
    return sessions


LogoffStatus = Literal["sent", "failed", "unknown", "not_attempted", "changed", "gone"]


@dataclass(frozen=True, slots=True)
class LogoffResult:
    """What became of one target's logoff.

    Attributes:
        session: the target.
        status: sent (logoff reported success; confirmation follows), failed (logoff
            printed an error or did not finish in time), unknown (the connection was lost
            while it ran: confirmation decides), not_attempted (stop requested, or its
            logoff_sent record could not be written), changed / gone (a host-side identity
            check found another session or none under the id: nothing was done).
        reason: one line.
        error: the error behind a failed or unknown logoff.
        host_text: the host's own words about it, in its language (shown at -v, kept in
            the audit log).
    """

    session: Session
    status: LogoffStatus
    reason: str = ""
    error: ErrorInfo | None = None
    host_text: str = ""


def log_off_targets(
    session: HostSession,
    host: Host,
    targets: Sequence[Session],
    *,
    record: Callable[[Sequence[Session]], list[str | None]],
    should_stop: Callable[[], bool],
    timeout: Callable[[], float],
) -> list[LogoffResult]:
    """Log off this host's verified targets with the guarded logoff (guard.py): one
    command on the host that, for each target, checks it is still the planned session and
    only then runs logoff.exe, so a session id handed to a newcomer in the meantime is
    never logged off. One PowerShell start for all of the host's targets.

    `record(targets)` writes their logoff_sent lines *before* the command runs; a target
    whose record is refused (the audit log failed, or the ledger found it may not go) is
    not sent. After a lost connection every target sent gets "unknown": the caller looks
    again on a new session.

    Args:
        session: the open host session.
        host: the host.
        targets: sessions verified a moment ago as the planned ones, still selected.
        record: writes the targets' logoff_sent records; per target None when written,
            else why it may not go.
        should_stop: True once no new act may start.
        timeout: seconds one command may take.

    Returns:
        One result per target, in order.
    """
    results: dict[int, LogoffResult] = {}
    ready: list[Session] = []
    for target in targets:
        if should_stop():
            results[target.id] = LogoffResult(target, "not_attempted", "interrupted before logoff")
        else:
            ready.append(target)
    sent: list[Session] = []
    for target, refused in zip(ready, record(ready) if ready else [], strict=True):
        if refused:
            results[target.id] = LogoffResult(target, "not_attempted", refused)
        else:
            sent.append(target)
    if sent:
        try:
            outcomes = guarded_logoffs(session, host, sent, timeout())
        except TransportError as exc:
            error = ErrorInfo.from_exception(exc)
            status: LogoffStatus = "failed" if exc.kind == "timeout" else "unknown"
            reason = (
                "logoff did not finish in time"
                if exc.kind == "timeout"
                else f"connection lost: {exc.reason}"
            )
            outcomes = None
            for target in sent:
                results[target.id] = LogoffResult(target, status, reason, error)
        if outcomes is not None:
            for target, outcome in zip(sent, outcomes, strict=True):
                results[target.id] = _logoff_result(target, outcome)
    return [results[t.id] for t in targets]


def _logoff_result(target: Session, outcome: GuardOutcome) -> LogoffResult:
    """A guarded logoff's outcome as apply books it, with the host's own words."""
    if outcome.status == "sent":
        return LogoffResult(target, "sent")
    if outcome.status in ("gone", "changed"):
        return LogoffResult(target, outcome.status, outcome.reason, host_text=outcome.detail)
    error = ErrorInfo("HostCommandError", "logoff", outcome.reason, outcome.error_code)
    return LogoffResult(target, "failed", outcome.reason, error, outcome.detail)
