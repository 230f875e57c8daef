"""quser and qwinsta text exactly as Windows lays it out.

Columns are counted in console display columns: a CJK character takes two
(FORMATS.md 1 and pitfall 3). Column numbers below are 0-based with column 0 the
`>` marker column, the numbering FORMATS.md uses.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from functools import lru_cache

from fleetlogoff.lab.locales import Locale, format_logon_time, logon_pattern
from fleetlogoff.lab.sessions import Session
from fleetlogoff.lab.zones import LabZone

# quser columns (FORMATS.md 1; RamblingCookieMonster's Substring offsets agree).
QUSER_USER_COL = 1
QUSER_SESSION_COL = 23
QUSER_ID_LABEL_COL = 42
QUSER_ID_RIGHT = 43
QUSER_STATE_COL = 46
QUSER_IDLE_LABEL_COL = 54
QUSER_LOGON_LABEL_COL = 65
# quser shows at most 15 characters of a session name: 12 + "..." ('31c5ce94259d...').
QUSER_SESSION_MAX = 15
# An idle value of exactly one minute or more is printed in minutes (FORMATS.md 1.2).
_MINUTE = 60
_HOUR = 3600
_DAY = 86400


class QwinstaLayout(Enum):
    """Column layouts of qwinsta (FORMATS.md 2)."""

    CLASSIC = "classic"  # Windows Server 2016-2025, Windows 10
    WIDE = "wide"  # newer Windows 11: 26-wide SESSIONNAME, rows padded with blanks


# (session, user, id label, id right edge, state, type, device, session max, pad width)
_QWINSTA_COLUMNS: dict[QwinstaLayout, tuple[int, ...]] = {
    # classic: [qwinsta-en-us-01..06], qwinsta shows at most 16 chars ('31c5ce94259d4...').
    QwinstaLayout.CLASSIC: (1, 19, 44, 45, 48, 56, 68, 16, 0),
    # wide: [qwinsta-en-win11-01]; rows padded to 84 columns, header ends 'DEVICE '.
    # The 24-char session-name limit is a LAB ASSUMPTION (no long name in that capture).
    QwinstaLayout.WIDE: (1, 27, 52, 53, 56, 64, 76, 24, 84),
}


def display_width(text: str) -> int:
    """Return the console display width of `text` (wide/full-width characters count 2)."""
    if text.isascii():  # most fields: one column per character, no table look-up
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class _Line:
    """Builds one line by display column, keeping at least one blank between fields
    that overflow (the single blank of 'TEMPS INACT TEMPS SESSION')."""

    __slots__ = ("_parts", "_col", "_fresh")

    def __init__(self, marker: str = "") -> None:
        self._parts: list[str] = [marker] if marker else []
        self._col = len(marker)
        # The first field may touch the marker column ('>name'); later ones may not touch.
        self._fresh = True

    def put(self, col: int, text: str) -> None:
        if not text:
            return
        if self._col < col:
            self._parts.append(" " * (col - self._col))
            self._col = col
        elif not self._fresh:
            self._parts.append(" ")
            self._col += 1
        self._parts.append(text)
        self._col += display_width(text)
        self._fresh = False

    def put_right(self, right_col: int, text: str) -> None:
        self.put(right_col - display_width(text) + 1, text)

    def pad_to(self, width: int) -> None:
        if self._col < width:
            self._parts.append(" " * (width - self._col))
            self._col = width

    @property
    def col(self) -> int:
        return self._col

    def text(self) -> str:
        return "".join(self._parts)


def truncate_name(name: str, limit: int) -> str:
    """Shorten a session name longer than `limit` to limit-3 characters plus '...'."""
    if display_width(name) <= limit:
        return name
    return name[: limit - 3] + "..."


def format_idle(idle_seconds: float | None, none_word: str) -> str:
    """Return quser's IDLE TIME text (FORMATS.md 1.2).

    Args:
        idle_seconds: seconds since last input, None for "no idle time".
        none_word: the localized word for None.
    """
    if idle_seconds is None:
        return none_word
    seconds = int(max(0.0, idle_seconds))
    if seconds < _MINUTE:
        return "."
    if seconds < _HOUR:
        return str(seconds // _MINUTE)
    if seconds < _DAY:
        return f"{seconds // _HOUR}:{seconds % _HOUR // _MINUTE:02d}"
    days, rest = divmod(seconds, _DAY)
    return f"{days}+{rest // _HOUR:02d}:{rest % _HOUR // _MINUTE:02d}"


Zone = int | LabZone
"""A host's time zone: a LabZone, or a fixed UTC offset in minutes."""


