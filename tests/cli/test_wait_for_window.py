"""--wait-for-window with a fake clock: it sleeps until the first window opens, no longer."""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fleetlogoff.app.apply import ApplyOptions, wait_for_windows
from fleetlogoff.app.fleet import FleetOptions
from fleetlogoff.env import Environment
from fleetlogoff.executor import ApplySettings
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.model import Session, SessionState
from fleetlogoff.planner import Plan, Selection, plan_host
from fleetlogoff.ui.window_wait import window_wait_text

INVENTORY = """
all:
  hosts:
    early: {fleetlogoff_window: [{days: mon-sun, start: "02:00", end: "04:00", tz: UTC}]}
    late: {fleetlogoff_window: [{days: mon-sun, start: "03:00", end: "05:00", tz: UTC}]}
"""
STALE = Session(2, "u", "", SessionState.DISCONNECTED, idle_seconds=9000, logon_text="x")


class FakeTime:
    """A clock that moves only when someone waits on the stop event."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept = 0.0

    def clock(self) -> datetime:
        return self.now


class AdvancingStop(threading.Event):
    def __init__(self, time: FakeTime) -> None:
        super().__init__()
        self._time = time

    def wait(self, timeout: float | None = None) -> bool:
        self._time.now += timedelta(seconds=timeout or 0)
        self._time.slept += timeout or 0
        return self.is_set()


def test_waits_for_the_first_window_to_open_then_returns() -> None:
    time = FakeTime(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    inventory = parse_inventory(INVENTORY, "inv.yml", env={"FLEETLOGOFF_USERNAME": "admin"})
    hosts = {h.name: h for h in inventory.hosts}
    rule_selects_all = Selection(override=None)
    plans = [
        plan_host(
            h, "ok", [STALE], error=None, raw="", selection=rule_selects_all, now_utc=time.now
        )
        for h in inventory.hosts
    ]
    # Make every session a target, whatever the (absent) rules say: this test is about time.
    plans = [
        replace(p, sessions=tuple(replace(s, action="target") for s in p.sessions)) for p in plans
    ]
    plan = Plan(time.now, "inv.yml", "d", "inventory", "r", None, tuple(plans))
    options = ApplyOptions(
        source="plan.json",
        fleet=FleetOptions(inventory="inv.yml"),
        settings=ApplySettings(warn=timedelta(minutes=5), window_margin=timedelta(minutes=5)),
    )
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), clock=time.clock, environ={})
    wait_for_windows(plan, hosts, options, env, AdvancingStop(time))
    assert time.now == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    shown = env.stderr.getvalue()  # type: ignore[attr-defined]  # a StringIO, given above
    opens = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert window_wait_text(opens, opens - timedelta(hours=1)) + "\n" == shown
    assert "(in 1h)" in shown and opens.astimezone().strftime("%H:%M") in shown
