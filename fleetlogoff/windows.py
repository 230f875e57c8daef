"""Maintenance windows: when fleetlogoff may log people off a host.

A window is a set of weekdays, a start and an end wall-clock time, and an IANA time zone.
A window whose end is not after its start (`22:00`-`05:00`, or `00:00`-`00:00`) crosses
midnight and belongs to its start day. Times are wall-clock times in the window's zone;
zoneinfo handles DST: on the spring-forward day a start inside the skipped hour begins
at the same UTC instant as the hour after it; on the fall-back day an ambiguous time means
its first occurrence (fold=0). Windows that touch or overlap form one open period.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetlogoff.durations import format_duration
from fleetlogoff.yamlsource import (
    YamlList,
    YamlMap,
    YamlNode,
    expect_map,
    expect_text,
    expect_text_list,
    parse_yaml,
    reject_unknown_keys,
)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WINDOW_KEYS = ("days", "start", "end", "tz")
_TIME = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")
# Generated occurrences reach this far around `now`: the longest gap between two
# occurrences of a weekly window is 7 days, plus one day for windows crossing midnight.
_LOOKBACK_DAYS = 2
_LOOKAHEAD_DAYS = 9


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A weekly period in which logoffs are allowed.

    Attributes:
        days: weekdays the window starts on (0 = Monday ... 6 = Sunday).
        start: local start time.
        end: local end time; not after `start` means the next day.
        tz: IANA time zone name (e.g. Europe/Zurich).
    """

    days: frozenset[int]
    start: time
    end: time
    tz: str

    def crosses_midnight(self) -> bool:
        """True when the window ends on the day after it starts."""
        return self.end <= self.start

    def __str__(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


@dataclass(frozen=True, slots=True)
class WindowStatus:
    """The windows' state at one instant.

    Attributes:
        is_open: logoffs are allowed now.
        closes_at: when the current open period ends (UTC); None when closed or never closing.
        opens_at: when the next open period starts (UTC); None when open.
        fits: open now and stays open for the time the run needs.
        text: e.g. "open, closes in 1h20m", "closed, opens in 3h", "no window (always open)".
    """

    is_open: bool
    closes_at: datetime | None
    opens_at: datetime | None
    fits: bool
    text: str


def parse_windows(data: YamlNode | str | None, source: str) -> tuple[MaintenanceWindow, ...]:
    """Validate windows from YAML: a list of mappings with days, start, end, tz (or one mapping).

    `days` is optional (every day); it takes `mon-fri`, `sat,sun`, or a list of such.

    Raises:
        ConfigError: unknown keys, bad days, times or zones, with file:line:col.
    """
    node = parse_yaml(data, source) if isinstance(data, str) else data
    if node is None:
        return ()
    items = node.items if isinstance(node, YamlList) else (node,)
    return tuple(_parse_window(expect_map(item, "a maintenance window")) for item in items)


def _parse_window(node: YamlMap) -> MaintenanceWindow:
    reject_unknown_keys(node, WINDOW_KEYS, "a maintenance window")
    days_node = node.get("days")
    days = frozenset(range(7)) if days_node is None else _parse_days(days_node)
    tz_node = _required(node, "tz")
    tz = expect_text(tz_node, "`tz`")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise tz_node.pos.error(f"unknown time zone {tz!r} (use an IANA name)") from None
    return MaintenanceWindow(days, _parse_time(node, "start"), _parse_time(node, "end"), tz)


def _required(node: YamlMap, key: str) -> YamlNode:
    value = node.get(key)
    if value is None:
        raise node.pos.error(f"a maintenance window needs `{key}`")
    return value


def _parse_time(node: YamlMap, key: str) -> time:
    value = _required(node, key)
    # The text as written: YAML 1.1 reads unquoted 22:30 as the integer 1350.
    text = expect_text(value, f"`{key}`").strip()
    match = _TIME.fullmatch(text)
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise value.pos.error(f"`{key}` must be a time HH:MM (00:00-24:00), not {text!r}")
    hour = int(match.group(1))
    # 24:00 is the end of the day, which is the next day's 00:00.
    return time(0 if hour == 24 else hour, int(match.group(2)))


def _parse_days(node: YamlNode) -> frozenset[int]:
    days: set[int] = set()
    for entry in expect_text_list(node, "`days`"):
        for word in entry.split(","):
            try:
                days.update(_day_range(word))
            except ValueError as exc:
                raise node.pos.error(f"`days`: {exc}") from None
    if not days:
        raise node.pos.error("`days` names no day")
    return frozenset(days)


def _day_range(word: str) -> list[int]:
    first, _, last = word.strip().lower().partition("-")
    start = _day_index(first)
    end = _day_index(last) if last else start
    # A range may wrap the week end: fri-mon is fri, sat, sun, mon.
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _day_index(word: str) -> int:
    name = word.strip()
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    raise ValueError(f"unknown day {name!r} (use mon..sun, or ranges like mon-fri)")


def window_status(
    windows: Sequence[MaintenanceWindow], now_utc: datetime, needed: timedelta
) -> WindowStatus:
    """Whether the windows are open at `now_utc`, and for how long.

    Args:
        windows: the host's windows; none means always open.
        now_utc: the current instant (aware; a naive value is taken as UTC).
        needed: how long the run needs the window to stay open.
    """
    if not windows:
        return WindowStatus(True, None, None, True, "no window (always open)")
    now = now_utc.replace(tzinfo=UTC) if now_utc.tzinfo is None else now_utc.astimezone(UTC)
    periods = _merge(sorted(p for w in windows for p in _occurrences(w, now)))
    horizon = now + timedelta(days=_LOOKAHEAD_DAYS - 2)
    for start, end in periods:
        if start <= now < end:
            if end >= horizon:
                return WindowStatus(True, None, None, True, "open (the windows never close)")
            fits = end - now >= needed
            text = f"open, closes in {_span(end - now)}"
            if not fits:
                text += f" (the run needs {_span(needed)})"
            return WindowStatus(True, end, None, fits, text)
        if start > now:
            return WindowStatus(False, None, start, False, f"closed, opens in {_span(start - now)}")
    return WindowStatus(False, None, None, False, "closed")  # pragma: no cover - days nonempty


def _occurrences(window: MaintenanceWindow, now: datetime) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(window.tz)
    today = now.astimezone(zone).date()
    periods = []
    for offset in range(-_LOOKBACK_DAYS, _LOOKAHEAD_DAYS):
        day = today + timedelta(days=offset)
        if day.weekday() in window.days:
            periods.append(_period(window, day, zone))
    return periods


def _period(window: MaintenanceWindow, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    end_day = day + timedelta(days=1) if window.crosses_midnight() else day
    start = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(end_day, window.end, tzinfo=zone).astimezone(UTC)
    return start, end


def _merge(periods: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in periods:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _span(delta: timedelta) -> str:
    """A duration to the minute for humans (seconds only under a minute)."""
    seconds = max(0, int(delta.total_seconds()))
    return format_duration(seconds if seconds < 60 else seconds - seconds % 60)
