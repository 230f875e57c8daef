"""A simulated host's time zone: its wall clock, and the TimeZoneInformation registry key
Windows keeps for it.

A zone is an IANA name (with daylight saving time as the tz database has it) or a fixed
offset. The registry values follow TIME_ZONE_INFORMATION (UTC = local + bias, minutes):
Bias is the standard offset negated, DaylightBias the extra shift in summer (-60),
StandardStart/DaylightStart SYSTEMTIMEs in the "day-th weekday of the month" form
(year 0; day 5 = the last one) at the local time on the clock in force before the
change; ActiveTimeBias the bias in force now. Value order and formatting follow a real
capture (China Standard Time, index id 51767416093); other keys' values are
LAB ASSUMPTION where no capture shows them (the tzres.dll resource numbers).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

# Windows zone key names of the IANA zones the lab uses (CLDR windowsZones.xml).
WINDOWS_NAMES = {
    "UTC": "UTC",
    "America/New_York": "Eastern Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "America/Mexico_City": "Central Standard Time (Mexico)",
    "America/Guayaquil": "SA Pacific Standard Time",
    "America/Sao_Paulo": "E. South America Standard Time",
    "Europe/London": "GMT Standard Time",
    "Europe/Berlin": "W. Europe Standard Time",
    "Europe/Zurich": "W. Europe Standard Time",
    "Europe/Rome": "W. Europe Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Europe/Madrid": "Romance Standard Time",
    "Europe/Moscow": "Russian Standard Time",
    "Asia/Shanghai": "China Standard Time",
    "Asia/Tokyo": "Tokyo Standard Time",
    "Australia/Brisbane": "E. Australia Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time",
    "Pacific/Auckland": "New Zealand Standard Time",
    "Pacific/Kiritimati": "Line Islands Standard Time",
    "Etc/GMT+12": "Dateline Standard Time",
}
_MINUTE = timedelta(minutes=1)


@lru_cache(maxsize=256)
def _zone_info(name: str) -> ZoneInfo:
    """ZoneInfo(name), held: zoneinfo keeps only the 8 zones used last, and a lab's hosts
    use more, so every reg query of TimeZoneInformation re-read its zone's file."""
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class LabZone:
    """A host's zone: an IANA name, or a fixed offset when `name` is None.

    Attributes:
        name: IANA zone name, or None.
        offset_minutes: the fixed UTC offset when `name` is None (east positive).
    """

    name: str | None = None
    offset_minutes: int = 0

    def _tz(self) -> ZoneInfo | timezone:
        if self.name is not None:
            return _zone_info(self.name)
        return timezone(timedelta(minutes=self.offset_minutes)) if self.offset_minutes else UTC

    def local(self, epoch: float) -> datetime:
        """The wall-clock time at an instant (aware, in this zone)."""
        return datetime.fromtimestamp(epoch, self._tz())

    def offset_at(self, epoch: float) -> int:
        """UTC offset in minutes at an instant."""
        offset = self.local(epoch).utcoffset()
        return int(offset.total_seconds()) // 60 if offset is not None else 0

    def registry_values(self, epoch: float) -> list[tuple[str, str, str]]:
        """The TimeZoneInformation values at an instant, as (name, type, printed data)."""
        year = self.local(epoch).year
        standard, daylight, to_standard, to_daylight = _year_rules(self, year)
        key_name = (
            WINDOWS_NAMES.get(self.name, self.name)
            if self.name is not None
            else f"UTC{self.offset_minutes:+d} (lab)"
        )
        return [
            ("Bias", "REG_DWORD", _dword(-standard)),
            ("DaylightBias", "REG_DWORD", _dword(standard - daylight)),
            ("DaylightName", "REG_SZ", "@tzres.dll,-111"),
            ("DaylightStart", "REG_BINARY", to_daylight),
            ("StandardBias", "REG_DWORD", _dword(0)),
            ("StandardName", "REG_SZ", "@tzres.dll,-112"),
            ("StandardStart", "REG_BINARY", to_standard),
            ("TimeZoneKeyName", "REG_SZ", key_name),
            ("DynamicDaylightTimeDisabled", "REG_DWORD", _dword(0)),
            ("ActiveTimeBias", "REG_DWORD", _dword(-self.offset_at(epoch))),
        ]


_NO_CHANGE = "0" * 32


@lru_cache(maxsize=512)
def _year_rules(zone: LabZone, year: int) -> tuple[int, int, str, str]:
    """(standard offset, daylight offset, StandardStart hex, DaylightStart hex) of a year."""
    changes = _changes(zone, year)
    offsets = {before for before, _, _ in changes} | {after for _, after, _ in changes}
    start = datetime(year, 1, 1, tzinfo=UTC).timestamp()
    if len(changes) != 2 or len(offsets) != 2:
        fixed = zone.offset_at(start)
        return fixed, fixed, _NO_CHANGE, _NO_CHANGE
    standard, daylight = min(offsets), max(offsets)
    to_standard = next(c for c in changes if c[1] == standard)
    to_daylight = next(c for c in changes if c[1] == daylight)
    return (
        standard,
        daylight,
        _systemtime(to_standard[2], to_standard[0]),
        _systemtime(to_daylight[2], to_daylight[0]),
    )


def _changes(zone: LabZone, year: int) -> list[tuple[int, int, datetime]]:
    """The offset changes of a year: (offset before, after, UTC instant of the change)."""
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + timedelta(days=1)
        before, after = zone.offset_at(day.timestamp()), zone.offset_at(following.timestamp())
        if before != after:
            low, high = day, following
            while high - low > _MINUTE:  # bisect to the minute
                middle = low + (high - low) / 2
                if zone.offset_at(middle.timestamp()) == before:
                    low = middle
                else:
                    high = middle
            found.append((before, after, high.replace(second=0, microsecond=0)))
        day = following
    return found


def _systemtime(change_utc: datetime, offset_before: int) -> str:
    """A SYSTEMTIME (day-in-month form) for a change, on the clock in force before it."""
    local = change_utc + timedelta(minutes=offset_before)
    days = calendar.monthrange(local.year, local.month)[1]
    week = 5 if local.day + 7 > days else (local.day - 1) // 7 + 1
    weekday = (local.weekday() + 1) % 7  # SYSTEMTIME counts from Sunday = 0
    words = (0, local.month, weekday, week, local.hour, local.minute, 0, 0)
    return b"".join(word.to_bytes(2, "little") for word in words).hex().upper()


def _dword(value: int) -> str:
    """A REG_DWORD as reg.exe prints it: 0x and lower-case hex of the 32-bit value."""
    return f"0x{value & 0xFFFFFFFF:x}"
