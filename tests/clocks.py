"""Injected clocks for tests that read dates: the days that break date parsers (the 1st,
the 12th, the 13th, a month's last day) and the moments a host's zone changes its clocks.

Every instant is on a whole minute, so a logon time printed to the minute converts back
to the exact instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleetlogoff.lab.zones import LabZone

# Instants in UTC. 09:00 UTC is a different calendar day in some zones (UTC-12 is still on
# the previous day, UTC+14 already late), so each day is tried in many zones at once.
DAYS: dict[str, datetime] = {
    "1st": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    "12th": datetime(2026, 12, 12, 9, 0, tzinfo=UTC),
    "13th": datetime(2027, 1, 13, 9, 0, tzinfo=UTC),
    "last-day": datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
    "1st-early": datetime(2027, 2, 1, 0, 15, tzinfo=UTC),
}
# Zones from UTC-12 to UTC+14, with and without daylight saving time, both hemispheres.
ZONES = (
    "Etc/GMT+12",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
)
# Logons before "now": minutes, hours, a day, days and weeks ago (whole minutes).
LOGON_AGES = (
    timedelta(minutes=20),
    timedelta(hours=3),
    timedelta(hours=25),
    timedelta(days=3, hours=2),
    timedelta(days=40),
)


def dst_changes(zone_name: str, year: int = 2026) -> list[datetime]:
    """The instants a zone changes its clocks in a year (empty for zones without DST)."""
    zone = LabZone(zone_name)
    start = datetime(year, 1, 1, tzinfo=UTC)
    changes = []
    day = start
    while day.year == year:
        following = day + timedelta(days=1)
        if zone.offset_at(day.timestamp()) != zone.offset_at(following.timestamp()):
            low, high = day, following
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if zone.offset_at(middle.timestamp()) == zone.offset_at(low.timestamp()):
                    low = middle
                else:
                    high = middle
            changes.append(high.replace(second=0, microsecond=0))
        day = following
    return changes


def moments(zone_name: str) -> dict[str, datetime]:
    """The test days, plus the hour after each of the zone's DST changes."""
    found = dict(DAYS)
    for index, change in enumerate(dst_changes(zone_name)):
        found[f"dst-{index}"] = change + timedelta(minutes=50)
    return found
