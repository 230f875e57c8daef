"""A host's clock: which UTC instants a printed local time can be, and the local time now.

quser prints local wall times without a zone (FORMATS.md §1.4), so a logon age needs the
host's own zone. It comes, best first, from the inventory (fleetlogoff_timezone, an IANA
name), from the host's registry (HKLM\\SYSTEM\\CurrentControlSet\\Control\\
TimeZoneInformation, read in the same command as quser), or is unknown: then a local
time may be any instant within UTC-12:00..UTC+14:00 of it, and only what holds over
that whole span is trusted.

The registry values are those of TIME_ZONE_INFORMATION (Bias, StandardBias,
DaylightBias, StandardStart, DaylightStart; UTC = local + bias, in minutes), plus
ActiveTimeBias (the bias in effect now) and DynamicDaylightTimeDisabled ("automatically
adjust for daylight saving time" switched off). StandardStart/DaylightStart are
SYSTEMTIME structures, eight little-endian 16-bit words (year, month, day of week, day,
hour, minute, second, ms); year 0 means "the day-th day-of-week of the month every
year", day 5 meaning the last one (itprotoday JSI tip 0398; iwritecode.blogspot.com
2007/05; the China capture at index id 51767416093 shows zeros for a zone without DST).
"""

from __future__ import annotations

import calendar
import functools
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetlogoff.parsers.registry import (
    TIME_ZONE_KEY,
    RegistryReadError,
    parse_reg_query,
    read_binary,
    read_dword,
)

ClockSource = Literal["host", "inventory", "unknown"]
# The widest UTC offsets in use: UTC-12:00 (Baker Island) to UTC+14:00 (Line Islands).
WESTMOST_OFFSET_MIN = -12 * 60
EASTMOST_OFFSET_MIN = 14 * 60
_LAST_WEEK = 5  # SYSTEMTIME wDay 5: the last such weekday of the month


