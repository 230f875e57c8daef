"""Two applies of one plan (or of one inventory) never run at once: the second refuses at
once, names the first, and acts on nothing."""

from __future__ import annotations

import io
import os
import threading
from datetime import timedelta
from pathlib import Path

from fleetlogoff.app.apply import ApplyOptions, run_apply
from fleetlogoff.app.fleet import FleetOptions
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.executor import ApplySettings
from fleetlogoff.lab.host import SimHost
from fleetlogoff.transport.winrm import WinRMConnector
from tests.cliutil import CLOCK, run_cli

from .conftest import active, disconnected, lab, services_and_console, sim_host

STALE = ["--state", "disconnected", "--idle", ">= 2h"]
PATIENCE_S = 60.0


def _host(name: str) -> SimHost:
    sessions = [*services_and_console(), disconnected(2, "stale.user", 5), active(3, "busy", 2)]
    return sim_host(name, sessions=sessions)


class WaitWatchingStop(threading.Event):
    """The run's stop signal, which also tells the test when the run is in its shared wait:
    the executor waits on it with a timeout there, after writing wait_started. No polling
    and no sleep: the run's own waits drive the check."""

    def __init__(self, audit: Path) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self._audit = audit

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and not self.waiting.is_set() and self._in_wait():
            self.waiting.set()
        return super().wait(timeout)

    def _in_wait(self) -> bool:
        return self._audit.exists() and "wait_started" in self._audit.read_text(encoding="utf-8")


def _first_run_waiting(
    plan: Path, audit: Path, stop: WaitWatchingStop
) -> tuple[threading.Thread, list[ExitStatus]]:
    """Start an apply of the plan that warns and then waits 60 s (until `stop`)."""
    options = ApplyOptions(
        source=str(plan),
        fleet=FleetOptions(inventory=str(plan), quiet=True),
        settings=ApplySettings(warn=timedelta(seconds=60)),
        yes=True,
        audit_log=str(audit),
    )
    env = Environment(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin_isatty=False,
        stdout_isatty=False,
        environ={"XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]},
        clock=CLOCK.now,  # the lab hosts' clock (conftest.sim_host)
    )
    statuses: list[ExitStatus] = []
    thread = threading.Thread(
        target=lambda: statuses.append(run_apply(options, env, WinRMConnector(), stop))
    )
    thread.start()
    # Bounded only so that a broken run cannot hang the suite (the wait comes at once).
    assert stop.waiting.wait(PATIENCE_S), f"the first apply never waited: {statuses}"
    return thread, statuses


def test_a_second_apply_of_the_same_plan_or_inventory_refuses_at_once(tmp_path: Path) -> None:
    host = _host("rds-lock")
    first_audit = tmp_path / "first.jsonl"
    stop = WaitWatchingStop(first_audit)
    with lab([host], tmp_path) as (_, inventory):
        plan, other_plan = tmp_path / "plan.json", tmp_path / "other-plan.json"
        for path in (plan, other_plan):
            made = run_cli(["plan", str(inventory), *STALE, "-o", str(path)])
            assert made.status == ExitStatus.OK, made.stderr
        thread, statuses = _first_run_waiting(plan, first_audit, stop)
        try:
            commands_before = len(host.state()["commands"])
            audit = ["--yes", "--audit-log", str(tmp_path / "second.jsonl")]
            same_plan = run_cli(["apply", str(plan), *audit])
            other_plan_same_inventory = run_cli(["apply", str(other_plan), *audit])
            same_inventory = run_cli(["apply", str(inventory), *STALE, *audit])
            commands_while_held = len(host.state()["commands"])
        finally:
            stop.set()
            thread.join()
        state = host.state()
    for second in (same_plan, other_plan_same_inventory, same_inventory):
        assert second.status == ExitStatus.REFUSED, second.stderr
        assert f"is in use by pid {os.getpid()}" in second.stderr
        assert "fleetlogoff apply " + str(plan) in second.stderr
    # The refused runs did nothing at all: no host contact, no audit record.
    assert not (tmp_path / "second.jsonl").exists()
    assert commands_while_held == commands_before
    assert statuses == [ExitStatus.INTERRUPTED]
    assert [m["session_id"] for m in state["messages"]][:1] == [2]
    assert state["logoffs"] == []


def test_after_the_first_run_ends_the_next_one_proceeds(tmp_path: Path) -> None:
    host = _host("rds-after")
    with lab([host], tmp_path) as (_, inventory):
        # --warn 0: the default 5-minute warning would be 5 minutes of real waiting here.
        audit = ["--yes", "--warn", "0", "--audit-log", str(tmp_path / "audit.jsonl")]
        first = run_cli(["apply", str(inventory), *STALE, *audit])
        second = run_cli(["apply", str(inventory), *STALE, *audit])
    assert first.status == ExitStatus.OK, first.stderr
    assert second.status == ExitStatus.OK, second.stderr  # nothing left to do
