"""The time conditions of a rule, idle time and logon age, read only when they can be:
a doubtful, unknown or impossible value keeps a session from the rule that reads it and
says why, instead of deciding either way (pure: no I/O, no clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleetlogoff.durations import Comparison, format_duration
from fleetlogoff.model import Session

# Idle and logon times are both printed to the minute; a minute of slack either way.
_CLOCK_SLACK_S = 60


@dataclass(frozen=True, slots=True)
class LogonAge:
    """How long ago a session logged on, in seconds, as a range.

    Both ends are equal when the host's clock places the printed local time exactly; they
    differ when it cannot (the repeated hour when clocks go back, a host whose time zone
    is unknown). A rule on logon age holds only when it holds over the whole range.

    Attributes:
        low: the shortest the age can be.
        high: the longest the age can be.
        why: why the range is wide ("" when it is exact).
    """

    low: int
    high: int
    why: str = ""

    @classmethod
    def between(cls, logon_local: datetime, now_local: datetime) -> LogonAge:
        """The exact age between two wall times of one clock."""
        seconds = int((now_local - logon_local).total_seconds())
        return cls(seconds, seconds)


@dataclass(frozen=True, slots=True)
class Condition:
    """One time condition checked: holds (True), fails (False) or cannot be read (None).

    Attributes:
        holds: the verdict.
        text: why it holds ("idle 3h12m >= 2h"), or why it cannot be read.
    """

    holds: bool | None
    text: str


def idle_condition(wanted: Comparison, session: Session, age: LogonAge | None) -> Condition:
    """Check an idle condition; unknown when the idle time is doubtful, not reported, or
    longer than the session has existed."""
    doubt = session.doubt_about("idle")
    if doubt is not None:
        return Condition(None, f"idle time unknown: {doubt.reason}")
    if session.idle_seconds is None:
        shown = f" ({session.idle_text!r})" if session.idle_text else ""
        return Condition(None, f"idle time unknown{shown}")
    idle = session.idle_seconds
    if age is not None and idle > age.high + _CLOCK_SLACK_S:
        # Idle since before the logon cannot be true: a wrapped or stale counter.
        return Condition(
            None, f"idle {format_duration(idle)} is longer than the session has existed"
        )
    if not wanted.holds(idle):
        return Condition(False, "")
    return Condition(True, f"idle {format_duration(idle)} {wanted}")


def logon_condition(wanted: Comparison, session: Session, age: LogonAge | None) -> Condition:
    """Check a logon-age condition; unknown when the logon time is doubtful or unknown,
    in the future, or when the condition holds over only part of the age range."""
    doubt = session.doubt_about("logon")
    if doubt is not None:
        return Condition(None, f"logon time unreadable: {doubt.reason}")
    if session.logon_time is None or age is None:
        return Condition(None, "logon time unknown")
    if age.high < 0:
        # A logon after the host's present: a misread date or a skewed clock.
        return Condition(None, f"logon time {session.logon_text!r} is in the future")
    low, high = max(0, age.low), age.high
    at_low, at_high = wanted.holds(low), wanted.holds(high)
    if at_low and at_high:
        return Condition(True, f"logged on {format_duration(low)} ago {wanted}")
    if not at_low and not at_high:
        return Condition(False, "")
    span = f"logged on between {format_duration(low)} and {format_duration(high)} ago"
    return Condition(None, f"{span} ({age.why}), {wanted} not certain")