def local_time(epoch: float, zone: Zone) -> datetime:
    """Return the wall-clock time of `epoch` in a host's time zone."""
    lab_zone = zone if isinstance(zone, LabZone) else LabZone(None, zone)
    return lab_zone.local(epoch)


def render_quser_header(locale: Locale) -> str:
    """Return quser's header line (without line ending)."""
    labels = locale.ui.quser_header
    line = _Line()
    cols = (QUSER_USER_COL, QUSER_SESSION_COL, QUSER_ID_LABEL_COL, QUSER_STATE_COL)
    for col, label in zip(cols, labels[:4], strict=True):
        line.put(col, label)
    line.put(QUSER_IDLE_LABEL_COL, labels[4])
    line.put(QUSER_LOGON_LABEL_COL, labels[5])
    return line.text()


def render_quser_row(
    session: Session,
    locale: Locale,
    now: float,
    zone: Zone,
    current: bool,
    international: Mapping[str, str] | None = None,
) -> str:
    """Return one quser data line for a user session (without line ending).

    LOGON TIME follows the account's regional values (`international`, by default the
    locale's): a user may have customised them away from the display language.
    """
    geometry = locale.ui.geometry
    line = _Line(">" if current else " ")
    line.put(QUSER_USER_COL, session.user)
    line.put(QUSER_SESSION_COL, truncate_name(session.name.lower(), QUSER_SESSION_MAX))
    line.put_right(QUSER_ID_RIGHT, str(session.id))
    line.put(QUSER_STATE_COL, locale.ui.states[session.state])
    idle = None if session.last_input is None else now - session.last_input
    idle_text = format_idle(idle, locale.ui.none_word)
    if idle is None:
        line.put(geometry.none_col, idle_text)
        logon_col = max(geometry.logon_col, line.col + geometry.none_gap)
    else:
        line.put_right(geometry.idle_right, idle_text)
        logon_col = geometry.logon_col
    values = locale.international if international is None else international
    am, pm = values.get("s1159", ""), values.get("s2359", "")
    line.put(logon_col, _logon_text(session.logon_time, zone, logon_pattern(values), am, pm))
    return line.text()


@lru_cache(maxsize=16384)
def _logon_text(logon_time: float, zone: Zone, pattern: str, am: str, pm: str) -> str:
    """LOGON TIME as printed: fixed for a session and a format, and a host lists the same
    sessions on every quser (a guarded logoff of 3 sessions lists them 3 times)."""
    return format_logon_time(local_time(logon_time, zone), pattern, am, pm)


def render_quser(
    sessions: Iterable[Session],
    locale: Locale,
    now: float,
    zone: Zone,
    current_id: int | None = None,
    international: Mapping[str, str] | None = None,
) -> list[str]:
    """Return quser's lines: the header and one line per user session.

    Args:
        sessions: sessions to list (those without a user are skipped, like quser).
        locale: language and regional format of the host.
        now: epoch seconds used for idle times.
        zone: host time zone for LOGON TIME.
        current_id: the session the command runs in (gets the `>` marker).
        international: the account's regional values, when they differ from the locale's.
    """
    lines = [render_quser_header(locale)]
    for session in sessions:
        if session.is_user_session:
            current = session.id == current_id
            row = render_quser_row(session, locale, now, zone, current, international)
            lines.append(row)
    return lines


def render_qwinsta_header(locale: Locale, layout: QwinstaLayout) -> str:
    """Return qwinsta's header line (without line ending)."""
    cols = _QWINSTA_COLUMNS[layout]
    labels = locale.ui.qwinsta_header
    line = _Line()
    for col, label in zip(
        (cols[0], cols[1], cols[2], cols[4], cols[5], cols[6]), labels, strict=True
    ):
        line.put(col, label)
    text = line.text()
    return text + " " if layout is QwinstaLayout.WIDE else text


def render_qwinsta_row(
    session: Session, locale: Locale, layout: QwinstaLayout, current: bool
) -> str:
    """Return one qwinsta data line (without line ending)."""
    cols = _QWINSTA_COLUMNS[layout]
    line = _Line(">" if current else " ")
    line.put(cols[0], truncate_name(session.name.lower(), cols[7]))
    line.put(cols[1], session.user)
    line.put_right(cols[3], str(session.id))
    line.put(cols[4], locale.ui.states[session.state])
    line.pad_to(cols[8])
    return line.text()


def render_qwinsta(
    sessions: Iterable[Session],
    locale: Locale,
    layout: QwinstaLayout = QwinstaLayout.CLASSIC,
    current_id: int | None = None,
) -> list[str]:
    """Return qwinsta's lines: header plus every session, listeners included."""
    lines = [render_qwinsta_header(locale, layout)]
    for session in sessions:
        lines.append(render_qwinsta_row(session, locale, layout, session.id == current_id))
    return lines
