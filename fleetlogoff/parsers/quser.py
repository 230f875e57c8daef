"""Parser for `quser` (= `query user`) output, in any display language.

Columns are found from the header by display width and anchored on the right-aligned
ASCII session id (FORMATS.md §1); after the id, the LOGON TIME is matched at the end of
the row because a localized "none" idle word shifts it (§1.3: Russian leaves one blank).
Whatever cannot be read with certainty becomes a doubt on the session, or a ParseError
for the whole output when the table itself does not fit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from fleetlogoff.errors import ParseError
from fleetlogoff.model import Doubt, DoubtField, Session, SessionState
from fleetlogoff.parsers.columns import RowCut
from fleetlogoff.parsers.dates import (
    DateOrder,
    LogonParts,
    find_logon,
    parse_logon_times,
    read_logon,
)
from fleetlogoff.parsers.encoding import find_damage
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.table import cut_table
from fleetlogoff.parsers.words import NONE_IDLE_WORDS, look_up_state

logger = logging.getLogger(__name__)

_COMMAND = "quser"
# IDLE := "." | "*" | MIN | H:MM | D+HH:MM (FORMATS.md §1.2).
_IDLE = re.compile(
    r"^(?:(?P<days>\d+)\+(?P<day_hours>\d{1,2}):(?P<day_minutes>\d{2})"
    r"|(?P<hours>\d{1,2}):(?P<minutes>\d{2})|(?P<only_minutes>\d{1,2}))$"
)
_TRUNCATED = "..."  # Windows cuts long names to the column width and appends "..."
# No Windows host runs ten years without a reboot, so a longer idle time cannot be true:
# older Windows prints such values for sessions that never had input (idle counted from
# a zero last-input time). Read as unknown, never as a very long idle.
ABSURD_IDLE_DAYS = 3650


# A state word wider than its column may run into the idle value (no blank between);
# the idle grammar, anchored at the end, takes it back off ("Подключено1+06:20").
_GLUED_IDLE = re.compile(r"^(?P<state>.*?\D)(?P<idle>\d+\+\d{1,2}:\d{2}|\d{1,2}:\d{2}|\d{1,2}|\.)$")


@dataclass(frozen=True, slots=True)
class _RowText:
    """The printed texts of one quser row, before interpretation.

    Attributes:
        logon: read_logon of logon_text, found while locating it (None: not a logon time).
        glued: the state and idle texts were printed without a blank between them.
        cut_short: the row does not end in a logon time (maybe cut, maybe garbled).
    """

    cut: RowCut
    state_text: str
    idle_text: str
    logon_text: str
    logon: LogonParts | None
    glued: bool = False
    cut_short: bool = False


def parse_idle(text: str) -> tuple[int | None, Doubt | None]:
    """Read an IDLE TIME field.

    Args:
        text: the idle field as printed.

    Returns:
        (seconds or None, doubt or None). Localized "none" words and "." give 0;
        "*" gives None without doubt (Windows does not know); an absurd value (ten years
        or more) or anything outside the grammar gives None and an idle doubt, which
        keeps the row out of idle rules only.
    """
    if text in NONE_IDLE_WORDS or text == ".":
        return 0, None
    if text == "*":
        return None, None
    match = _IDLE.match(text)
    if match is None:
        return None, Doubt("idle", f"unrecognised idle time {text!r}")
    days = int(match["days"] or 0)
    hours = int(match["day_hours"] or match["hours"] or 0)
    minutes = int(match["day_minutes"] or match["minutes"] or match["only_minutes"])
    if hours > 23 or minutes > 59:
        return None, Doubt("idle", f"idle time {text!r} out of range")
    if days >= ABSURD_IDLE_DAYS:
        return None, Doubt("idle", f"idle time {text!r} is absurd ({days} days): unknown")
    return ((days * 24 + hours) * 60 + minutes) * 60, None


def _split_rest(cut: RowCut, raw: str, line_number: int) -> _RowText:
    """Split the text after the id into state, idle and logon texts.

    str.split and strip treat as blank exactly what the token regex does (`\\s`).
    """
    rest = cut.rest
    found = find_logon(rest)
    middle = rest[: found[0]] if found is not None else rest
    words = middle.split()
    if found is None:
        if len(words) < 2:
            raise ParseError(_COMMAND, "row has no state and idle time", raw, line_number)
        # No recognisable logon time: keep the printed text; it becomes a doubt. A row
        # that does not end in its logon time may be cut short: its idle too.
        text = middle.split(None, 2)[2] if len(words) > 2 else ""
        return _RowText(cut, words[0], words[1], text, read_logon(text), cut_short=True)
    logon_text, parts = found[1].text, found[1]
    if len(words) == 1:
        glued = _GLUED_IDLE.match(words[0])
        if glued is not None:
            return _RowText(cut, glued["state"], glued["idle"], logon_text, parts, glued=True)
    if len(words) < 2:
        raise ParseError(_COMMAND, "row has no state and idle time", raw, line_number)
    # From the first word to the end of the second last, inner blanks kept.
    state = middle.rstrip()[: -len(words[-1])].strip()
    return _RowText(cut, state, words[-1], logon_text, parts)


def _find_doubts(row: _RowText, state: SessionState | None) -> list[Doubt]:
    """Return the doubts about names and words of one row (state: its word looked up)."""
    doubts: list[Doubt] = []
    fields: tuple[tuple[DoubtField, str, str], ...] = (
        ("user", "user name", row.cut.first),
        ("session_name", "session name", row.cut.second),
    )
    for field, label, value in fields:
        damage = find_damage(value)
        if damage is not None:
            doubts.append(Doubt(field, f"{label} {value!r} {damage}"))
        if value.endswith(_TRUNCATED):
            doubts.append(Doubt(field, f"{label} {value!r} is truncated"))
    if state is None:
        doubts.append(Doubt("state", f"unknown state word {row.state_text!r}"))
    return doubts


def _build_session(
    row: _RowText, logon: tuple[datetime | None, Doubt | None], extra: list[Doubt]
) -> Session:
    """Build the Session of one row from its texts and its interpreted logon time."""
    idle_seconds, idle_doubt = parse_idle(row.idle_text)
    if row.glued and idle_doubt is None:
        idle_seconds = None
        reason = f"state and idle time printed as one word {row.state_text + row.idle_text!r}"
        idle_doubt = Doubt("idle", reason)
    if row.cut_short and idle_doubt is None:
        idle_seconds = None
        idle_doubt = Doubt(
            "idle", f"idle time {row.idle_text!r} not trusted: no logon time after it"
        )
    logon_time, logon_doubt = logon
    state = look_up_state(row.state_text)
    doubts = _find_doubts(row, state) + extra
    doubts += [doubt for doubt in (idle_doubt, logon_doubt) if doubt is not None]
    return Session(
        id=row.cut.session_id,
        username=row.cut.first,
        session_name=row.cut.second,
        state=state if state is not None else SessionState.UNKNOWN,
        state_text=row.state_text,
        idle_seconds=idle_seconds,
        idle_text=row.idle_text,
        logon_time=logon_time,
        logon_text=row.logon_text,
        current=row.cut.current,
        doubts=tuple(doubts),
    )


@dataclass(frozen=True, slots=True)
class QuserRows:
    """quser output cut into rows, its logon times not yet interpreted.

    Cut once, it can be read with more than one date format: hostread reads it again
    with the host's own format when the output alone leaves a date in doubt.
    """

    rows: tuple[_RowText, ...]
    damaged: bool


def cut_quser(text: str) -> QuserRows | None:
    """Cut quser output into rows; None when Windows says no user exists.

    Raises:
        HostCommandError: the output is a Windows error message.
        ParseError: the output cannot be read with certainty as a whole.
    """
    found = cut_table(_COMMAND, text, "second")
    if found is None:
        return None
    table, cuts = found
    rows: list[_RowText] = []
    for line_number, cut in cuts:
        if not cut.first:
            raise ParseError(_COMMAND, "row has no user name", text, line_number)
        rows.append(_split_rest(cut, text, line_number))
    return QuserRows(tuple(rows), table.header.damaged)


def sessions_from_rows(
    rows: QuserRows | None,
    *,
    date_order: DateOrder = "auto",
    date_format: DateFormat | None = None,
) -> list[Session]:
    """The sessions of cut quser output (see parse_quser for the arguments)."""
    if rows is None:
        return []
    extra = [Doubt("row", "header shows encoding damage")] if rows.damaged else []
    texts = [row.logon_text for row in rows.rows]
    parsed = [row.logon for row in rows.rows]
    logons = parse_logon_times(texts, date_order, date_format, parsed=parsed)
    sessions = [
        _build_session(row, logon, extra) for row, logon in zip(rows.rows, logons, strict=True)
    ]
    logger.debug("quser: %d sessions", len(sessions))
    return sessions


def parse_quser(
    text: str, *, date_order: DateOrder = "auto", date_format: DateFormat | None = None
) -> list[Session]:
    """Parse quser output into sessions.

    Args:
        text: the whole output (stdout, or stderr when stdout was empty).
        date_order: "auto" decides day/month order from all rows of this output;
            "mdy", "dmy" or "ymd" force it (the inventory's fleetlogoff_date_order).
        date_format: the host's own short date and time pictures; when given, every
            logon time is read with them alone.

    Returns:
        The sessions, in printed order; [] when Windows says no user exists.

    Raises:
        HostCommandError: the output is a Windows error message.
        ParseError: the output cannot be read with certainty as a whole.
    """
    return sessions_from_rows(cut_quser(text), date_order=date_order, date_format=date_format)
