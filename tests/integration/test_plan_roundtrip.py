"""Plans as artifacts: made in one process and folder, applied in another, accepted every
time (canonical digests); refused with one line and exit 4 when stale, from the future or
no longer matching their inputs; a misspelled path says "no such plan"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.host import SimHost
from tests.cliutil import CLOCK, run_cli

from .conftest import active, disconnected, lab, services_and_console, sim_host

STATES = ["--state", "disc", "--state", "active", "--state", "idle", "--idle", ">= 2h"]


def _hosts(count: int) -> list[SimHost]:
    return [
        sim_host(
            f"rds-p{i}",
            sessions=[
                *services_and_console(),
                disconnected(2, f"user{i}", idle_h=5),
                active(3, f"busy{i}", idle_min=2),
            ],
        )
        for i in range(count)
    ]


def _fleetlogoff(argv: list[str], cwd: Path, seed: int) -> subprocess.CompletedProcess[str]:
    """A fresh process with its own string hash seed."""
    return subprocess.run(
        [sys.executable, "-m", "fleetlogoff", *argv],
        cwd=cwd,
        env={**os.environ, "PYTHONHASHSEED": str(seed), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_ten_round_trips_in_fresh_processes_from_another_folder(tmp_path: Path) -> None:
    hosts = _hosts(10)
    made_in, applied_in = tmp_path / "planning", tmp_path / "ci-job"
    made_in.mkdir()
    applied_in.mkdir()
    with lab(hosts, made_in) as (_, inventory):
        for i in range(10):
            plan = f"plan-{i}.json"  # relative: the plan must carry absolute paths itself
            argv = ["plan", "inventory.yml", *STATES, "--limit", f"rds-p{i}", "-o", plan]
            made = _fleetlogoff(argv, cwd=made_in, seed=i)
            assert made.returncode == ExitStatus.OK, made.stderr
            (applied_in / plan).write_bytes((made_in / plan).read_bytes())
            audit = ["--audit-log", str(tmp_path / "audit.jsonl")]
            done = _fleetlogoff(
                ["apply", plan, "--yes", "--warn", "0", "--quiet", *audit], applied_in, 100 + i
            )
            assert done.returncode == ExitStatus.OK, f"round {i}: {done.stderr}"
        logged_off = [lo["user"] for h in hosts for lo in h.state()["logoffs"]]
    assert inventory.is_absolute()
    assert logged_off == [f"user{i}" for i in range(10)]


def test_a_portable_plan_still_refuses_changed_inputs(tmp_path: Path) -> None:
    hosts = _hosts(1)
    rules = tmp_path / "rules.yml"
    rules.write_text("- {name: stale, states: [disc], idle: '>= 2h'}\n", encoding="utf-8")
    other = tmp_path / "elsewhere"
    other.mkdir()
    with lab(hosts, tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        made = run_cli(["plan", str(inventory), "--rules", str(rules), "-o", str(plan)])
        assert made.status == ExitStatus.OK, made.stderr
        document = json.loads(plan.read_text())
        assert Path(document["inventory"]["source"]).is_absolute()
        assert Path(document["rules"]["spec"]["rules_file"]).is_absolute()
        check = run_cli(["apply", str(plan), "--check"])
        rules.write_text("- {name: stale, states: [disc], idle: '>= 1m'}\n", encoding="utf-8")
        changed = run_cli(["apply", str(plan), "--yes", "--warn", "0"])
        state = hosts[0].state()
    assert check.status == ExitStatus.OK and "Check mode: nothing was done" in check.stdout
    assert changed.status == ExitStatus.REFUSED and "rules" in changed.stderr
    assert state["messages"] == [] and state["logoffs"] == []


def _saved_plan(tmp_path: Path, inventory: Path) -> Path:
    plan = tmp_path / "plan.json"
    made = run_cli(["plan", str(inventory), *STATES, "-o", str(plan)])
    assert made.status == ExitStatus.OK, made.stderr
    return plan


def _dated(plan: Path, shift: timedelta) -> None:
    document = json.loads(plan.read_text())
    document["created"] = (CLOCK.now() + shift).isoformat(timespec="seconds")
    plan.write_text(json.dumps(document))


def test_plans_from_the_future_are_refused_beyond_a_small_skew(tmp_path: Path) -> None:
    hosts = _hosts(1)
    with lab(hosts, tmp_path) as (_, inventory):
        plan = _saved_plan(tmp_path, inventory)
        _dated(plan, timedelta(days=365 * 100))
        far = run_cli(["apply", str(plan), "--yes", "--warn", "0"])
        _dated(plan, timedelta(minutes=2))  # clocks a little apart: accepted
        near = run_cli(["apply", str(plan), "--check"])
    assert far.status == ExitStatus.REFUSED and "in the future" in far.stderr
    assert len(far.stderr.strip().splitlines()) == 1
    assert near.status == ExitStatus.OK, near.stderr


def test_a_misspelled_plan_says_no_such_plan(tmp_path: Path) -> None:
    result = run_cli(["apply", str(tmp_path / "paln.json"), "--yes"])
    assert result.status == ExitStatus.USAGE
    assert result.stderr.strip() == f"fleetlogoff: error: no such plan: {tmp_path / 'paln.json'}"


def test_nothing_to_do_exits_zero_unless_asked_for_detail(tmp_path: Path) -> None:
    host = sim_host("rds-idle", sessions=[*services_and_console(), active(2, "busy", 1)])
    with lab([host], tmp_path) as (_, inventory):
        plan = _saved_plan(tmp_path, inventory)
        plain = run_cli(["apply", str(plan), "--yes"])
        detailed = run_cli(["apply", str(plan), "--yes", "--detailed-exitcode"])
    assert plain.status == ExitStatus.OK and "Nothing to log off" in plain.stdout
    assert detailed.status == ExitStatus.NOTHING_TO_DO
