"""{deadline} is HH:MM on the host's own clock: as read with its sessions (and recorded in
the plan), else fleetlogoff_timezone, else UTC marked as such; across DST changes too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetlogoff.lab.zones import LabZone
from fleetlogoff.messages import clock_minute
from fleetlogoff.model import Connection, Host
from fleetlogoff.parsers.timezone import HostClock, read_time_zone
from tests.clocks import DAYS, dst_changes


def host(**settings: object) -> Host:
    return Host("rds1", ("all",), Connection("127.0.0.1", 5985), settings)


def registry_clock(zone: str, at: datetime) -> HostClock:
    values = LabZone(zone).registry_values(at.timestamp())
    lines = ["", r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"]
    text = "\r\n".join(lines + [f"    {n}    {t}    {d}" for n, t, d in values]) + "\r\n"
    parsed = read_time_zone(text)
    return HostClock("host", parsed.name, parsed)


@pytest.mark.parametrize(
    "zone", ["Etc/GMT+12", "America/New_York", "Europe/Berlin", "Pacific/Kiritimati"]
)
@pytest.mark.parametrize("day", sorted(DAYS))
def test_deadline_on_the_host_clock_read_with_its_sessions(zone: str, day: str) -> None:
    moment = DAYS[day].replace(second=42)
    expected = LabZone(zone).local(moment.timestamp()).strftime("%H:%M")
    assert clock_minute(host(), moment, registry_clock(zone, moment)) == expected


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles", "Pacific/Auckland"])
def test_deadline_right_after_a_dst_change(zone: str) -> None:
    for change in dst_changes(zone):
        clock = registry_clock(zone, change)
        for minutes in (-1, 0, 59, 61):
            moment = change.replace(second=30) + timedelta(minutes=minutes)
            expected = LabZone(zone).local(moment.timestamp()).strftime("%H:%M")
            assert clock_minute(host(), moment, clock) == expected, (change, minutes)


def test_deadline_from_the_inventory_zone() -> None:
    moment = datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)
    assert clock_minute(host(fleetlogoff_timezone="Asia/Tokyo"), moment) == "08:59"


def test_an_unknown_host_clock_says_utc() -> None:
    moment = datetime(2026, 12, 1, 9, 5, 30, tzinfo=UTC)
    assert clock_minute(host(), moment, HostClock("unknown")) == "09:05 UTC"
    assert clock_minute(host(), moment) == "09:05 UTC"
