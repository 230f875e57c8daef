"""Read one host: its sessions (quser), its clock and its own date format, in one command.

quser, a marker line, `reg query` of the TimeZoneInformation key, a second marker line,
then `reg query "HKCU\\Control Panel\\International"` (reg.exe ships with every Windows
since XP; wmic, the other classic way, is removed from recent Windows). `2>&1` keeps each
tool's messages in order in one stream, and the format is read in the same shell, so as the
same account whose regional settings quser used. The format is only *used* when some logon
time cannot be read with certainty; it is asked for up front because a second command
costs the host a process and the fleet two round trips, where the key's answer is about
a KiB. Settings in the inventory (fleetlogoff_timezone, fleetlogoff_date_order) drop the
queries they make needless; a host whose answer lacks the format marker is asked again
with the format query alone, when its dates need it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from fleetlogoff.errors import HostCommandError, TransportError
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers.dates import DateOrder, implied_order
from fleetlogoff.parsers.facts import HostDates, HostFacts, logon_shape
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.quser import QuserRows, cut_quser, sessions_from_rows
from fleetlogoff.parsers.registry import (
    INTERNATIONAL_KEY,
    TIME_ZONE_KEY,
    RegistryReadError,
    read_international,
)
from fleetlogoff.parsers.timezone import HostClock, clock_from_registry

log = logging.getLogger(__name__)

Run = Callable[[str], str]
"""Runs one command line on the host and returns what it printed."""

QUSER = "quser"
# Lines no quser output can contain (':' is not allowed in user or session names), and no
# reg.exe value line either (those are indented and name a REG_ type).
ZONE_MARK = "::fleetlogoff-time-zone::"
FORMAT_MARK = "::fleetlogoff-date-format::"
ZONE_QUERY = f'reg query "{TIME_ZONE_KEY}" 2>&1'
INTERNATIONAL_QUERY = f'reg query "{INTERNATIONAL_KEY}" 2>&1'
QUSER_AND_ZONE = f"quser 2>&1 & echo {ZONE_MARK}& {ZONE_QUERY}"
QUSER_AND_FORMAT = f"quser 2>&1 & echo {FORMAT_MARK}& {INTERNATIONAL_QUERY}"
QUSER_ZONE_AND_FORMAT = f"{QUSER_AND_ZONE} & echo {FORMAT_MARK}& {INTERNATIONAL_QUERY}"
# Registry answers up to this long are remembered (a real one is under 2 KB); longer
# ones, from a misbehaving host, are read each time and not kept.
_REMEMBERED_ANSWER_MAX = 8192


@dataclass(frozen=True, slots=True)
class HostRead:
    """What one host said.

    Attributes:
        sessions: its sessions, parsed.
        text: quser's output as printed (kept in plans for unreadable hosts).
        facts: how its dates were read and where its clock stands.
    """

    sessions: tuple[Session, ...]
    text: str
    facts: HostFacts


def read_host(run: Run, host: Host, known: HostFacts | None = None) -> HostRead:
    """Read a host's sessions, clock and, when needed, date format.

    Args:
        run: runs a command line on the host (one open shell, one account).
        host: the inventory host (fleetlogoff_date_order, fleetlogoff_timezone).
        known: what a plan learned about this host; given, only quser runs and every
            logon time is read exactly as it was then.

    Raises:
        HostCommandError: quser printed a Windows error, or (with `known`) the host now
            prints dates in another format than the plan read.
        ParseError: quser's output cannot be read as a whole.
        TransportError: the connection failed.
    """
    if known is not None:
        text = run(QUSER)
        sessions = _parse(cut_quser(text), known.dates)
        _refuse_changed_format(sessions, known.dates)
        return HostRead(tuple(sessions), text, known)
    zone_known = isinstance(host.settings.get("fleetlogoff_timezone"), str)
    dates = _inventory_dates(host)
    answer = _read_answer(run, ask_zone=not zone_known, ask_format=dates.source != "inventory")
    clock = answer.clock if answer.clock is not None else _inventory_clock(host)
    rows = cut_quser(answer.quser)  # cut once, read again below if the host's format is needed
    sessions = _parse(rows, dates)
    if dates.source != "inventory":
        dates, sessions = _settle_dates(run, rows, sessions, answer.date_format)
    shapes = tuple(sorted({logon_shape(s.logon_text) for s in sessions if s.logon_text}))
    return HostRead(tuple(sessions), answer.quser, HostFacts(replace(dates, shapes=shapes), clock))


def _parse(rows: QuserRows | None, dates: HostDates) -> list[Session]:
    return sessions_from_rows(rows, date_order=dates.order, date_format=dates.format)


def _inventory_dates(host: Host) -> HostDates:
    order = host.settings.get("fleetlogoff_date_order", "auto")
    forced: dict[object, DateOrder] = {"mdy": "mdy", "dmy": "dmy", "ymd": "ymd"}
    if order in forced:
        return HostDates("inventory", forced[order])
    return HostDates("output")


def _inventory_clock(host: Host) -> HostClock:
    return HostClock("inventory", str(host.settings.get("fleetlogoff_timezone")))


@dataclass(frozen=True, slots=True)
class _Answer:
    """The read command's output, split. clock is None when it was not asked for;
    date_format is the International key's answer, None when not asked for or when the
    host's output lacks its marker."""

    quser: str
    clock: HostClock | None
    date_format: str | None


