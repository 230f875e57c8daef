"""LOGON TIME formats (FORMATS.md §1.4) and the per-output date order decision."""

from __future__ import annotations

from datetime import datetime

import pytest

from fleetlogoff.parsers.dates import DateOrder, find_logon, parse_logon_times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7/26/2018 7:29 PM", datetime(2018, 7, 26, 19, 29)),
        ("6/13/2026 12:05 PM", datetime(2026, 6, 13, 12, 5)),
        ("8/31/2020 12:22 AM", datetime(2020, 8, 31, 0, 22)),
        ("16/10/2024 03:00 p. m.", datetime(2024, 10, 16, 15, 0)),
        ("16/10/2024 09:00 a. m.", datetime(2024, 10, 16, 9, 0)),
        ("24.08.2022 17:42", datetime(2022, 8, 24, 17, 42)),
        ("03.05.2025 18:26", datetime(2025, 5, 3, 18, 26)),
        ("20/09/2026 12:27", datetime(2026, 9, 20, 12, 27)),
        ("2021-05-13 0:15", datetime(2021, 5, 13, 0, 15)),
        ("2023/11/7 13:19", datetime(2023, 11, 7, 13, 19)),
        ("2023/11/7 下午 1:19", datetime(2023, 11, 7, 13, 19)),
        ("2023/11/7 上午 12:05", datetime(2023, 11, 7, 0, 5)),
        ("2012/10/17 午後 3:04", datetime(2012, 10, 17, 15, 4)),
        ("2023. 11. 07. 13:19", datetime(2023, 11, 7, 13, 19)),
        ("5/5/2020 1:00 AM", datetime(2020, 5, 5, 1, 0)),
    ],
)
def test_unambiguous_formats(text: str, expected: datetime) -> None:
    assert parse_logon_times([text]) == [(expected, None)]


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("3/02/2023 7:36 PM", "ambiguous date in"),
        ("12/02/2023 07:11", "ambiguous date in"),
        ("6/10/2026 12:05 PM", "ambiguous date in"),
        ("7/11/23 13:19", "ambiguous date in"),
        ("18:00 PM", "unrecognised logon time"),
        ("7/26/2018 18:00 PM", "unrecognised time"),
        ("7/26/2018 7:29 XM", "unrecognised time"),
        ("2/30/2023 10:00", "not a valid"),
        ("", "unrecognised logon time"),
    ],
)
def test_uncertain_dates_give_no_time_and_a_doubt(text: str, word: str) -> None:
    ((value, doubt),) = parse_logon_times([text])
    assert value is None
    assert doubt is not None and doubt.field == "logon" and word in doubt.reason


def test_ambiguous_doubt_shows_what_the_host_printed_and_where_the_setting_goes() -> None:
    ((value, doubt),) = parse_logon_times(["3/02/2023 7:36 PM"])
    assert value is None and doubt is not None
    assert doubt.reason == (
        "ambiguous date in '3/02/2023 7:36 PM' (day or month first?): set "
        "fleetlogoff_date_order (an inventory variable, on this host or its group) "
        "to dmy, mdy or ymd"
    )


def test_a_day_above_12_fixes_the_order_for_that_separator_only() -> None:
    results = parse_logon_times(["3/02/2023 7:36 PM", "13/02/2023 8:00 AM", "3-02-2023 10:00 AM"])
    assert results[0] == (datetime(2023, 2, 3, 19, 36), None)
    assert results[1] == (datetime(2023, 2, 13, 8, 0), None)
    assert results[2][0] is None  # "-" dates got no evidence of their own


def test_a_month_position_above_12_fixes_month_first() -> None:
    results = parse_logon_times(["3/02/2023 7:36 PM", "7/26/2018 7:29 PM"])
    assert [value for value, _ in results] == [
        datetime(2023, 3, 2, 19, 36),
        datetime(2018, 7, 26, 19, 29),
    ]


def test_conflicting_rows_doubt_every_date_of_that_separator() -> None:
    results = parse_logon_times(["13/02/2023 08:00", "7/26/2018 7:29 PM", "2023/11/7 13:19"])
    assert results[0][0] is None and results[1][0] is None
    assert results[0][1] is not None and "disagree" in results[0][1].reason
    assert results[2] == (datetime(2023, 11, 7, 13, 19), None)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("mdy", datetime(2023, 3, 2, 19, 36)),
        ("dmy", datetime(2023, 2, 3, 19, 36)),
    ],
)
def test_forced_order(order: DateOrder, expected: datetime) -> None:
    assert parse_logon_times(["3/02/2023 7:36 PM"], order) == [(expected, None)]


def test_forced_order_that_does_not_fit_is_doubted() -> None:
    ((value, doubt),) = parse_logon_times(["7/26/2018 7:29 PM"], "dmy")
    assert value is None and doubt is not None
    ((value, doubt),) = parse_logon_times(["2023/11/7 13:19"], "mdy")
    assert value is None and doubt is not None


def test_forced_order_reads_two_digit_years() -> None:
    assert parse_logon_times(["7/11/23 13:19"], "dmy") == [(datetime(2023, 11, 7, 13, 19), None)]


@pytest.mark.parametrize(
    ("rest", "start"),
    [
        ("  Active      none   8/16/2015 5:29 PM", 21),
        ("  Активно   отсутствует 14.05.2021 15:54", 24),
        ("  Disc            .  16/10/2024 03:00 p. m.", 21),
        ("  Active    1+06:20  2021-05-13 0:15", 21),
    ],
)
def test_find_logon_at_the_end_of_a_row(rest: str, start: int) -> None:
    found = find_logon(rest)
    assert found is not None and found[0] == start


def test_find_logon_needs_a_date_at_the_end() -> None:
    assert find_logon("  Active  .  24.08.2022 17:42|'disc'=0;1;;0;") is None
    assert find_logon("  Active  3:11") is None


def test_a_time_without_am_pm_among_rows_with_one_is_doubted() -> None:
    results = parse_logon_times(["7/26/2018 7:29 PM", "7/27/2018 5:29"])
    assert results[0] == (datetime(2018, 7, 26, 19, 29), None)
    assert results[1][0] is None and results[1][1] is not None
    assert "no AM/PM" in results[1][1].reason


@pytest.mark.parametrize(
    ("texts", "trusted"),
    [
        (["8/16/2015 5:29"], False),  # what "8/16/2015 5:29 PM" cut short looks like
        (["8/16/2015 5:29", "8/17/2015 17:02"], True),  # a 24-hour month-first host
        (["16/08/2015 5:29"], True),  # day first: 24-hour clocks are the rule
        (["2015-08-16 5:29"], True),
    ],
)
def test_a_month_first_date_without_am_pm_is_suspect_alone(texts: list[str], trusted: bool) -> None:
    value, doubt = parse_logon_times(texts)[0]
    assert (value is not None and doubt is None) is trusted
