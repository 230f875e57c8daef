"""Durations (`90s`, `15m`, `2h30m`, `1d2h`) and comparisons (`>= 2h`) used by rules and
flags.

A bare number is refused (only `0` needs no unit): `idle: 120` once meant 120 seconds while
its writer meant two hours, or 120 minutes; the error says to write `120m` or `2h`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fleetlogoff.errors import FleetLogoffError

Operator = Literal[">=", ">", "<=", "<", "=="]

_UNITS: dict[str, int] = {}
for _names, _seconds in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "week", "weeks"), 7 * 86400),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_OPERATORS: dict[str, Operator] = {
    ">=": ">=",
    ">": ">",
    "<=": "<=",
    "<": "<",
    "==": "==",
    "=": "==",
}
_PART = re.compile(r"\s*([0-9]{1,12})\s*([a-z]+)", re.IGNORECASE)
_COMPARISON = re.compile(r"\s*(>=|<=|==|=|>|<)?\s*(.*)", re.DOTALL)
# Ten years: anything longer is a typo, and keeps datetime arithmetic far from overflow.
_MAX_SECONDS = 10 * 365 * 86400


class DurationError(FleetLogoffError, ValueError):
    """A duration or comparison text is malformed.

    Attributes:
        text: the text as given.
        reason: what is wrong with it.
    """

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"bad duration {text!r}: {reason}")


def parse_duration(text: str) -> int:
    """Read a duration into whole seconds.

    Args:
        text: `90s`, `15m`, `2h30m`, `2h 30m`, `1d2h`, `1w`, or `0`. Units: s, m, h, d, w
            (and their long names), largest first, each once.

    Returns:
        The duration in seconds.

    Raises:
        DurationError: empty, negative, a number without its unit, unknown unit, units
            out of order, junk.
    """
    stripped = text.strip()
    if not stripped:
        raise DurationError(text, "empty (write e.g. 90s, 15m, 2h30m, 1d)")
    if stripped.startswith("-"):
        raise DurationError(text, "a duration cannot be negative")
    if stripped.isascii() and stripped.isdigit():
        if int(stripped) == 0:
            return 0
        raise DurationError(text, _unit_hint(stripped))
    return _bounded(text, _sum_parts(text, stripped))


def _unit_hint(number: str) -> str:
    """`120` → write 120s, 120m or 2h: seconds, minutes or hours are all plausible."""
    if len(number) > 12:
        return "a number needs its unit (s, m, h, d or w)"
    value = int(number)
    hours = f" or {value // 60}h" if value % 60 == 0 else ""
    return f"a bare number has no unit: write {value}s, {value}m{hours}"


def _sum_parts(text: str, stripped: str) -> int:
    total = 0
    position = 0
    last_unit = _MAX_SECONDS + 1
    while position < len(stripped):
        match = _PART.match(stripped, position)
        if match is None:
            raise DurationError(text, "expected a number followed by a unit (s, m, h, d, w)")
        unit = _UNITS.get(match.group(2).lower())
        if unit is None:
            raise DurationError(text, f"unknown unit {match.group(2)!r} (use s, m, h, d or w)")
        if unit >= last_unit:
            raise DurationError(text, "units must go from largest to smallest, each once")
        last_unit = unit
        total += int(match.group(1)) * unit
        position = match.end()
    return total


def _bounded(text: str, seconds: int) -> int:
    if seconds > _MAX_SECONDS:
        raise DurationError(text, "longer than ten years")
    return seconds


def format_duration(seconds: int) -> str:
    """Write seconds compactly: 11520 → `3h12m`, 90 → `1m30s`, 0 → `0s`.

    Raises:
        DurationError: for a negative number.
    """
    if seconds < 0:
        raise DurationError(str(seconds), "a duration cannot be negative")
    if seconds == 0:
        return "0s"
    parts = []
    remaining = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Comparison:
    """`operator seconds`, e.g. idle >= 2 hours.

    Attributes:
        operator: one of >=, >, <=, <, ==.
        seconds: the duration compared against.
    """

    operator: Operator
    seconds: int

    def holds(self, value: int) -> bool:
        """Whether `value` (seconds) satisfies the comparison."""
        if self.operator == ">=":
            return value >= self.seconds
        if self.operator == ">":
            return value > self.seconds
        if self.operator == "<=":
            return value <= self.seconds
        if self.operator == "<":
            return value < self.seconds
        return value == self.seconds

    def __str__(self) -> str:
        return f"{self.operator} {format_duration(self.seconds)}"


def parse_comparison(text: str) -> Comparison:
    """Read `>= 2h`, `> 30m`, `<= 1d`, `< 90s`, `== 0`; a bare duration means `>=`.

    `=` is accepted as `==`.

    Raises:
        DurationError: malformed operator or duration.
    """
    match = _COMPARISON.fullmatch(text)
    if match is None:  # pragma: no cover - the pattern matches every string
        raise DurationError(text, "expected e.g. '>= 2h'")
    operator = match.group(1) or ">="
    rest = match.group(2)
    if rest.strip()[:1] in ("<", ">", "="):
        raise DurationError(text, "expected one operator (>=, >, <=, <, ==) then a duration")
    try:
        seconds = parse_duration(rest)
    except DurationError as exc:
        raise DurationError(text, exc.reason) from None
    return Comparison(_OPERATORS[operator], seconds)
