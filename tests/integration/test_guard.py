"""Never the wrong session: through the real CLI, pypsrp and the lab, the identity check
and the logoff are one host-side command, so a newcomer who takes a freed id is never
logged off, whatever the latency."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.guard_script import GUARD_SCRIPT, guard_command_line
from fleetlogoff.hostread import INTERNATIONAL_QUERY, QUSER_ZONE_AND_FORMAT
from fleetlogoff.lab.contract import NetworkBehaviour
from fleetlogoff.lab.dynamics import DynamicRule, Trigger
from fleetlogoff.lab.host import SimHost
from tests.cliutil import run_cli

from .conftest import active, disconnected, lab, services_and_console, sim_host

STALE = ["--state", "disconnected", "--idle", ">= 2h"]
REUSE_AT_ONCE = DynamicRule(Trigger.REUSE_FREED_ID, 0.0, user="newcomer")


def _apply(inventory: Path, tmp_path: Path, warn: str = "0s") -> Any:
    audit = tmp_path / "audit.jsonl"
    return run_cli(
        ["apply", str(inventory), *STALE, "--yes", "--warn", warn, "--audit-log", str(audit)]
    )


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _logged_off_by_the_tool(host: SimHost) -> set[tuple[int, str]]:
    return {
        (lo["session_id"], lo["user"]) for lo in host.state()["logoffs"] if lo["by"] == "logoff"
    }


def _host(name: str, *, dynamics: list[DynamicRule], **kwargs: Any) -> SimHost:
    sessions = [
        *services_and_console(),
        disconnected(2, "stale.user", idle_h=5),
        active(3, "busy.user", idle_min=2),
    ]
    return sim_host(name, sessions=sessions, dynamics=dynamics, **kwargs)


def test_a_user_who_leaves_between_the_read_and_the_logoff_is_not_replaced_by_a_victim(
    tmp_path: Path,
) -> None:
    # Per host: command 1 is the plan's quser, 2 the logoff phase's quser, 3 the logoff.
    # stale.user leaves right before command 3 and a newcomer takes id 2 at once: the
    # worst moment for a check made in one command and a logoff sent in the next.
    leaves = DynamicRule(Trigger.LOGS_OFF_BEFORE_COMMAND, 3.0, user="stale.user")
    host = _host("rds-race", dynamics=[leaves, REUSE_AT_ONCE])
    with lab([host], tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path)
        users = {(s.id, s.user) for s in host.sessions() if s.user}
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    assert _logged_off_by_the_tool(host) == set()
    assert (2, "newcomer") in users and (3, "busy.user") in users
    (skipped,) = [e for e in _audit(tmp_path) if e["event"] == "skipped"]
    assert skipped["session_id"] == 2
    assert "id 2 is now newcomer" in skipped["reason"]
    assert "checked on the host" in skipped["reason"]


def test_instant_id_reuse_at_150_ms_latency_logs_off_nobody_outside_the_plan(
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    latency = NetworkBehaviour(latency_s=0.15)
    hosts = []
    for n in range(60):
        # Users leave by themselves at moments spread over the whole run; each freed id
        # is taken by a newcomer at once.
        leaves = DynamicRule(Trigger.LOGS_OFF, rng.uniform(0.2, 6.0), user="stale.user")
        hosts.append(_host(f"rds-{n:04d}", dynamics=[leaves, REUSE_AT_ONCE], network=latency))
    with lab(hosts, tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        planned = run_cli(["plan", str(inventory), *STALE, "-o", str(plan)])
        result = run_cli(
            [
                "apply",
                str(plan),
                "--yes",
                "--warn",
                "0s",
                "--audit-log",
                str(tmp_path / "audit.jsonl"),
            ]
        )
    assert planned.status == ExitStatus.OK, planned.stderr
    assert result.status in (ExitStatus.OK, ExitStatus.NOTHING_TO_DO), result.stderr
    in_plan = {
        (h["name"], s["id"], s["username"])
        for h in json.loads(plan.read_text())["hosts"]
        for s in h["sessions"]
        if s["action"] == "target"
    }
    outside = [
        (host.name, session_id, user)
        for host in hosts
        for session_id, user in _logged_off_by_the_tool(host)
        if (host.name, session_id, user) not in in_plan
    ]
    assert outside == []


HOSTILE_USERS = [
    "a&b",
    'quo"te',
    "100%",
    "bang!",
    "jürgen.weiß",
    "张伟",
    "$(Stop-Computer)",
    "a';logoff 1;'",
]


def test_hostile_user_names_never_run_anything_but_the_guard(tmp_path: Path) -> None:
    hosts = [
        sim_host(
            f"rds-h{i}",
            sessions=[*services_and_console(), disconnected(2, name, 5), active(3, "bystander", 2)],
        )
        for i, name in enumerate(HOSTILE_USERS)
    ]
    with lab(hosts, tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path)
        states = [h.state() for h in hosts]
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    for name, state in zip(HOSTILE_USERS, states, strict=True):
        assert [(lo["session_id"], lo["user"]) for lo in state["logoffs"]] == [(2, name)]
        lines = [c["command_line"] for c in state["commands"]]
        reads = {"quser", QUSER_ZONE_AND_FORMAT, INTERNATIONAL_QUERY}
        assert set(lines) <= reads | {guard_command_line()}, lines
        assert all(name not in line for line in lines)
        records = [r for c in state["commands"] for r in c["subcommands"]]
        assert {r["program"] for r in records} <= {
            "quser",
            "echo",
            "reg",
            "powershell.exe",
            "quser.exe",
            "logoff.exe",
        }
        scripts = {r["powershell_script"] for r in records if "powershell_script" in r}
        assert scripts == {GUARD_SCRIPT}


def test_without_powershell_nothing_is_logged_off_and_the_reason_is_one_line(
    tmp_path: Path,
) -> None:
    host = _host("rds-nops", dynamics=[], powershell="blocked")
    with lab([host], tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path)
    assert result.status == ExitStatus.ERROR
    assert host.state()["logoffs"] == []
    (failed,) = [e for e in _audit(tmp_path) if e["event"] == "failed"]
    assert failed["reason"] == (
        "not logged off: the guarded logoff could not run on the host (PowerShell missing, "
        "blocked or failing?): This program is blocked by group policy. For more information, "
        "contact your system administrator."
    )


def test_a_warning_never_reaches_a_newcomer_who_took_the_id(tmp_path: Path) -> None:
    # Per host: command 1 is the plan's quser, 2 the warning phase's quser, 3 its guarded
    # message. stale.user leaves right before command 3 and a newcomer takes id 2 at once:
    # the host-side check in command 3 finds the newcomer and sends nothing.
    leaves = DynamicRule(Trigger.LOGS_OFF_BEFORE_COMMAND, 3.0, user="stale.user")
    host = _host("rds-msg-race", dynamics=[leaves, REUSE_AT_ONCE])
    with lab([host], tmp_path) as (_, inventory):
        _apply(inventory, tmp_path, warn="1s")
        messages = host.state()["messages"]
    assert _logged_off_by_the_tool(host) == set()  # the guarded logoff holds
    assert [m for m in messages if m["user"] == "newcomer"] == []
    assert not [e for e in _audit(tmp_path) if e["event"] == "warned"]