def read_command(*, ask_zone: bool, ask_format: bool) -> str:
    """The one command line that reads a host: quser, and the registry keys asked for."""
    if ask_zone:
        return QUSER_ZONE_AND_FORMAT if ask_format else QUSER_AND_ZONE
    return QUSER_AND_FORMAT if ask_format else QUSER


def _read_answer(run: Run, *, ask_zone: bool, ask_format: bool) -> _Answer:
    """Run the read command; split what quser, the clock and the format queries printed."""
    output = run(read_command(ask_zone=ask_zone, ask_format=ask_format))
    lines = output.splitlines(keepends=True)
    format_text: str | None = None
    if ask_format:
        at = _mark_line(lines, FORMAT_MARK)
        if at is not None:
            format_text, lines = "".join(lines[at + 1 :]), lines[:at]
    if not ask_zone:
        return _Answer("".join(lines), None, format_text)
    at = _mark_line(lines, ZONE_MARK)
    if at is None:
        note = "the host did not answer the time zone query (no marker line)"
        return _Answer("".join(lines), HostClock("unknown", note=note), format_text)
    text, zone_text = "".join(lines[:at]), "".join(lines[at + 1 :])
    try:
        return _Answer(text, _read_clock(zone_text), format_text)
    except RegistryReadError as exc:
        return _Answer(text, HostClock("unknown", note=exc.reason), format_text)


def _mark_line(lines: Sequence[str], mark: str) -> int | None:
    """Where the marker line is (the first one: quser's part, before it, cannot hold one)."""
    return next((i for i, line in enumerate(lines) if line.strip() == mark), None)


# Hosts in one zone print the same TimeZoneInformation, and hosts of one locale the same
# International key: a fleet has a few of each. What they read to is immutable, so each
# answer is read once per process. A failed read raises each time (lru_cache keeps no
# exception).
@lru_cache(maxsize=128)
def _read_remembered_clock(text: str) -> HostClock:
    return clock_from_registry(text)


@lru_cache(maxsize=128)
def _read_remembered_format(text: str) -> DateFormat:
    return read_international(text)


def _read_clock(text: str) -> HostClock:
    if len(text) <= _REMEMBERED_ANSWER_MAX:
        return _read_remembered_clock(text)
    return clock_from_registry(text)


def _read_format(text: str) -> DateFormat:
    if len(text) <= _REMEMBERED_ANSWER_MAX:
        return _read_remembered_format(text)
    return read_international(text)


def _settle_dates(
    run: Run, rows: QuserRows | None, sessions: list[Session], format_text: str | None
) -> tuple[HostDates, list[Session]]:
    """Read with the host's own format when some logon time cannot be read with certainty
    (`format_text`: its International key as the read command printed it; asked for alone
    when the output lacked it)."""
    texts = [s.logon_text for s in sessions]
    # The rows' logon parts are read_logon of those texts: not read a second time.
    parsed = [row.logon for row in rows.rows] if rows is not None else []
    if not any(s.doubt_about("logon") for s in sessions):
        return HostDates("output", implied_order(texts, parsed=parsed) or "auto"), sessions
    try:
        answer = run(INTERNATIONAL_QUERY) if format_text is None else format_text
        date_format = _read_format(answer)
    except RegistryReadError as exc:
        note = f"the host's own date format could not be read ({exc.reason})"
        log.info("%s", note)
        order = implied_order(texts, parsed=parsed) or "auto"
        return HostDates("output", order, note=note), sessions
    except TransportError as exc:
        note = f"the host's own date format could not be read ({exc.reason})"
        order = implied_order(texts, parsed=parsed) or "auto"
        return HostDates("output", order, note=note), sessions
    dates = HostDates("host", "auto", date_format)
    return dates, _parse(rows, dates)


def _refuse_changed_format(sessions: Sequence[Session], dates: HostDates) -> None:
    """A host must still print dates as it did when the plan read it: in a shape the plan
    saw, and readable with the format or order the plan settled on."""
    settled = dates.format is not None or dates.order != "auto"
    for session in sessions:
        if not session.logon_text:
            continue
        unseen = dates.shapes and logon_shape(session.logon_text) not in dates.shapes
        unreadable = settled and session.doubt_about("logon") is not None
        if unseen or unreadable:
            raise HostCommandError(
                QUSER,
                f"the host's date format changed since the plan (plan read "
                f"{dates.describe()!r}, the host now prints {session.logon_text!r}): "
                "make a new plan",
            )
