"""Maintenance windows: midnight, week end, DST, merging, parsing with positions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from fleetlogoff.errors import ConfigError
from fleetlogoff.windows import MaintenanceWindow, parse_windows, window_status

ZURICH = "Europe/Zurich"
WEEKNIGHTS = MaintenanceWindow(frozenset(range(5)), time(22, 0), time(5, 0), ZURICH)
HALF_HOUR = timedelta(minutes=30)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_no_window_is_always_open() -> None:
    status = window_status((), utc("2026-03-02T12:00"), timedelta(hours=5))
    assert (status.is_open, status.fits, status.closes_at, status.opens_at) == (
        True,
        True,
        None,
        None,
    )
    assert status.text == "no window (always open)"


@pytest.mark.parametrize(
    ("now", "is_open", "closes_at", "opens_at", "text"),
    [
        # 2026-03-02 is a Monday; Zurich is UTC+1 in March before the 29th.
        ("2026-03-02T20:40", False, None, "2026-03-02T21:00", "closed, opens in 20m"),
        ("2026-03-02T21:00", True, "2026-03-03T04:00", None, "open, closes in 7h"),
        # Tuesday 03:00 local still belongs to Monday's window (crosses midnight)
        ("2026-03-03T02:00", True, "2026-03-03T04:00", None, "open, closes in 2h"),
        ("2026-03-03T04:00", False, None, "2026-03-03T21:00", "closed, opens in 17h"),
        # Friday's window runs into Saturday morning ...
        ("2026-03-07T02:00", True, "2026-03-07T04:00", None, "open, closes in 2h"),
        # ... and then nothing until Monday night (across the week end)
        ("2026-03-07T10:00", False, None, "2026-03-09T21:00", "closed, opens in 2d11h"),
        ("2026-03-08T23:30", False, None, "2026-03-09T21:00", "closed, opens in 21h30m"),
    ],
)
def test_weeknight_window(
    now: str, is_open: bool, closes_at: str | None, opens_at: str | None, text: str
) -> None:
    status = window_status((WEEKNIGHTS,), utc(now), HALF_HOUR)
    assert status.is_open is is_open
    assert status.closes_at == (utc(closes_at) if closes_at else None)
    assert status.opens_at == (utc(opens_at) if opens_at else None)
    assert status.fits is is_open
    assert status.text == text


def test_open_but_too_short_does_not_fit() -> None:
    status = window_status((WEEKNIGHTS,), utc("2026-03-03T03:50"), HALF_HOUR)
    assert status.is_open and not status.fits
    assert status.text == "open, closes in 10m (the run needs 30m)"


@pytest.mark.parametrize(
    ("now", "closes_at", "text"),
    [
        # Spring forward (29 Mar 2026, 02:00 CET -> 03:00 CEST): 01:00-04:00 lasts 2 hours.
        ("2026-03-29T00:30", "2026-03-29T02:00", "open, closes in 1h30m"),
        # Fall back (25 Oct 2026, 03:00 CEST -> 02:00 CET): 01:00-04:00 lasts 4 hours.
        ("2026-10-24T23:30", "2026-10-25T03:00", "open, closes in 3h30m"),
    ],
)
def test_window_across_dst_change(now: str, closes_at: str, text: str) -> None:
    nightly = MaintenanceWindow(frozenset(range(7)), time(1, 0), time(4, 0), ZURICH)
    status = window_status((nightly,), utc(now), HALF_HOUR)
    assert status.closes_at == utc(closes_at)
    assert status.text == text


def test_start_in_the_skipped_hour_opens_at_the_transition() -> None:
    # 02:30 does not exist on 29 Mar 2026 in Zurich; it maps to 01:30 UTC (= 03:30 CEST).
    window = MaintenanceWindow(frozenset({6}), time(2, 30), time(5, 0), ZURICH)
    status = window_status((window,), utc("2026-03-29T00:00"), HALF_HOUR)
    assert status.opens_at == utc("2026-03-29T01:30")


def test_sunday_window_crossing_into_monday_wraps_the_week() -> None:
    window = MaintenanceWindow(frozenset({6}), time(23, 0), time(1, 0), "UTC")
    status = window_status((window,), utc("2026-03-09T00:30"), timedelta(minutes=10))
    assert status.is_open and status.closes_at == utc("2026-03-09T01:00")


def test_touching_windows_form_one_open_period() -> None:
    windows = (
        MaintenanceWindow(frozenset({0}), time(22, 0), time(0, 0), "UTC"),
        MaintenanceWindow(frozenset({1}), time(0, 0), time(2, 0), "UTC"),
    )
    status = window_status(windows, utc("2026-03-02T23:00"), timedelta(hours=2))
    assert status.closes_at == utc("2026-03-03T02:00")
    assert status.fits


def test_windows_covering_the_whole_week_never_close() -> None:
    always = MaintenanceWindow(frozenset(range(7)), time(0, 0), time(0, 0), "UTC")
    status = window_status((always,), utc("2026-03-04T10:00"), timedelta(days=3))
    assert status.is_open and status.fits and status.closes_at is None


def test_naive_now_is_utc_and_aware_now_is_converted() -> None:
    naive = window_status((WEEKNIGHTS,), datetime(2026, 3, 2, 21, 30), HALF_HOUR)
    aware = datetime(2026, 3, 2, 22, 30, tzinfo=timezone(timedelta(hours=1)))
    assert naive.is_open
    assert window_status((WEEKNIGHTS,), aware, HALF_HOUR) == naive


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("'sat,sun'", {5, 6}),
        ("fri-mon", {4, 5, 6, 0}),
        ("[monday, wed]", {0, 2}),
        ("[tue-thu, sun]", {1, 2, 3, 6}),
    ],
)
def test_parse_days(days: str, expected: set[int]) -> None:
    text = f"- {{days: {days}, start: '08:00', end: '09:00', tz: UTC}}\n"
    assert parse_windows(text, "w.yml")[0].days == frozenset(expected)


def test_parse_windows_reads_unquoted_times_as_written() -> None:
    # Unquoted 22:30 is the YAML 1.1 integer 1350; the window must still mean 22:30.
    window = parse_windows("days: mon\nstart: 22:30\nend: 24:00\ntz: Europe/Zurich\n", "w.yml")
    assert window == (MaintenanceWindow(frozenset({0}), time(22, 30), time(0, 0), ZURICH),)
    assert str(window[0]) == "mon 22:30-00:00 Europe/Zurich"
    assert parse_windows("[]", "w.yml") == ()


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("- {start: '1:00', end: '2:00', tz: UTC, day: mon}\n", 1, 41, "unknown key 'day'"),
        ("- {start: '1:00', end: '2:00'}\n", 1, 3, "needs `tz`"),
        ("- {start: '1:00', tz: UTC}\n", 1, 3, "needs `end`"),
        ("- {start: '25:00', end: '2:00', tz: UTC}\n", 1, 11, "HH:MM"),
        ("- {start: '24:30', end: '2:00', tz: UTC}\n", 1, 11, "HH:MM"),
        ("- {start: '1:00', end: 2h, tz: UTC}\n", 1, 24, "HH:MM"),
        ("- {start: '1:00', end: '2:00', tz: Mars/Olympus}\n", 1, 36, "unknown time zone"),
        ("- {days: funday, start: '1:00', end: '2:00', tz: UTC}\n", 1, 10, "unknown day 'funday'"),
        ("- {days: [], start: '1:00', end: '2:00', tz: UTC}\n", 1, 10, "names no day"),
        ("- [mon, '1:00']\n", 1, 3, "must be a mapping"),
    ],
)
def test_window_errors_have_positions(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_windows(text, "w.yml")
    assert (info.value.source, info.value.line, info.value.column) == ("w.yml", line, column)
    assert words in info.value.reason
