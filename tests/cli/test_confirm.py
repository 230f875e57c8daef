"""The y/N question says what users will read, or plainly that they get no warning."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from fleetlogoff.app.apply import ApplyOptions, StopRequest, confirm, confirmation_text
from fleetlogoff.app.apply_plan import RefusedError
from fleetlogoff.app.fleet import FleetOptions
from fleetlogoff.env import Environment
from fleetlogoff.executor import ApplySettings
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.model import Host, Session, SessionState
from fleetlogoff.planner import Plan, PlannedSession, Selection, plan_host

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _plan(username: str = "j.doe") -> tuple[Plan, dict[str, Host]]:
    text = "all:\n  hosts:\n    rds01: {fleetlogoff_timezone: UTC}\n    rds02:\n"
    hosts = parse_inventory(text, "inv.yml", env={"FLEETLOGOFF_USERNAME": "admin"}).hosts
    session = Session(4, username, "", SessionState.DISCONNECTED, logon_text="x")
    plans = []
    for host in hosts:
        empty = plan_host(host, "ok", [], error=None, raw="", selection=Selection(), now_utc=NOW)
        if host.name == "rds01":
            target = PlannedSession(session, "target", "stale", "idle")
            empty = replace(empty, sessions=(target,))
        plans.append(empty)
    plan = Plan(NOW, "inv.yml", "d", "inventory", "r", None, tuple(plans))
    return plan, {h.name: h for h in hosts}


def test_with_a_warning_the_question_shows_the_message() -> None:
    plan, hosts = _plan()
    text = confirmation_text(plan, hosts, ApplySettings(), NOW)
    assert "warned 5 minutes before" in text
    assert "j.doe on rds01 will read:" in text
    assert "  | Your session on rds01 will be logged off in 5 minutes, at 12:05" in text
    assert text.endswith("Warn, then log off 1 session(s) on 1 host(s)? [y/N] ")


def test_without_a_warning_the_question_says_so() -> None:
    plan, hosts = _plan()
    text = confirmation_text(plan, hosts, ApplySettings(warn=timedelta(0)), NOW)
    assert text.startswith("Users get NO warning (--warn 0)")
    assert "without warning? [y/N]" in text


def test_control_characters_in_a_user_name_are_shown_escaped() -> None:
    plan, hosts = _plan("evil\x1b[2J")
    message = "Bye {user}"
    text = confirmation_text(plan, hosts, ApplySettings(message=message), NOW)
    assert "\x1b" not in text.split("will read:")[1] and "Bye evil\\x1b[2J" in text


def _env(answer: str, tty: bool = True) -> Environment:
    return Environment(
        stdin=io.StringIO(answer),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin_isatty=tty,
        stdout_isatty=False,
        environ={},
        clock=lambda: NOW,
    )


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "yes please\n"])
def test_anything_but_yes_is_not_a_yes(answer: str) -> None:
    plan, hosts = _plan()
    options = ApplyOptions(source="p.json", fleet=FleetOptions(inventory="inv.yml"))
    with pytest.raises(RefusedError, match="not confirmed"):
        confirm(plan, hosts, options, _env(answer), StopRequest())


def test_yes_goes_on_and_no_terminal_needs_yes() -> None:
    plan, hosts = _plan()
    options = ApplyOptions(source="p.json", fleet=FleetOptions(inventory="inv.yml"))
    confirm(plan, hosts, options, _env("Y\n"), StopRequest())
    with pytest.raises(RefusedError, match="--yes"):
        confirm(plan, hosts, options, _env("y\n", tty=False), StopRequest())
