"""LOGON TIME: locating it at the end of a quser row and reading it.

quser prints the host's short date and short time (FORMATS.md §1.4): no zone, no
seconds, 2 to 4 blank-separated tokens, day-period markers before or after the time.
Day/month order cannot be read from one date alone (`3/02/2023`). It is read, best
first: with the host's own pictures (formats.DateFormat, from its registry), with an
order the inventory forces (fleetlogoff_date_order), or decided from all rows of one
output. A date none of these settles is doubted, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleetlogoff.model import Doubt
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.formats import read_logon as read_with_format
from fleetlogoff.parsers.words import look_up_day_period

DateOrder = Literal["auto", "mdy", "dmy", "ymd"]
# Where fleetlogoff_date_order goes, for the messages that name it.
ORDER_HINT = (
    "set fleetlogoff_date_order (an inventory variable, on this host or its group) "
    "to dmy, mdy or ymd"
)

_DATE = r"(?P<a>\d{1,4})(?P<sep>[./-])\s?(?P<b>\d{1,2})(?P=sep)\s?(?P<c>\d{1,4})\.?"
_TIME = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
# A day-period marker: one or two letter words, dots allowed ("PM", "p. m.", "下午").
_PERIOD = r"[^\W\d_]+\.?(?:\s[^\W\d_]+\.?)?"
_LOGON = re.compile(
    rf"(?:^|(?<=\s)){_DATE}\s+(?:(?P<pre>{_PERIOD})\s*)?{_TIME}(?:\s+(?P<post>{_PERIOD}))?\s*$"
)

_LOGON_GROUPS = ("a", "b", "c", "sep", "hour", "minute", "pre", "post")


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
    a, b, c, separator, hour, minute, pre, post = match.group(*_LOGON_GROUPS)
    parts = LogonParts(
        text=text[match.start() :].strip(),
        fields=(int(a), int(b), int(c)),
        widths=(len(a), len(b), len(c)),
        separator=separator,
        hour=int(hour),
        minute=int(minute),
        period=pre or post or "",
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
        return None, f"rows disagree on the date order ({parts.text!r}): {ORDER_HINT}"
    chosen = own or decided
    if chosen is None:
        readings = {_arrange(parts, candidate) for candidate in ("mdy", "dmy")}
        if parts.widths[2] != 4 or len(readings) != 1:
            return None, f"ambiguous date in {parts.text!r} (day or month first?): {ORDER_HINT}"
        chosen = "mdy"  # day equals month: both readings give the same date
    year, month, day = _arrange(parts, chosen)
    try:
        return datetime(year, month, day, hour, parts.minute), None
    except ValueError:
        hint = f" (fleetlogoff_date_order is {order})" if order != "auto" else ""
        return None, f"logon time {parts.text!r} is not a valid {chosen} date{hint}"


def parse_logon_times(
    texts: Sequence[str],
    date_order: DateOrder = "auto",
    date_format: DateFormat | None = None,
    *,
    parsed: Sequence[LogonParts | None] | None = None,
) -> list[tuple[datetime | None, Doubt | None]]:
    """Read the logon texts of one output together, so they share one date order.

    Args:
        texts: logon texts as printed, one per row.
        date_order: "auto" decides from all rows; "mdy"/"dmy"/"ymd" force the order.
        date_format: the host's own pictures; when given they alone decide.
        parsed: read_logon of each text, when the caller has it already (quser finds
            the parts while locating the logon time), so they are not read twice.

    Returns:
        One (datetime or None, logon doubt or None) per text, in order.
    """
    if date_format is not None:
        return [_read_with(text, date_format) for text in texts]
    if parsed is None:
        parsed = [read_logon(text) for text in texts]
    found = [parts for parts in parsed if parts is not None]
    decided = decide_orders(found)
    clocks = _clock_evidence(found) if date_order == "auto" else None
    results: list[tuple[datetime | None, Doubt | None]] = []
    for text, parts in zip(texts, parsed, strict=True):
        if parts is None:
            results.append((None, Doubt("logon", f"unrecognised logon time {text!r}")))
            continue
        value, reason = interpret_logon(parts, date_order, decided.get(parts.separator))
        if reason is None and clocks is not None:
            reason = _missing_period(parts, value, clocks, decided.get(parts.separator))
        if reason is not None:
            results.append((None, Doubt("logon", reason)))
        else:
            results.append((value, None))
    return results


def _clock_evidence(found: Sequence[LogonParts]) -> tuple[bool, bool]:
    """(some row prints a day period, some row prints an hour past 12) in one output."""
    return any(p.period for p in found), any(p.hour > 12 for p in found if not p.period)


def _missing_period(
    parts: LogonParts, value: datetime | None, clocks: tuple[bool, bool], decided: str | None
) -> str | None:
    """Why a time without AM/PM cannot be trusted, or None.

    A 12-hour time whose day period was cut off reads as a plausible 24-hour time.
    That is suspected when other rows of the same output carry a period, or when the
    date is month-first (M/d/yyyy: every stock Windows locale with that order uses a
    12-hour clock) and no row shows an hour past 12. The host's own format settles it.
    """
    periods, late_hours = clocks
    if parts.period or value is None or parts.hour > 12:
        return None
    if periods:
        return f"logon time {parts.text!r} has no AM/PM where other rows have one"
    month_first = (_decide_order(parts, "auto") or decided) == "mdy"
    if month_first and not late_hours:
        return f"logon time {parts.text!r}: a month-first date with no AM/PM (cut short?)"
    return None


def _read_with(text: str, date_format: DateFormat) -> tuple[datetime | None, Doubt | None]:
    value = read_with_format(text, date_format)
    if value is not None:
        return value, None
    return None, Doubt(
        "logon",
        f"logon time {text!r} does not fit the host's own format {date_format.describe()!r}",
    )


def implied_order(
    texts: Sequence[str], *, parsed: Sequence[LogonParts | None] | None = None
) -> DateOrder | None:
    """The one date order every printed logon time of an output agrees on, or None.

    Rows that decide nothing by themselves (3/02/2023) are settled by rows that do
    (13/02/2023) when they share a separator. None when no row decides, or rows disagree.
    `parsed`, when given, is read_logon of each text (not read again).
    """
    every = parsed if parsed is not None else [read_logon(text) for text in texts]
    found = [parts for parts in every if parts is not None]
    decided = decide_orders(found)
    orders: set[str] = set()
    for parts in found:
        order = _decide_order(parts, "auto") or decided.get(parts.separator)
        if order is not None:
            orders.add(order)
    agreed = orders.pop() if len(orders) == 1 else None
    return _KNOWN_ORDERS.get(agreed or "")


_KNOWN_ORDERS: dict[str, DateOrder] = {"mdy": "mdy", "dmy": "dmy", "ymd": "ymd"}
