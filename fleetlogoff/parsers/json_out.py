"""Sessions -> the JSON array the CLI prints (`fleetlogoff sessions --json`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from fleetlogoff.model import Session

Command = Literal["quser", "qwinsta"]


def convert_session(session: Session, command: Command) -> dict[str, object]:
    """Return one session as a JSON-ready dict.

    Args:
        session: the parsed session.
        command: which command produced it; qwinsta reports no idle or logon time,
            so those are null for it.
    """
    is_quser = command == "quser"
    logon = session.logon_time
    return {
        "id": session.id,
        "username": session.username,
        "session_name": session.session_name,
        "state": str(session.state),
        "state_text": session.state_text,
        "idle_seconds": session.idle_seconds if is_quser else None,
        "idle_text": session.idle_text,
        "logon_time": logon.isoformat(timespec="minutes") if is_quser and logon else None,
        "logon_text": session.logon_text,
        "current": session.current,
        "doubts": list(session.doubts),
    }


def sessions_to_json(sessions: Iterable[Session], *, command: Command) -> list[dict[str, object]]:
    """Return sessions as the JSON array of `--json` output.

    Args:
        sessions: parsed sessions of one host.
        command: "quser" or "qwinsta".

    Returns:
        One dict per session with keys id, username, session_name, state, state_text,
        idle_seconds, idle_text, logon_time (local "YYYY-MM-DDTHH:MM"), logon_text,
        current, doubts.
    """
    return [convert_session(session, command) for session in sessions]
