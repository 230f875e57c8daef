"""LOGON TIME: locating it at the end of a quser row and reading it with a date order.

quser prints the host's short date and short time (FORMATS.md §1.4): no zone, no
seconds, 2 to 4 blank-separated tokens, day-period markers before or after the time.
Day/month order cannot be read from one date alone (`3/02/2023`), so the order is
decided from all rows of one output, or forced by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleetlogoff.parsers.words import look_up_day_period

DateOrder = Literal["auto", "mdy", "dmy", "ymd"]

_DATE = r"(?P<a>\d{1,4})(?P<sep>[./-])\s?(?P<b>\d{1,2})(?P=sep)\s?(?P<c>\d{1,4})\.?"
_TIME = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
# A day-period marker: one or two letter words, dots allowed ("PM", "p. m.", "下午").
_PERIOD = r"[^\W\d_]+\.?(?:\s[^\W\d_]+\.?)?"
_LOGON = re.compile(
    rf"(?:^|(?<=\s)){_DATE}\s+(?:(?P<pre>{_PERIOD})\s*)?{_TIME}(?:\s+(?P<post>{_PERIOD}))?\s*$"
)


@dataclass(frozen=True, slots=True)
class LogonParts:
    """The pieces of one printed logon time, not yet interpreted.

    Attributes:
        text: the logon text as printed.
        fields: the three numbers of the date, in printed order.
        widths: how many digits each of those numbers had.
        separator: the date separator ("/", ".", "-").
        hour: the hour as printed.
        minute: the minute.
        period: the day-period marker as printed, "" when none.
    """

    text: str
    fields: tuple[int, int, int]
    widths: tuple[int, int, int]
    separator: str
    hour: int
    minute: int
    period: str


def find_logon(text: str) -> tuple[int, LogonParts] | None:
    """Find a logon time at the end of text.

    Args:
        text: the part of a row after the session id.

    Returns:
        (character index where the logon time starts, its parts), or None.
    """
    match = _LOGON.search(text)
    if match is None:
        return None
    groups = [match.group(name) for name in ("a", "b", "c")]
    parts = LogonParts(
        text=text[match.start() :].strip(),
        fields=(int(groups[0]), int(groups[1]), int(groups[2])),
        widths=(len(groups[0]), len(groups[1]), len(groups[2])),
        separator=match.group("sep"),
        hour=int(match.group("hour")),
        minute=int(match.group("minute")),
        period=match.group("pre") or match.group("post") or "",
    )
    return match.start(), parts


def read_logon(text: str) -> LogonParts | None:
    """Read a whole logon text, or None when it is not one."""
    found = find_logon(text)
    if found is None or text[: found[0]].strip():
        return None
    return found[1]


def _decide_order(parts: LogonParts, forced: DateOrder) -> str | None:
    """Return the order this one date shows by itself, or None when it does not."""
    if forced != "auto":
        return forced
    if parts.widths[0] == 4:
        return "ymd"
    if parts.widths[2] != 4:
        return None  # two-digit year: ambiguous between yy/MM/dd and dd/MM/yy
    if parts.separator == ".":
        return "dmy"  # dotted dates are day first in every locale that uses them
    if parts.fields[0] > 12:
        return "dmy"
    if parts.fields[1] > 12:
        return "mdy"
    return None


def decide_orders(all_parts: Sequence[LogonParts]) -> dict[str, str | None]:
    """Decide, per date separator, the order that ALL dates of one output imply.

    A day above 12 anywhere fixes the order for its separator. Conflicting evidence
    gives None (nothing can be trusted for that separator).

    Returns:
        separator -> "mdy"/"dmy", None when undecided, or "conflict".
    """
    evidence: dict[str, set[str]] = {}
    for parts in all_parts:
        seen = evidence.setdefault(parts.separator, set())
        order = _decide_order(parts, "auto")
        if order is not None and parts.widths[0] != 4:
            seen.add(order)
    decided: dict[str, str | None] = {}
    for separator, found in evidence.items():
        decided[separator] = found.pop() if len(found) == 1 else ("conflict" if found else None)
    return decided


def _arrange(parts: LogonParts, order: str) -> tuple[int, int, int]:
    """Return (year, month, day) for an order."""
    a, b, c = parts.fields
    year, month, day = {"mdy": (c, a, b), "dmy": (c, b, a), "ymd": (a, b, c)}[order]
    return (year + 2000 if year < 100 else year), month, day


def _convert_hour(parts: LogonParts) -> int | None:
    """Return the 24-hour hour, or None when the marker is unknown or does not fit."""
    if not parts.period:
        return parts.hour if parts.hour < 24 else None
    afternoon = look_up_day_period(parts.period)
    if afternoon is None or not 1 <= parts.hour <= 12:
        return None
    return parts.hour % 12 + (12 if afternoon else 0)


def interpret_logon(
    parts: LogonParts, order: DateOrder, decided: str | None
) -> tuple[datetime | None, str | None]:
    """Turn logon parts into a datetime.

    Args:
        parts: what the row printed.
        order: the caller's date order ("auto" lets `decided` or the date itself decide).
        decided: the order all rows of the output agreed on for this separator.

    Returns:
        (datetime, None), or (None, a human reason) when it cannot be read with certainty.
    """
    hour = _convert_hour(parts)
    if hour is None:
        return None, f"unrecognised time in logon time {parts.text!r}"
    own = _decide_order(parts, order)
    if order == "auto" and decided == "conflict" and own != "ymd":
        return None, f"rows disagree on the date order ({parts.text!r}): set fleetlogoff_date_order"
    chosen = own or decided
    if chosen is None:
        readings = {_arrange(parts, candidate) for candidate in ("mdy", "dmy")}
        if parts.widths[2] != 4 or len(readings) != 1:
            date = parts.text.split()[0]
            return None, f"ambiguous date {date}: set fleetlogoff_date_order"
        chosen = "mdy"  # day equals month: both readings give the same date
    year, month, day = _arrange(parts, chosen)
    try:
        return datetime(year, month, day, hour, parts.minute), None
    except ValueError:
        return None, f"logon time {parts.text!r} is not a valid {chosen} date"


def parse_logon_times(
    texts: Sequence[str], date_order: DateOrder = "auto"
) -> list[tuple[datetime | None, str | None]]:
    """Read the logon texts of one output together, so they share one date order.

    Args:
        texts: logon texts as printed, one per row.
        date_order: "auto" decides from all rows; "mdy"/"dmy"/"ymd" force the order.

    Returns:
        One (datetime or None, doubt or None) per text, in order.
    """
    parsed = [read_logon(text) for text in texts]
    decided = decide_orders([parts for parts in parsed if parts is not None])
    results: list[tuple[datetime | None, str | None]] = []
    for text, parts in zip(texts, parsed, strict=True):
        if parts is None:
            results.append((None, f"unrecognised logon time {text!r}"))
        else:
            results.append(interpret_logon(parts, date_order, decided.get(parts.separator)))
    return results
