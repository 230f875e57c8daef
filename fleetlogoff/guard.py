"""Run the guarded logoff and the guarded message (guard_script.py) on an open host
session and say, per target, what happened in words apply and `fleetlogoff logoff` report.

The host decides match-or-not with a deliberately strict check; when it keeps a session,
this side reads the quser rows it saw with the real, locale-proof parser to tell "gone"
from "changed" (and a quser error from both), so nothing depends on the script reading a
row the way the parser would.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleetlogoff.errors import HostCommandError, ParseError
from fleetlogoff.events import Event, Kind
from fleetlogoff.guard_script import (
    MAX_DISPLAY_S,
    GuardMessage,
    GuardResult,
    GuardTarget,
    guard_command_line,
    guard_payload,
    read_guard_output,
)
from fleetlogoff.inventory.settings import host_codepage
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers import decode_output, parse_quser
from fleetlogoff.parsers.windows_errors import explain_windows_error
from fleetlogoff.planner import same_session
from fleetlogoff.transport import HostSession

log = logging.getLogger(__name__)

OutcomeStatus = Literal["sent", "gone", "changed", "failed"]
# How much of a host's own text an outcome keeps for the audit log (a quser table fits).
_KEEP = 4000


@dataclass(frozen=True, slots=True)
class GuardOutcome:
    """One target after the guarded logoff or the guarded message.

    Attributes:
        status: sent (checked, then logged off, the post-logoff check confirming it; or
            checked, then the message handed to msg), gone or changed (nothing done: the
            planned session is not there any more), failed (nothing confirmed: logoff or
            msg reported an error, or the guard could not run).
        reason: one line in English for the recap and the audit log.
        detail: the host's own text, when it had any (shown at -v).
        error_code: the Windows error number logoff or msg reported, if any.
    """

    status: OutcomeStatus
    reason: str = ""
    detail: str = ""
    error_code: int | None = None

    @property
    def event_kind(self) -> Kind | None:
        """The audit event for an outcome that ends the target here (None for sent)."""
        if self.status == "sent":
            return None
        return Kind.FAILED if self.status == "failed" else Kind.SKIPPED

    def event(self, host: str, planned: Session, time: datetime) -> Event:
        """That event; the host's own words ride along as `host_text` (shown at -v)."""
        return Event(
            self.event_kind or Kind.LOGOFF_SENT,
            time,
            host=host,
            session_id=planned.id,
            username=planned.username,
            reason=self.reason,
            data={"host_text": self.detail} if self.detail else {},
        )


def guarded_logoff(
    session: HostSession, host: Host, planned: Session, timeout: float
) -> GuardOutcome:
    """Log one planned session off if, on the host, it is still the planned session."""
    return guarded_logoffs(session, host, [planned], timeout)[0]


def guarded_logoffs(
    session: HostSession, host: Host, planned: Sequence[Session], timeout: float
) -> list[GuardOutcome]:
    """The same for several sessions of one host in one command (one PowerShell start).

    Raises:
        TransportError: the command could not be run or did not finish in time (what
            happened on the host is then unknown, as with any lost command).
    """
    results = _run_guard(session, host, [_guard_target(p) for p in planned], timeout)
    return [_outcome(host, p, r) for p, r in zip(planned, results, strict=True)]


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """A text for one planned session.

    Attributes:
        session: the planned session (its id, user and logon time are checked).
        text: what the user reads.
        display_s: how long msg keeps it on screen (rounded up, 1 s at least).
    """

    session: Session
    text: str
    display_s: float


def guarded_messages(
    session: HostSession, host: Host, messages: Sequence[PlannedMessage], timeout: float
) -> list[GuardOutcome]:
    """Show each text in its session if, on the host, the id still holds the planned
    session (one command for all of them): a warning never reaches a newcomer who took a
    freed id. Status "sent" means msg.exe reported nothing wrong (msg is asynchronous:
    not that the user read it, FORMATS.md §4).

    Raises:
        TransportError: as guarded_logoffs.
    """
    items = [
        GuardMessage(_guard_target(m.session), m.text, _whole_seconds(m.display_s))
        for m in messages
    ]
    results = _run_guard(session, host, items, timeout)
    return [_message_outcome(host, m.session, r) for m, r in zip(messages, results, strict=True)]


