"""Plans and sessions for other tools: JSON and CSV on stdout.

JSON is exact (safe_json escapes controls and bidi characters as JSON escapes, which decode
to the same text). CSV is for spreadsheets and people: host texts are made visible, every
host gets a row even when it could not be read, and `--bom` makes Excel read it as UTF-8
and keeps cells that look like formulas as text (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import TextIO

from fleetlogoff.collect import HostReading
from fleetlogoff.model import Session
from fleetlogoff.planner import Plan
from fleetlogoff.visible import visible

UTF8_BOM = "\ufeff"
# A cell Excel or LibreOffice would read as a formula (OWASP: = + - @, tab, CR).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SESSION_FIELDS = (
    "host",
    "id",
    "username",
    "session_name",
    "state",
    "idle_seconds",
    "logon_time",
    "logon_text",
    "idle_text",
    "doubts",
    "host_status",
    "host_error",
)
PLAN_FIELDS = (*SESSION_FIELDS, "action", "rule", "reason")


class CsvOut:
    """A CSV writer for host data: visible text, optionally Excel-safe."""

    def __init__(self, stream: TextIO, fields: Sequence[str], *, excel: bool) -> None:
        if excel:
            stream.write(UTF8_BOM)
        self._writer = csv.writer(stream, lineterminator="\n")
        self._excel = excel
        self._writer.writerow(fields)

    def row(self, values: Iterable[object]) -> None:
        self._writer.writerow([self._cell(v) for v in values])

    def _cell(self, value: object) -> object:
        if not isinstance(value, str):
            return "" if value is None else value
        text = visible(value)
        if self._excel and text.startswith(_FORMULA_STARTS):
            return "'" + text
        return text


def session_cells(session: Session) -> list[object]:
    """The session's columns of SESSION_FIELDS (from id to doubts)."""
    logon = session.logon_time.isoformat(timespec="minutes") if session.logon_time else None
    return [
        session.id,
        session.username,
        session.session_name,
        session.state.value,
        session.idle_seconds,
        logon,
        session.logon_text,
        session.idle_text,
        "; ".join(str(d) for d in session.doubts),
    ]


_NO_SESSION = [None] * 9


def write_sessions_csv(readings: Sequence[HostReading], stream: TextIO, *, excel: bool) -> None:
    """A row per session; a host that could not be read gets one row saying why."""
    out = CsvOut(stream, SESSION_FIELDS, excel=excel)
    for r in readings:
        host = [r.status, r.error]
        if not r.sessions:
            out.row([r.host.name, *_NO_SESSION, *host])
        for s in r.sessions:
            out.row([r.host.name, *session_cells(s), *host])


def write_plan_csv(plan: Plan, stream: TextIO, *, excel: bool) -> None:
    """A row per session with its action, rule and reason; a host not read gets one row."""
    out = CsvOut(stream, PLAN_FIELDS, excel=excel)
    for h in plan.hosts:
        host = [h.status, h.error]
        if not h.sessions:
            out.row([h.name, *_NO_SESSION, *host, None, None, None])
        for p in h.sessions:
            out.row([h.name, *session_cells(p.session), *host, p.action, p.rule, p.reason])
