"""A host's own short date and time pictures, and reading logon times with them.

quser prints LOGON TIME with the regional settings of the account it runs as: the short
date picture (sShortDate) and the time picture without seconds (GetTimeFormat with
TIME_NOSECONDS strips the seconds and the separator before them from sTimeFormat),
joined by one blank (FORMATS.md §1.4). sShortTime (Windows 7 and later) is the same
picture in every stock locale; a user may customise either, so both are accepted.

Picture letters are those of GetDateFormat/GetTimeFormat (Michael Kaplan, "the limited
set of tokens", archives.miloush.net/michkap/archive/2006/02/28/540452.html): d dd ddd
dddd, M MM MMM MMMM, y yy yyyy yyyyy, g gg; h hh H HH m mm s ss t tt; text in single
quotes is literal, any other character prints as itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

# Longest letter runs first: "dddd" before "dd" before "d".
_TOKEN = re.compile(
    r"'[^']*'|d{1,4}|M{1,4}|y{1,5}|g{1,2}|h{1,2}|H{1,2}|m{1,2}|s{1,2}|t{1,2}|.", re.S
)
_DATE_GROUPS = {
    "d": r"(?P<day>\d{1,2})",
    "dd": r"(?P<day>\d{2})",
    "M": r"(?P<month>\d{1,2})",
    "MM": r"(?P<month>\d{2})",
    "y": r"(?P<year2>\d{1,2})",
    "yy": r"(?P<year2>\d{2})",
    "yyy": r"(?P<year>\d{4,5})",
    "yyyy": r"(?P<year>\d{4,5})",
    "yyyyy": r"(?P<year>\d{4,5})",
    # Day names, month names and eras are words of the locale: matched, not read.
    "ddd": r"\S+",
    "dddd": r"\S+",
    "MMM": r"(?P<month_name>\S+)",
    "MMMM": r"(?P<month_name>\S+)",
    "g": r"\S*",
    "gg": r"\S*",
}
_TIME_GROUPS = {
    "h": r"(?P<hour12>\d{1,2})",
    "hh": r"(?P<hour12>\d{2})",
    "H": r"(?P<hour>\d{1,2})",
    "HH": r"(?P<hour>\d{2})",
    "m": r"(?P<minute>\d{1,2})",
    "mm": r"(?P<minute>\d{2})",
}
_ELEMENTS = re.compile(r"[hHmst]")
# English month names, the only ones read (others are locale words we do not know).
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True, slots=True)
class DateFormat:
    """How one host prints logon times.

    Attributes:
        short_date: the short date picture (sShortDate), e.g. "dd/MM/yyyy".
        time_formats: the time pictures quser may use, seconds removed (from sTimeFormat
            and sShortTime), e.g. ("HH:mm",).
        am: the morning designator (s1159), "" when the locale has none.
        pm: the afternoon designator (s2359).
    """

    short_date: str
    time_formats: tuple[str, ...]
    am: str = "AM"
    pm: str = "PM"

    def describe(self) -> str:
        """The picture as an admin would write it: "dd/MM/yyyy HH:mm"."""
        return f"{self.short_date} {self.time_formats[0]}" if self.time_formats else self.short_date


def strip_seconds(picture: str) -> str:
    """A time picture without seconds, as GetTimeFormat(TIME_NOSECONDS) prints it.

    The seconds and whatever separates them from the element before are removed:
    "h:mm:ss tt" -> "h:mm tt", "HH.mm.ss" -> "HH.mm", "tt hh:mm:ss" -> "tt hh:mm".
    """
    kept: list[str] = []
    after_seconds = False
    for token in _TOKEN.findall(picture):
        if token.startswith("s"):
            while kept and not _is_element(kept[-1]):
                kept.pop()  # the separator before the seconds
            after_seconds = True
            continue
        if after_seconds and token.startswith("'"):
            continue  # a unit label that belongs to the seconds ("ss' s'")
        after_seconds = False
        kept.append(token)
    return "".join(kept).strip()


def _is_element(token: str) -> bool:
    return token[:1] in "hHmt" and not token.startswith("'")


def date_order(picture: str) -> str | None:
    """ "mdy", "dmy" or "ymd" for a short date picture; None when it has no such order."""
    letters = [token[0] for token in _TOKEN.findall(picture) if token[:1] in "dMy"]
    order = "".join(dict.fromkeys(letter.lower() for letter in letters))
    return order if order in ("mdy", "dmy", "ymd") else None


def _piece(token: str, groups: dict[str, str], am: str, pm: str) -> str:
    """The regex for one picture token."""
    if token in groups:
        return groups[token]
    if token in ("t", "tt"):
        words = sorted({word for word in (am, pm) if word}, key=len, reverse=True)
        alternatives = "|".join(_flexible(word if token == "tt" else word[:1]) for word in words)
        return rf"(?P<period>{alternatives})" if alternatives else ""
    if token.startswith("'"):
        return _flexible(token.strip("'"))
    return _flexible(token)


def _flexible(text: str) -> str:
    """A literal, any run of blanks in it matching any run of blanks."""
    return r"\s+".join(re.escape(part) for part in text.split(" ")) if text.strip() else r"\s*"


@lru_cache(maxsize=256)
def _compile(picture: str, time_picture: str, am: str, pm: str) -> re.Pattern[str]:
    date = "".join(_piece(token, _DATE_GROUPS, am, pm) for token in _TOKEN.findall(picture))
    time = "".join(_piece(token, _TIME_GROUPS, am, pm) for token in _TOKEN.findall(time_picture))
    return re.compile(rf"{date}\s+{time}", re.IGNORECASE)


def read_logon(text: str, date_format: DateFormat) -> datetime | None:
    """Read one printed logon time with the host's own pictures.

    Returns:
        The local wall time, or None when the text does not fit any of the host's
        pictures or names an impossible date.
    """
    cleaned = " ".join(text.split())
    for time_picture in date_format.time_formats:
        try:
            pattern = _compile(date_format.short_date, time_picture, date_format.am, date_format.pm)
        except re.error:
            return None  # a picture naming one field twice cannot be read back
        match = pattern.fullmatch(cleaned)
        if match is not None:
            return _build(match, date_format)
    return None


def _build(match: re.Match[str], date_format: DateFormat) -> datetime | None:
    groups = match.groupdict()
    month = _month(groups)
    year = int(groups["year"]) if groups.get("year") else None
    if year is None and groups.get("year2") is not None:
        # Windows' default two-digit year window: 1950-2049 (TwoDigitYearMax 2049).
        short = int(groups["year2"] or 0)
        year = 2000 + short if short <= 49 else 1900 + short
    hour = _hour(groups, date_format)
    if month is None or year is None or hour is None or groups.get("day") is None:
        return None
    try:
        return datetime(year, month, int(groups["day"]), hour, int(groups["minute"]))
    except (TypeError, ValueError):
        return None


def _month(groups: dict[str, str | None]) -> int | None:
    if groups.get("month") is not None:
        return int(groups["month"] or 0)
    name = (groups.get("month_name") or "").casefold()[:3]
    return _MONTHS.index(name) + 1 if name in _MONTHS else None


def _hour(groups: dict[str, str | None], date_format: DateFormat) -> int | None:
    if groups.get("hour") is not None:
        hour = int(groups["hour"] or 0)
        return hour if hour < 24 else None
    if groups.get("hour12") is None:
        return None
    hour12 = int(groups["hour12"] or 0)
    if not 1 <= hour12 <= 12:
        return None
    period = " ".join((groups.get("period") or "").split()).casefold()
    if period == " ".join(date_format.pm.split()).casefold() and date_format.pm:
        return hour12 % 12 + 12
    if period == " ".join(date_format.am.split()).casefold() and date_format.am:
        return hour12 % 12
    return None  # a 12-hour clock without a readable designator


def has_time_element(picture: str) -> bool:
    """True when a time picture prints an hour (a usable sTimeFormat)."""
    return bool(_ELEMENTS.search(picture))