def _guard_target(planned: Session) -> GuardTarget:
    return GuardTarget(planned.id, planned.username, planned.logon_text)


def _whole_seconds(display_s: float) -> int:
    return min(MAX_DISPLAY_S, max(1, math.ceil(display_s)))


def _run_guard(
    session: HostSession, host: Host, items: Sequence[GuardTarget | GuardMessage], timeout: float
) -> list[GuardResult]:
    codepage = host_codepage(host)
    output = session.run(guard_command_line(), stdin=guard_payload(items), timeout=timeout)
    stdout = decode_output(output.stdout, codepage)
    stderr = decode_output(output.stderr, codepage)
    return read_guard_output(stdout, stderr, items)


@dataclass(frozen=True, slots=True)
class _Act:
    """How one act of the guard script is reported."""

    done: str  # the script's word for it
    done_reason: str
    undone: str  # what did not happen, before why (the caller says it for a message)
    script: str  # "the guarded {script} could not run on the host"
    before: str  # "... (checked on the host right before {before})"


_LOGOFF = _Act(
    "logged_off", "checked on the host and logged off", "not logged off: ", "logoff", "logoff"
)
_MESSAGE = _Act("messaged", "checked on the host and sent", "", "message", "the message")


def _message_outcome(host: Host, planned: Session, result: GuardResult) -> GuardOutcome:
    return _act_outcome(host, planned, result, _MESSAGE)


def _outcome(host: Host, planned: Session, result: GuardResult) -> GuardOutcome:
    return _act_outcome(host, planned, result, _LOGOFF)


def _act_outcome(host: Host, planned: Session, result: GuardResult, act: _Act) -> GuardOutcome:
    if result.status == act.done:
        return GuardOutcome("sent", act.done_reason)
    if result.status == "kept":
        return _kept(host, planned, result, act)
    explained = explain_windows_error(result.text)
    if result.exit_code is None:  # the script did not get as far as logoff.exe / msg.exe
        return GuardOutcome(
            "failed",
            f"{act.undone}the guarded {act.script} could not run on the host "
            f"(PowerShell missing, blocked or failing?): {explained.original or 'no answer'}",
            explained.original,
        )
    if act is _MESSAGE:  # msg's own words, as `msg` printed them (FORMATS.md §4)
        return GuardOutcome("failed", explained.original, explained.original, explained.code)
    return GuardOutcome(
        "failed", f"logoff failed: {explained.english}", explained.original, explained.code
    )


def _kept(host: Host, planned: Session, result: GuardResult, act: _Act) -> GuardOutcome:
    """Nothing was done: read the host's quser rows to say why."""
    undone = act.undone
    text = result.rows if result.rows.strip() else result.errors
    date_order = host.settings.get("fleetlogoff_date_order", "auto")
    try:
        current = parse_quser(text, date_order=date_order)  # type: ignore[arg-type]  # validated by the inventory
    except HostCommandError as exc:
        return GuardOutcome("failed", f"{undone}quser failed on the host: {exc}", text[:_KEEP])
    except ParseError as exc:
        return GuardOutcome("failed", f"{undone}{exc}", text[:_KEEP])
    found = next((s for s in current if s.id == planned.id), None)
    if found is None:
        return GuardOutcome(
            "gone", f"session is gone (checked on the host right before {act.before})"
        )
    if not same_session(planned, found):
        who = found.username or "nobody"
        return GuardOutcome(
            "changed",
            f"changed since plan: id {found.id} is now {who}, logon {found.logon_text or '-'} "
            f"(checked on the host right before {act.before})",
        )
    log.warning(
        "%s: the guard kept session %d that the parser reads as planned", host.name, planned.id
    )
    return GuardOutcome(
        "failed",
        f"{undone}the host-side check did not recognise session {planned.id} in "
        f"quser's rows (its row as read here: {found.username} {found.session_name} "
        f"{found.state_text} {found.logon_text})",
        text[:_KEEP],
    )
