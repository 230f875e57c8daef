"""The planner works out a session's logon age only for rules that read it, and the age
it works out is the one logon_age gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetlogoff.durations import parse_comparison
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.model import Session, SessionState
from fleetlogoff.parsers.facts import HostDates, HostFacts
from fleetlogoff.parsers.timezone import HostClock
from fleetlogoff.planner import Selection, logon_age, plan_sessions, reads_logon_age
from fleetlogoff.rules import Rule, evaluate_session

NOW = datetime(2026, 11, 1, 6, 30, 15, 250_000, tzinfo=UTC)
HOST = parse_inventory("all:\n  hosts:\n    rds01:\n", "inv.yml", env={}).hosts[0]
DISC = SessionState.DISCONNECTED


def session(sid: int, logon: datetime | None, idle_s: int = 3 * 3600) -> Session:
    return Session(sid, f"user{sid}", "", DISC, idle_seconds=idle_s, logon_time=logon)


# 01:00-02:00 on 1 November 2026 happens twice in New York: two ages, a range.
SESSIONS = (
    session(2, datetime(2026, 10, 30, 8, 5)),
    session(3, datetime(2026, 11, 1, 1, 30)),
    session(4, None),
    session(5, datetime(2026, 11, 1, 1, 20), idle_s=9 * 3600),
)
CLOCKS = (
    HostClock("inventory", "America/New_York"),
    HostClock("unknown", note="the host's time zone was not read"),
)


@pytest.mark.parametrize(
    ("rules", "reads"),
    [
        ((), False),
        ((Rule("users", users=("user*",)), Rule("disc", states=frozenset({DISC}))), False),
        ((Rule("users", users=("x",)), Rule("idle", idle=parse_comparison(">= 1h"))), True),
        ((Rule("old", logon_age=parse_comparison("> 1d")),), True),
    ],
)
def test_only_idle_and_logon_age_conditions_read_the_logon_age(
    rules: tuple[Rule, ...], reads: bool
) -> None:
    assert reads_logon_age(rules) is reads


@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize(
    "rules",
    [
        (Rule("old", logon_age=parse_comparison("> 1d")),),
        (Rule("idle", idle=parse_comparison(">= 2h")),),
        (Rule("disc", states=frozenset({DISC})),),
    ],
)
def test_verdicts_are_those_of_the_ages_logon_age_gives(
    clock: HostClock, rules: tuple[Rule, ...]
) -> None:
    facts = HostFacts(HostDates("output"), clock)
    planned = plan_sessions(HOST, SESSIONS, Selection(rules), NOW, facts)
    checked = clock.checked(NOW)
    expected = [evaluate_session(s, rules, logon_age=logon_age(checked, s, NOW)) for s in SESSIONS]
    assert [(p.action, p.rule, p.reason, p.kept_from) for p in planned] == [
        (v.action, v.rule, v.reason, v.kept_from) for v in expected
    ]


def test_a_logon_age_is_exact_on_a_known_clock_and_a_range_in_a_repeated_hour() -> None:
    clock = CLOCKS[0]
    exact = logon_age(clock, SESSIONS[0], NOW)
    assert exact is not None
    since = NOW - datetime(2026, 10, 30, 12, 5, tzinfo=UTC)  # 08:05 EDT
    assert (exact.low, exact.high, exact.why) == (int(since.total_seconds()),) * 2 + ("",)
    repeated = logon_age(clock, SESSIONS[1], NOW)
    assert repeated is not None
    assert repeated.high - repeated.low == timedelta(hours=1).total_seconds()
    assert "repeat or skip" in repeated.why
