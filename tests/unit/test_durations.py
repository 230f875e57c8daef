"""Durations and comparisons."""

from __future__ import annotations

import pytest

from fleetlogoff.durations import (
    Comparison,
    DurationError,
    format_duration,
    parse_comparison,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h30m", 9000),
        ("2h 30m", 9000),
        ("1d", 86400),
        ("1d2h", 93600),
        ("1w", 604800),
        ("0", 0),
        ("000", 0),
        (" 3H ", 10800),
        ("1 hour 5 minutes", 3900),
        ("1d0h0m1s", 86401),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5m", "negative"),
        ("5x", "unknown unit 'x'"),
        ("5ms", "unknown unit 'ms'"),
        ("30m2h", "largest to smallest"),
        ("2h2h", "largest to smallest"),
        ("h", "number followed by a unit"),
        ("1.5h", "number followed by a unit"),
        ("5m junk", "number followed by a unit"),
        ("99999w", "ten years"),
        # a bare number was once seconds while its writer meant minutes or hours
        ("120", "a bare number has no unit: write 120s, 120m or 2h"),
        ("45", "write 45s, 45m"),
        (" 7 ", "write 7s, 7m"),
        ("9" * 40, "needs its unit"),
        ("9" * 40 + "s", "number followed by a unit"),
        ("\u0663m", "number followed by a unit"),
    ],
)
def test_bad_durations(text: str, reason: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert reason in info.value.reason
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (90, "1m30s"), (11520, "3h12m"), (93600, "1d2h"), (86401, "1d1s")],
)
def test_format_duration_round_trips(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_format_negative_is_an_error() -> None:
    with pytest.raises(DurationError):
        format_duration(-1)


@pytest.mark.parametrize(
    ("text", "operator", "seconds"),
    [
        (">= 2h", ">=", 7200),
        (">2h", ">", 7200),
        ("<= 1d", "<=", 86400),
        ("< 90s", "<", 90),
        ("== 0", "==", 0),
        ("= 5m", "==", 300),
        ("30m", ">=", 1800),
    ],
)
def test_parse_comparison(text: str, operator: str, seconds: int) -> None:
    assert parse_comparison(text) == Comparison(operator, seconds)  # type: ignore[arg-type]  # table holds valid operators


@pytest.mark.parametrize(
    ("comparison", "value", "holds"),
    [
        (">= 2h", 7200, True),
        (">= 2h", 7199, False),
        ("> 2h", 7200, False),
        ("<= 2h", 7200, True),
        ("< 2h", 7200, False),
        ("== 1m", 60, True),
        ("== 1m", 61, False),
    ],
)
def test_comparison_holds(comparison: str, value: int, holds: bool) -> None:
    assert parse_comparison(comparison).holds(value) is holds


@pytest.mark.parametrize("text", [">> 2h", "=> 2h", ">=", "> -1h", "2 hours ago"])
def test_bad_comparisons(text: str) -> None:
    with pytest.raises(DurationError):
        parse_comparison(text)


def test_comparison_str() -> None:
    assert str(parse_comparison(">=150m")) == ">= 2h30m"
