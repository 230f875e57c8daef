"""What apply reports for each answer of the host guard: sent, gone, changed, failed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetlogoff.events import Kind
from fleetlogoff.guard import GuardOutcome, PlannedMessage, guarded_logoff, guarded_messages
from fleetlogoff.guard_script import encode_text, guard_command_line
from fleetlogoff.model import Connection, Host, Session, SessionState
from fleetlogoff.transport import CommandOutput

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
HOST = Host("rds-1", ("all",), Connection("127.0.0.1", 5985), {"fleetlogoff_date_order": "mdy"})
HEADER = " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME"
PLANNED = Session(2, "stale.user", "", SessionState.DISCONNECTED, logon_text="3/13/2026 9:05 AM")


def _row(user: str, session_id: int, logon: str) -> str:
    return f" {user:<22}{'':<19}{session_id:>2}  Disc        1:02  {logon}"


class _Session:
    def __init__(self, stdout: str, stderr: str = "") -> None:
        self.output = CommandOutput(stdout.encode(), stderr.encode(), 0)
        self.calls: list[tuple[str, bytes | None]] = []

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        self.calls.append((command_line, stdin))
        return self.output

    def close(self) -> None:
        pass


def _kept(rows: str, errors: str = "") -> str:
    return f"fleetlogoff-guard 2 kept {encode_text(rows)} {encode_text(errors)}\r\n"


def _outcome(stdout: str, stderr: str = "") -> GuardOutcome:
    session = _Session(stdout, stderr)
    outcome = guarded_logoff(session, HOST, PLANNED, timeout=5)
    ((line, stdin),) = session.calls
    assert line == guard_command_line() and stdin is not None and b"stale" not in stdin
    return outcome


def test_logged_off_is_sent_and_left_to_the_post_logoff_check() -> None:
    outcome = _outcome("fleetlogoff-guard 2 logged_off\r\n")
    assert outcome.status == "sent" and outcome.event_kind is None


def test_kept_rows_tell_gone_from_changed() -> None:
    gone = _outcome(_kept(f"{HEADER}\n{_row('other', 3, '3/13/2026 9:05 AM')}"))
    assert (gone.status, gone.event_kind) == ("gone", Kind.SKIPPED)
    nobody = _outcome(_kept("", "No User exists for *"))
    assert nobody.status == "gone"
    changed = _outcome(_kept(f"{HEADER}\n{_row('newcomer', 2, '3/13/2026 10:00 AM')}"))
    assert changed.status == "changed"
    assert changed.reason.startswith("changed since plan: id 2 is now newcomer, logon 3/13/2026")


def test_a_quser_error_or_a_disagreement_is_a_failure_with_the_hosts_text() -> None:
    error = _outcome(
        _kept("", "Error 0x00000005 enumerating sessionnames\nError [5]:Access is denied.")
    )
    assert error.status == "failed" and "Access is denied" in error.reason
    same = _outcome(_kept(f"{HEADER}\n{_row('stale.user', 2, '3/13/2026 9:05 AM')}"))
    assert same.status == "failed" and "did not recognise session 2" in same.reason
    assert "stale.user" in same.detail


def test_a_failed_logoff_reads_in_english_with_the_hosts_words_kept() -> None:
    kb = (CORPUS / "logoff-en-us-errors.txt").read_text(encoding="utf-8").split("# ---\n")[1]
    outcome = _outcome(f"fleetlogoff-guard 2 failed 1 {encode_text(kb)}\r\n")
    assert outcome.reason == "logoff failed: Access is denied (Windows error 5)"
    assert outcome.error_code == 5 and outcome.detail.startswith("Could not logoff session ID 0")
    event = outcome.event("rds-1", PLANNED, datetime(2026, 3, 13, tzinfo=UTC))
    assert event.kind is Kind.FAILED and event.data == {"host_text": outcome.detail}


@pytest.mark.parametrize(
    "stderr",
    [
        "'powershell.exe' is not recognized as an internal or external command,",
        "This program is blocked by group policy. For more information, contact your system "
        "administrator.",
    ],
)
def test_no_powershell_is_a_failure_that_says_so(stderr: str) -> None:
    outcome = _outcome("", stderr)
    assert outcome.status == "failed"
    assert outcome.reason.startswith("not logged off: the guarded logoff could not run on the host")
    assert stderr.split(",")[0].split(".")[0] in outcome.reason


def _message_outcome(stdout: str, stderr: str = "") -> GuardOutcome:
    session = _Session(stdout, stderr)
    message = PlannedMessage(PLANNED, "You will be logged off in 5 minutes", 299.2)
    (outcome,) = guarded_messages(session, HOST, [message], timeout=5)
    ((line, stdin),) = session.calls
    assert line == guard_command_line() and stdin is not None
    assert b"\nmessage 2 " in stdin and b" 300 " in stdin  # display time rounded up
    assert b"logged off" not in stdin  # the text travels as code units
    return outcome


def test_a_guarded_message_sent_kept_or_failed() -> None:
    assert _message_outcome("fleetlogoff-guard 2 messaged\r\n").status == "sent"
    changed = _message_outcome(_kept(f"{HEADER}\n{_row('newcomer', 2, '3/13/2026 10:00 AM')}"))
    assert changed.status == "changed" and changed.reason.endswith("right before the message)")
    denied = _message_outcome(
        f"fleetlogoff-guard 2 failed 1 {encode_text('Error [5]:Access is denied.')}\r\n"
    )
    assert (denied.status, denied.reason, denied.error_code) == (
        "failed",
        "Error [5]:Access is denied.",
        5,
    )
    blocked = _message_outcome("", "This program is blocked by group policy.")
    assert blocked.status == "failed"
    assert blocked.reason.startswith("the guarded message could not run on the host")


def test_a_logoff_answer_to_a_message_is_never_taken_as_sent() -> None:
    assert _message_outcome("fleetlogoff-guard 2 logged_off\r\n").status == "failed"
