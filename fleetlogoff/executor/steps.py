"""What apply does on one host, phase by phase: warn its targets, remind or tell them the
logoff is cancelled, log off the verified ones and confirm they are gone. Each procedure
books what happened in the ledger, one outcome per target; the acts themselves are in
acts.py, and which hosts run when is the policy's (policy.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from fleetlogoff.auth_guard import AuthFailureGuard
from fleetlogoff.errors import HostCommandError, ParseError, TransportError
from fleetlogoff.events import ErrorInfo, Kind
from fleetlogoff.executor.acts import (
    HostLink,
    LogoffResult,
    log_off_targets,
    read_current,
)
from fleetlogoff.executor.ledger import Ledger
from fleetlogoff.executor.settings import ApplySettings, Clock, Sleep, StopFlag, Work
from fleetlogoff.guard import GuardOutcome, PlannedMessage, guarded_messages
from fleetlogoff.messages import NOTICE_DISPLAY_S, clock_minute, render_message, spoken_duration
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers.facts import HostFacts
from fleetlogoff.parsers.timezone import HostClock
from fleetlogoff.planner import Selection, host_window, recheck_target, same_session
from fleetlogoff.transport import Connector, HostSession

# What a host can answer with instead of doing its part: reported for that host, never
# raised past it. Anything else is a bug, reported as an internal error by the policy.
HOST_ERRORS = (TransportError, ParseError, HostCommandError)


class HostSteps:
    """The per-host procedures of a run, sharing its ledger, clock and stop signal."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        selection: Selection,
        connector: Connector,
        settings: ApplySettings,
        clock: Clock,
        stop: StopFlag,
        sleep: Sleep,
        facts: Mapping[str, HostFacts | None] | None = None,
        guard: AuthFailureGuard | None = None,
    ) -> None:
        self._ledger = ledger
        self._guard = guard
        self._selection = selection
        self._connector = connector
        self._settings = settings
        self._clock = clock
        self._stop = stop
        self._sleep = sleep
        # What plan learned of each host's dates and clock: apply reads them the same way,
        # and a host whose date format changed since the plan is refused.
        self._facts: Mapping[str, HostFacts | None] = facts or {}
        self._why: dict[tuple[str, int], str] = {}  # each host's key written by its own thread

    @property
    def ledger(self) -> Ledger:
        """The ledger these steps book into."""
        return self._ledger

    def _read(self, session: HostSession, host: Host, link: HostLink) -> list[Session]:
        """The host's sessions now, read the way the plan read them."""
        return read_current(session, host, link.command_timeout(), self._facts.get(host.name))

    def window_closed(self, host: Host, needed: timedelta) -> str | None:
        """Why the host may not act now (its window leaves less than `needed`), or None."""
        if self._settings.ignore_windows:
            return None
        status = host_window(host, self._clock(), needed)
        return None if status.fits else f"maintenance window: {status.text}"

    def skip_host(self, work: Work, why: str) -> None:
        """Not started on this host: its open targets are not attempted, saying why."""
        self._ledger.event(Kind.HOST_SKIPPED, work.host.name, reason=why)
        for target in self._ledger.open_targets(work.host.name):
            self._ledger.outcome(Kind.NOT_ATTEMPTED, work.host.name, target, why)

    def warn_host(self, work: Work) -> bool:
        """Warn the host's targets that are still the planned sessions; after a transient
        error, open a new session and go on with those not warned yet."""
        link = self._link(work.host)
        try:
            link.run(lambda session: self._warn_targets(session, link, work))
        except HOST_ERRORS as exc:
            error = ErrorInfo.from_exception(exc)
            self._ledger.event(
                Kind.HOST_UNREACHABLE, work.host.name, reason=f"warning: {exc}", error=error
            )
            self.settle_unwarned(work, f"host unreachable: {error.reason}", error)
            return False
        finally:
            link.close()
        return True

    def _warn_targets(self, session: HostSession, link: HostLink, work: Work) -> None:
        """Warn the host's verified targets with one guarded message command: each text
        reaches its session only if the host still shows the planned session there."""
        host = work.host
        if self._stop.is_set():
            return
        current = self._read(session, host, link)
        due = [
            planned.session
            for planned in work.plan.targets
            # (an outcome or a promise: done on an earlier attempt)
            if not self._ledger.has_outcome(host.name, planned.session)
            and not self._ledger.deadline(host.name, planned.session)
        ]
        verified = [target for target in due if self._verified(host, target, current)]
        if not verified or self._stop.is_set():
            return
        deadline = self._clock() + self._settings.warn
        display_s = (deadline - self._clock()).total_seconds()
        messages = [
            PlannedMessage(
                target,
                render_message(self._settings.message, self.values(host, target, deadline)),
                display_s,
            )
            for target in verified
        ]
        outcomes = guarded_messages(session, host, messages, link.command_timeout())
        for message, outcome in zip(messages, outcomes, strict=True):
            self._book_warning(host, message, outcome, deadline)

    def _book_warning(
        self, host: Host, message: PlannedMessage, outcome: GuardOutcome, deadline: datetime
    ) -> None:
        target = message.session
        if outcome.status in ("gone", "changed"):  # found by the host-side check: not sent
            data: dict[str, object] | None = (
                {"host_text": outcome.detail} if outcome.detail else None
            )
            self._ledger.outcome(Kind.SKIPPED, host.name, target, outcome.reason, data=data)
            return
        if outcome.status == "failed":
            error = ErrorInfo("HostCommandError", "msg", outcome.reason, outcome.error_code)
            self._ledger.event(Kind.WARN_FAILED, host.name, target, outcome.reason, error=error)
            self._ledger.outcome(
                Kind.NOT_WARNED,
                host.name,
                target,
                f"warning not delivered: {outcome.reason}",
                error,
            )
            return
        # The user read "in 5 minutes" when msg returned at the latest: keep at least that.
        promised = max(deadline, self._clock() + self._settings.warn)
        self._ledger.promise(host.name, target, promised, message.text)

    def settle_unwarned(self, work: Work, why: str, error: ErrorInfo) -> None:
        """The warning phase ended badly on this host: who was not warned never will be."""
        for target in self._ledger.open_targets(work.host.name):
            if self._ledger.deadline(work.host.name, target) is None:
                self._ledger.outcome(
                    Kind.NOT_WARNED, work.host.name, target, f"warning not delivered: {why}", error
                )

    def values(self, host: Host, target: Session, deadline: datetime | None) -> dict[str, str]:
        """The message placeholders for `target`, now."""
        facts = self._facts.get(host.name)
        clock = facts.clock if facts is not None else None
        return message_values(host, target, deadline, self._clock(), clock)

    def notify_host(
        self,
        host: Host,
        kind: Kind,
        template: str,
        deadline: datetime | None,
        recipients: list[Session],
    ) -> bool:
        """Best effort: each recipient still in the same session gets the message once.
        Never sent to a stranger (an id now somebody else's); a stop request does not
        hold a notice back."""
        link = self._link(host)
        told: set[int] = set()

        def tell(session: HostSession) -> None:
            current = self._read(session, host, link)
            pending = [t for t in recipients if t.id not in told]
            present = [t for t in pending if any(same_session(t, c) for c in current)]
            if present:
                self._notify(session, link, host, present, kind, template, deadline)
            told.update(t.id for t in pending)

        try:
            link.run(tell)
        except HOST_ERRORS as exc:
            error = ErrorInfo.from_exception(exc)
            for target in (t for t in recipients if t.id not in told):
                self._ledger.event(
                    kind,
                    host.name,
                    target,
                    f"not delivered: {exc}",
                    data=undelivered(),
                    error=error,
                )
            return False
        finally:
            link.close()
        return True

    def _notify(
        self,
        session: HostSession,
        link: HostLink,
        host: Host,
        targets: Sequence[Session],
        kind: Kind,
        template: str,
        deadline: datetime | None,
    ) -> None:
        """One guarded message command for the host's recipients (never a stranger)."""
        display_s = (deadline - self._clock()).total_seconds() if deadline else NOTICE_DISPLAY_S
        messages = [
            PlannedMessage(t, render_message(template, self.values(host, t, deadline)), display_s)
            for t in targets
        ]
        outcomes = guarded_messages(session, host, messages, link.command_timeout())
        for message, outcome in zip(messages, outcomes, strict=True):
            target = message.session
            if outcome.status == "sent":
                self._ledger.event(kind, host.name, target, message.text, data={"delivered": True})
                continue
            error = (
                ErrorInfo("HostCommandError", "msg", outcome.reason, outcome.error_code)
                if outcome.status == "failed"
                else None
            )
            self._ledger.event(
                kind,
                host.name,
                target,
                f"not delivered: {outcome.reason}",
                data=undelivered(),
                error=error,
            )

    def log_off_host(self, work: Work) -> bool:
        """One host's logoffs and their confirmation; True when nothing failed there."""
        name = work.host.name
        if not self._ledger.open_targets(name):
            self._ledger.event(Kind.HOST_DONE, name, reason="nothing left to log off")
            return True
        if self._stop.is_set():
            self.skip_host(work, "not started: interrupted")
            return True
        closed = self.window_closed(work.host, self._settings.window_margin)
        if closed is not None:
            self.skip_host(work, closed)
            return True
        self._ledger.event(Kind.HOST_STARTED, name)
        link = self._link(work.host)
        try:
            pending = self._log_off_verified(link, work)
            if pending:
                self._ledger.phase("confirming")
                self._confirm(link, work.host, pending)
        except HOST_ERRORS as exc:
            error = ErrorInfo.from_exception(exc)
            self._ledger.event(Kind.HOST_UNREACHABLE, name, reason=str(exc), error=error)
            self.settle_lost(work, f"host lost: {error.reason}", error)
            return False
        finally:
            link.close()
        self._ledger.event(Kind.HOST_DONE, name)
        return not self._ledger.host_has(name, frozenset({Kind.FAILED, Kind.STUCK}))

    def _log_off_verified(self, link: HostLink, work: Work) -> list[tuple[Session, bool]]:
        """Re-read, verify and log off. After a lost connection, look again on a new session:
        a target whose logoff's answer was lost is confirmed if gone, logged off again if
        still the same session; the targets not reached yet are verified and logged off.
        Returns (target, result unknown) pairs to confirm."""
        host = work.host
        pending: list[tuple[Session, bool]] = []
        todo: list[Session] = self._ledger.open_targets(host.name)
        lost: list[Session] = []
        for _round in range(self._settings.retries + 1):
            current = link.run(lambda s: self._read(s, host, link))
            for target in lost:
                if any(same_session(target, c) for c in current):
                    todo.append(target)  # its logoff did not run: verified and sent again
                else:
                    pending.append((target, False))  # gone: the confirmation records it
            verified = [t for t in todo if self._may_log_off(host, t, current)]
            results = log_off_targets(
                link.session(),
                host,
                verified,
                record=lambda targets: self._record_sent(host, targets),
                should_stop=self._stop.is_set,
                timeout=link.command_timeout,
            )
            lost = [r.session for r in results if r.status == "unknown"]
            for result in (r for r in results if r.status != "unknown"):
                self._book(host, result, pending)
            handled = {r.session.id for r in results}
            todo = [t for t in verified if t.id not in handled]
            if not lost:
                return pending
            link.drop()  # that session is broken
            if self._stop.is_set() or not link.may_retry():
                break
            link.pause()
        pending.extend((target, True) for target in lost)
        for target in todo:
            self._ledger.outcome(
                Kind.NOT_ATTEMPTED, host.name, target, "connection lost before its logoff"
            )
        return pending

    def _may_log_off(self, host: Host, target: Session, current: Sequence[Session]) -> bool:
        """Warned (when a warning was promised) and past its deadline, still the planned
        session, still selected by the rules. Every other target gets its outcome here."""
        if self._settings.warn > timedelta(0):
            promised = self._ledger.deadline(host.name, target)
            if promised is None:
                self._ledger.outcome(
                    Kind.NOT_WARNED, host.name, target, "no warning was delivered to this session"
                )
                return False
            if promised > self._clock():
                self._ledger.outcome(
                    Kind.NOT_ATTEMPTED, host.name, target, "its warning's deadline has not come"
                )
                return False
        return self._verified(host, target, current)

    def _verified(self, host: Host, target: Session, current: Sequence[Session]) -> bool:
        check = recheck_target(
            host, target, current, self._selection, self._clock(), self._facts.get(host.name)
        )
        if check.status in ("gone", "changed"):
            self._ledger.outcome(Kind.SKIPPED, host.name, target, check.reason)
        elif check.status == "spared":
            self._ledger.outcome(Kind.SPARED, host.name, target, check.reason)
        if check.status == "proceed":
            # Why it goes, for its logoff_sent record (the rule, a --force reason).
            self._why[(host.name, target.id)] = check.reason
        return check.status == "proceed"

    def _record_sent(self, host: Host, targets: Sequence[Session]) -> list[str | None]:
        """The logoff_sent records, with why each target goes (the rule, a --force
        reason); per target None when written, else why it may not go."""
        why = [(t, self._why.get((host.name, t.id), "")) for t in targets]
        return self._ledger.record_logoffs(host.name, why)

    def _book(self, host: Host, result: LogoffResult, pending: list[tuple[Session, bool]]) -> None:
        target, name = result.session, host.name
        data: dict[str, object] = {"host_text": result.host_text} if result.host_text else {}
        if result.status in ("sent", "unknown"):
            pending.append((target, result.status == "unknown"))
        elif result.status == "failed":
            self._ledger.outcome(Kind.FAILED, name, target, result.reason, result.error, data)
        elif result.status == "not_attempted":
            self._ledger.outcome(Kind.NOT_ATTEMPTED, name, target, result.reason)
        else:  # changed / gone, found by the host-side identity check
            self._ledger.outcome(Kind.SKIPPED, name, target, result.reason, data=data)

    def _confirm(self, link: HostLink, host: Host, pending: list[tuple[Session, bool]]) -> None:
        """Re-read until every logged-off session is gone; what stays is stuck, not done."""
        waiting = list(pending)
        for attempt in range(self._settings.confirm_attempts):
            if attempt:
                self._sleep(self._settings.confirm_pause_s)
            current = link.run(lambda s: self._read(s, host, link))
            still = []
            for target, unknown in waiting:
                if any(same_session(target, c) for c in current):
                    still.append((target, unknown))
                else:
                    self._ledger.outcome(Kind.LOGGED_OFF, host.name, target, "logged off and gone")
            waiting = still
            if not waiting:
                return
        for target, unknown in waiting:
            if unknown:
                self._ledger.outcome(
                    Kind.FAILED,
                    host.name,
                    target,
                    "connection lost during its logoff, and the session is still there",
                )
            else:
                self._ledger.outcome(
                    Kind.STUCK, host.name, target, "logoff ran but the session is still there"
                )

    def settle_lost(self, work: Work, why: str, error: ErrorInfo) -> None:
        """A host lost (or a bug) in the logoff phase: each open target says what is known."""
        for target in self._ledger.open_targets(work.host.name):
            if self._ledger.was_sent(work.host.name, target):
                self._ledger.outcome(
                    Kind.FAILED,
                    work.host.name,
                    target,
                    f"logoff sent; result unknown: {why}",
                    error,
                )
            else:
                self._ledger.outcome(Kind.NOT_ATTEMPTED, work.host.name, target, why)

    def _link(self, host: Host) -> HostLink:
        return HostLink(
            self._connector, host, self._settings, self._clock, self._sleep, self._guard
        )


def undelivered() -> dict[str, object]:
    """The data of a reminder or cancel notice that did not reach its user."""
    return {"delivered": False}


def message_values(
    host: Host,
    target: Session,
    deadline: datetime | None,
    now: datetime,
    clock: HostClock | None = None,
) -> dict[str, str]:
    """The placeholders of a message to `target` that promises `deadline` (none for a
    cancel notice), as read at `now`; `{deadline}` on the host's clock as the plan read it."""
    left = (deadline - now).total_seconds() if deadline else 0.0
    return {
        "user": target.username,
        "host": host.name,
        "minutes": str(max(0, round(left)) // 60),
        "time_left": spoken_duration(left),
        "deadline": clock_minute(host, deadline, clock) if deadline else "",
    }