@dataclass(frozen=True, slots=True)
class Transition:
    """When daylight saving time starts or ends, as a SYSTEMTIME in the registry.

    Attributes:
        year: 0 for "every year" (day-in-month form), else the one year it applies to.
        month: 1-12; 0 means the zone has no daylight saving time.
        weekday: day of week, 0 = Sunday (day-in-month form).
        day: 1-4 = first..fourth such weekday, 5 = the last (or the day of the month).
        hour: local hour of the change, on the clock in force before it.
        minute: local minute of the change.
        second: local second (23:59:59 is how some zones say "at midnight").
    """

    year: int
    month: int
    weekday: int
    day: int
    hour: int
    minute: int
    second: int = 0

    def __reduce__(self) -> tuple[type[Transition], tuple[int, ...]]:
        return _rebuilt(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Transition:
        """Read a 16-byte SYSTEMTIME."""
        year, month, weekday, day, hour, minute, second, _ = struct.unpack("<8H", data[:16])
        return cls(year, month, weekday, day, hour, minute, second)

    def at(self, year: int) -> datetime | None:
        """The local wall time of the change in a year; None when there is none."""
        if not 1 <= self.month <= 12 or (self.year and self.year != year):
            return None
        days = calendar.monthrange(year, self.month)[1]
        if self.year:
            day = min(max(self.day, 1), days)
        else:
            # datetime.weekday() counts from Monday = 0; SYSTEMTIME from Sunday = 0.
            wanted = (self.weekday + 6) % 7
            first = 1 + (wanted - datetime(year, self.month, 1).weekday()) % 7
            dates = list(range(first, days + 1, 7))
            day = dates[min(max(self.day, 1), _LAST_WEEK, len(dates)) - 1]
            if self.day >= _LAST_WEEK:
                day = dates[-1]
        change = datetime(year, self.month, day)
        return change + timedelta(hours=self.hour, minutes=self.minute, seconds=self.second)


@dataclass(frozen=True, slots=True)
class WindowsZone:
    """A Windows time zone as TimeZoneInformation holds it (biases in minutes).

    Attributes:
        name: TimeZoneKeyName ("W. Europe Standard Time"), "" on old Windows.
        bias: Bias (UTC = local + bias).
        standard_bias: StandardBias, added in standard time.
        daylight_bias: DaylightBias, added in daylight saving time.
        standard_start: when standard time starts (DST ends).
        daylight_start: when daylight saving time starts.
        active_bias: ActiveTimeBias, the bias in effect when it was read; None if absent.
        adjusts: False when automatic DST adjustment is switched off.
    """

    name: str
    bias: int
    standard_bias: int
    daylight_bias: int
    standard_start: Transition
    daylight_start: Transition
    active_bias: int | None
    adjusts: bool = True

    def __reduce__(self) -> tuple[type[WindowsZone], tuple[object, ...]]:
        return _rebuilt(self)

    @property
    def has_dst(self) -> bool:
        return (
            self.adjusts
            and self.standard_start.month != 0
            and self.daylight_start.month != 0
            and self.standard_bias != self.daylight_bias
        )

    def _is_dst_utc(self, instant: datetime) -> bool:
        """Whether daylight saving time is in force at a UTC instant (naive, UTC)."""
        span = _dst_span_utc(
            self.daylight_start,
            self.standard_start,
            self.bias + self.standard_bias,
            self.bias + self.daylight_bias,
            instant.year,
        )
        if span is None:
            return False
        begins_utc, ends_utc = span
        if begins_utc < ends_utc:  # northern hemisphere
            return begins_utc <= instant < ends_utc
        return not ends_utc <= instant < begins_utc  # southern: DST spans the new year

    def offsets_at(self, local: datetime) -> tuple[int, ...]:
        """The UTC offsets (minutes, east positive) the local wall time can have.

        One offset normally; two in the hour repeated when clocks go back; both in the
        hour skipped when clocks go forward (such a time cannot be printed by a clock
        following these rules, so nothing is assumed).
        """
        standard = -(self.bias + self.standard_bias)
        if not self.has_dst:
            return (standard,)
        daylight = -(self.bias + self.daylight_bias)
        fitting = tuple(
            offset
            for offset, dst in ((standard, False), (daylight, True))
            if self._is_dst_utc(local - timedelta(minutes=offset)) is dst
        )
        return fitting or (standard, daylight)

    def offset_now(self, now_utc: datetime) -> int:
        """The UTC offset in force at a UTC instant, from the rules."""
        naive = now_utc.astimezone(UTC).replace(tzinfo=None)
        if self.has_dst and self._is_dst_utc(naive):
            return -(self.bias + self.daylight_bias)
        return -(self.bias + self.standard_bias)


# Every session's logon age asks whether DST was in force; the answer's dates depend only
# on the zone's rule and the year, so they are worked out once per (rule, year). A fleet
# holds a handful of rules and years: the bound is never reached in practice.
@functools.lru_cache(maxsize=1024)
def _dst_span_utc(
    daylight_start: Transition,
    standard_start: Transition,
    standard_bias: int,
    daylight_bias: int,
    year: int,
) -> tuple[datetime, datetime] | None:
    """When DST begins and ends in a year, as naive UTC instants; None when it does not.

    Args:
        daylight_start, standard_start: the zone's transitions.
        standard_bias, daylight_bias: the full biases (Bias + StandardBias, Bias +
            DaylightBias) on the clock in force before each change.
        year: the UTC instant's year.
    """
    begins = daylight_start.at(year)
    ends = standard_start.at(year)
    if begins is None or ends is None:
        return None
    return begins + timedelta(minutes=standard_bias), ends + timedelta(minutes=daylight_bias)


def read_time_zone(text: str) -> WindowsZone:
    """A WindowsZone from `reg query` of the TimeZoneInformation key.

    Raises:
        RegistryReadError: the query failed or Bias is missing.
    """
    key = parse_reg_query(text, TIME_ZONE_KEY)
    bias = read_dword(key, "Bias")
    if bias is None:
        raise RegistryReadError(f"{TIME_ZONE_KEY} has no Bias value")
    standard = read_binary(key, "StandardStart") or bytes(16)
    daylight = read_binary(key, "DaylightStart") or bytes(16)
    if len(standard) < 16 or len(daylight) < 16:
        raise RegistryReadError(f"{TIME_ZONE_KEY}: StandardStart/DaylightStart are not SYSTEMTIMEs")
    return WindowsZone(
        name=key.get("TimeZoneKeyName") or key.get("StandardName") or "",
        bias=bias,
        standard_bias=read_dword(key, "StandardBias") or 0,
        daylight_bias=read_dword(key, "DaylightBias") or 0,
        standard_start=Transition.from_bytes(standard),
        daylight_start=Transition.from_bytes(daylight),
        active_bias=read_dword(key, "ActiveTimeBias"),
        adjusts=(read_dword(key, "DynamicDaylightTimeDisabled") or 0) == 0,
    )


@dataclass(frozen=True, slots=True)
class HostClock:
    """Where a host's wall clock stands against UTC.

    Attributes:
        source: "inventory" (fleetlogoff_timezone), "host" (its registry), "unknown".
        name: the zone's name (IANA, or the Windows key name), "" when unknown.
        windows: the registry's rules, for a "host" clock.
        note: what went wrong reading the host's zone, or a disagreement found.
    """

    source: ClockSource
    name: str = ""
    windows: WindowsZone | None = None
    note: str = ""

    def __reduce__(self) -> tuple[type[HostClock], tuple[object, ...]]:
        return _rebuilt(self)

    def offsets_at(self, local: datetime) -> tuple[int, ...]:
        """The UTC offsets (minutes) a printed local wall time can have on this host."""
        if self.source == "inventory":
            zone = _zone(self.name)
            if zone is not None:
                folds = {local.replace(tzinfo=zone, fold=fold).utcoffset() for fold in (0, 1)}
                return tuple(sorted(int(o.total_seconds()) // 60 for o in folds if o is not None))
        if self.windows is not None:
            ruled = self.windows.offsets_at(local)
            if self.windows.active_bias is not None and self.note:
                ruled += (-self.windows.active_bias,)  # rules and clock disagreed
            elif len(ruled) == 1:
                return ruled  # nearly every time: nothing to merge or sort
            return tuple(sorted(set(ruled)))
        return (WESTMOST_OFFSET_MIN, EASTMOST_OFFSET_MIN)

    def offset_now(self, now_utc: datetime) -> int | None:
        """The host's UTC offset (minutes) at a UTC instant; None when unknown."""
        if self.source == "inventory":
            zone = _zone(self.name)
            offset = now_utc.astimezone(zone).utcoffset() if zone is not None else None
            return int(offset.total_seconds()) // 60 if offset is not None else None
        if self.windows is not None:
            return self.windows.offset_now(now_utc)
        return None

    def local_now(self, now_utc: datetime) -> datetime | None:
        """The host's wall clock at a UTC instant (naive, as quser prints); None if unknown."""
        offset = self.offset_now(now_utc)
        if offset is None:
            return None
        return (now_utc.astimezone(UTC) + timedelta(minutes=offset)).replace(tzinfo=None)

    def checked(self, now_utc: datetime) -> HostClock:
        """This clock, with a note when the host's rules disagree with the bias it says is
        in force now (ActiveTimeBias): rules of another year, a manual change. Both
        offsets then stay possible for every printed time."""
        zone = self.windows
        if zone is None or zone.active_bias is None or self.note:
            return self
        ruled = zone.offset_now(now_utc)
        if -zone.active_bias == ruled:
            return self
        note = (
            f"the host's DST rules give UTC{_signed(ruled)} now but ActiveTimeBias says "
            f"UTC{_signed(-zone.active_bias)}: both are allowed for"
        )
        return HostClock(self.source, self.name, zone, note)

    def describe(self, now_utc: datetime) -> str:
        """A line for plans: "W. Europe Standard Time (UTC+01:00, from the host)"."""
        offset = self.offset_now(now_utc)
        if offset is None:
            return "unknown (logon ages are only trusted across every zone)"
        where = {"host": "from the host", "inventory": "fleetlogoff_timezone"}[self.source]
        return f"{self.name or 'unnamed'} (UTC{_signed(offset)}, {where})"


def _rebuilt(value: Transition | WindowsZone | HostClock) -> tuple[type[Any], tuple[Any, ...]]:
    """How pickle rebuilds a clock (every host's reading carries one from a worker process
    to the parent): by its constructor, with its fields in order (slots=True: __slots__
    names them, in order). A frozen dataclass is otherwise rebuilt attribute by attribute
    through dataclasses.fields(), several times slower.
    """
    return type(value), tuple([getattr(value, name) for name in value.__slots__])


def clock_from_registry(text: str) -> HostClock:
    """The clock a host's TimeZoneInformation describes.

    Raises:
        RegistryReadError: the key could not be read.
    """
    zone = read_time_zone(text)
    return HostClock("host", zone.name, zone)


def _signed(offset_min: int) -> str:
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
