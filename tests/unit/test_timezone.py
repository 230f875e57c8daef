"""A host's clock from its registry: Windows DST rules give the same offsets as the tz
database, in both hemispheres, at the changes themselves; unknown zones give ranges."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetlogoff.lab.zones import LabZone
from fleetlogoff.parsers.timezone import (
    EASTMOST_OFFSET_MIN,
    WESTMOST_OFFSET_MIN,
    HostClock,
    Transition,
    WindowsZone,
    read_time_zone,
)

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
]


def registry_text(zone: LabZone, when: datetime) -> str:
    """What the lab's reg.exe prints for a zone (the lab is an independent implementation)."""
    lines = ["", r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"]
    lines += [f"    {n}    {t}    {d}" for n, t, d in zone.registry_values(when.timestamp())]
    return "\r\n".join(lines) + "\r\n"


def tz_offsets(name: str, local: datetime) -> set[int]:
    """The offsets the tz database allows for a wall time (both folds)."""
    zone = ZoneInfo(name)
    found = set()
    for fold in (0, 1):
        aware = local.replace(tzinfo=zone, fold=fold)
        back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        offset = aware.utcoffset()
        if back == local and offset is not None:  # a wall time the clock really shows
            found.add(int(offset.total_seconds()) // 60)
    return found


@pytest.mark.parametrize("name", ZONES)
def test_windows_rules_agree_with_the_tz_database_all_year(name: str) -> None:
    read_at = datetime(2026, 6, 1, tzinfo=UTC)
    zone = read_time_zone(registry_text(LabZone(name), read_at))
    local = datetime(2026, 1, 1)
    while local.year == 2026:
        wanted = tz_offsets(name, local)
        got = set(zone.offsets_at(local))
        # A wall time the clock skips may be given both offsets: never fewer than real.
        assert wanted <= got, (local, wanted, got)
        if wanted:
            assert got == wanted, (local, wanted, got)
        local += timedelta(hours=1, minutes=7)


@pytest.mark.parametrize(
    ("name", "local", "offsets"),
    [
        ("Europe/Berlin", datetime(2026, 10, 25, 2, 30), (60, 120)),  # repeated hour
        ("Europe/Berlin", datetime(2026, 10, 25, 3, 30), (60,)),
        ("Europe/Berlin", datetime(2026, 3, 29, 1, 59), (60,)),
        ("Europe/Berlin", datetime(2026, 3, 29, 3, 0), (120,)),
        ("America/New_York", datetime(2026, 11, 1, 1, 30), (-300, -240)),
        ("America/New_York", datetime(2026, 3, 8, 3, 0), (-240,)),
        ("Pacific/Auckland", datetime(2026, 4, 5, 2, 30), (720, 780)),
        ("Pacific/Auckland", datetime(2026, 1, 15, 12, 0), (780,)),
        ("Pacific/Auckland", datetime(2026, 7, 15, 12, 0), (720,)),
    ],
)
def test_offsets_at_the_changes(name: str, local: datetime, offsets: tuple[int, ...]) -> None:
    zone = read_time_zone(registry_text(LabZone(name), datetime(2026, 6, 1, tzinfo=UTC)))
    assert zone.offsets_at(local) == offsets


@pytest.mark.parametrize(
    ("hexa", "year", "expected"),
    [
        ("00000a00000005000300000000000000", 2026, datetime(2026, 10, 25, 3, 0)),  # last Sun
        ("00000300000005000200000000000000", 2027, datetime(2027, 3, 28, 2, 0)),
        ("00000B00000001000200000000000000", 2026, datetime(2026, 11, 1, 2, 0)),  # 1st Sun
        ("00000300000002000200000000000000", 2026, datetime(2026, 3, 8, 2, 0)),  # 2nd Sun
        ("0000040000000100030000000000000", None, None),
    ],
)
def test_transition_dates(hexa: str, year: int | None, expected: datetime | None) -> None:
    if year is None:
        with pytest.raises(ValueError):
            Transition.from_bytes(bytes.fromhex(hexa))
        return
    assert Transition.from_bytes(bytes.fromhex(hexa)).at(year) == expected


def test_local_now_follows_the_host_zone() -> None:
    now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    tokyo = read_time_zone(registry_text(LabZone("Asia/Tokyo"), now))
    clock = HostClock("host", tokyo.name, tokyo)
    assert clock.local_now(now) == datetime(2026, 12, 1, 9, 30)
    west = HostClock("inventory", "America/Los_Angeles")
    assert west.local_now(now) == datetime(2026, 11, 30, 16, 30)


def test_an_unknown_zone_allows_every_offset_and_has_no_local_time() -> None:
    clock = HostClock("unknown")
    assert clock.offsets_at(datetime(2026, 12, 1, 9, 0)) == (
        WESTMOST_OFFSET_MIN,
        EASTMOST_OFFSET_MIN,
    )
    assert clock.local_now(datetime(2026, 12, 1, tzinfo=UTC)) is None


def test_an_inventory_zone_gives_both_offsets_in_its_repeated_hour() -> None:
    clock = HostClock("inventory", "Europe/Zurich")
    assert clock.offsets_at(datetime(2026, 10, 25, 2, 30)) == (60, 120)
    assert clock.offsets_at(datetime(2026, 7, 1, 12, 0)) == (120,)


def test_rules_that_disagree_with_the_active_bias_allow_both() -> None:
    read_at = datetime(2026, 7, 1, tzinfo=UTC)
    zone = read_time_zone(registry_text(LabZone("Europe/Berlin"), read_at))
    # The same rules, but the host says it is on standard time in July.
    stale = HostClock("host", zone.name, replace(zone, active_bias=-60))
    checked = stale.checked(read_at)
    assert "ActiveTimeBias" in checked.note
    assert checked.offsets_at(datetime(2026, 7, 10, 12, 0)) == (60, 120)


def uncached_is_dst(zone: WindowsZone, instant: datetime) -> bool:
    """The DST test worked out from scratch for every instant: the reference the cached
    (rule, year) dates must agree with."""
    begins = zone.daylight_start.at(instant.year)
    ends = zone.standard_start.at(instant.year)
    if begins is None or ends is None:
        return False
    begins_utc = begins + timedelta(minutes=zone.bias + zone.standard_bias)
    ends_utc = ends + timedelta(minutes=zone.bias + zone.daylight_bias)
    if begins_utc < ends_utc:
        return begins_utc <= instant < ends_utc
    return not ends_utc <= instant < begins_utc


def uncached_offsets(zone: WindowsZone, local: datetime) -> tuple[int, ...]:
    standard = -(zone.bias + zone.standard_bias)
    if not zone.has_dst:
        return (standard,)
    daylight = -(zone.bias + zone.daylight_bias)
    fitting = [
        offset
        for offset, dst in ((standard, False), (daylight, True))
        if uncached_is_dst(zone, local - timedelta(minutes=offset)) is dst
    ]
    return tuple(fitting) if fitting else (standard, daylight)


# A rule for one year only (SYSTEMTIME wYear set): no DST in any other year.
ONE_YEAR = replace(
    read_time_zone(registry_text(LabZone("Europe/Berlin"), datetime(2026, 6, 1, tzinfo=UTC))),
    daylight_start=Transition(2027, 3, 0, 28, 2, 0),
    standard_start=Transition(2027, 10, 0, 31, 3, 0),
)


@pytest.mark.parametrize("name", [*ZONES, "one-year rule"])
def test_cached_dst_dates_agree_with_the_uncached_computation(name: str) -> None:
    if name == "one-year rule":
        zone = ONE_YEAR
    else:
        zone = read_time_zone(registry_text(LabZone(name), datetime(2026, 6, 1, tzinfo=UTC)))
    # Years in both directions (leap years, new-year edges), every day of the month and
    # hour of the day in turn, and each change's own minutes on either side.
    local = datetime(2023, 12, 31, 23, 30)
    instants = []
    while local.year < 2029:
        instants.append(local)
        local += timedelta(hours=25, minutes=13)
    for year in range(2024, 2029):
        for transition in (zone.daylight_start, zone.standard_start):
            change = transition.at(year)
            if change is not None:
                instants += [change + timedelta(minutes=m) for m in range(-90, 91, 15)]
    for local in instants:  # twice: the second pass reads the cache the first one filled
        assert zone.offsets_at(local) == uncached_offsets(zone, local), local
    for local in reversed(instants):
        assert zone.offsets_at(local) == uncached_offsets(zone, local), local
        now = datetime(local.year, local.month, local.day, local.hour, tzinfo=UTC)
        expected_now = -(zone.bias + zone.standard_bias)
        if zone.has_dst and uncached_is_dst(zone, now.replace(tzinfo=None)):
            expected_now = -(zone.bias + zone.daylight_bias)
        assert zone.offset_now(now) == expected_now, now


def test_zones_with_the_same_dates_but_other_biases_do_not_share_answers() -> None:
    berlin = read_time_zone(
        registry_text(LabZone("Europe/Berlin"), datetime(2026, 6, 1, tzinfo=UTC))
    )
    shifted = replace(berlin, bias=berlin.bias + 60)  # same transitions, one hour west
    for zone in (berlin, shifted, berlin):
        local = datetime(2026, 3, 29, 1, 30)
        for _ in range(200):
            assert zone.offsets_at(local) == uncached_offsets(zone, local), (zone.bias, local)
            local += timedelta(minutes=11)


@pytest.mark.parametrize("name", ["Europe/Berlin", "Asia/Shanghai"])
def test_a_clock_comes_back_equal_from_another_process(name: str) -> None:
    """Worker processes send each host's clock to the parent by pickle."""
    read_at = datetime(2026, 7, 1, tzinfo=UTC)
    zone = read_time_zone(registry_text(LabZone(name), read_at))
    for clock in (
        HostClock("host", zone.name, zone, note="a note"),
        HostClock("inventory", name),
        HostClock("unknown"),
    ):
        back = pickle.loads(pickle.dumps(clock))
        assert back == clock
        assert type(back.windows) is type(clock.windows)
        assert repr(back) == repr(clock)
