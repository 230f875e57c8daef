"""Issue 7's "Done when", end to end on a bad day, every fault at once, on both WinRM
client stacks (the lean transport and pypsrp's), through the real command line in its own
processes:

1. `plan --timeout 5s` of a healthy fleet with one host that answers a byte at a time:
   the trickling host costs its own deadline, the healthy hosts are planned and saved.
2. Then the fleet goes bad: 5% connection resets and 150 ms latency on every host, a
   freed session id taken by a newcomer at once, users who leave by themselves mid-run,
   a user who comes back when warned.
3. `apply` of the plan starts; a second `apply` of the same plan refuses at once.
4. The first is stopped as its first logoff goes out: SIGTERM, SIGHUP (a dropped SSH
   session) or kill -9.

Proved from the lab's own records: every logoff the lab saw was planned, announced by a
`logoff_sent` line before it, and followed a warning delivered to that very session at
least --warn before; nobody outside the plan (no newcomer) was logged off or warned;
each target has at most one
outcome; on SIGTERM/SIGHUP the run ends 130 with its end
record, and every warned user still in the planned session whose logoff was never sent
was told it is cancelled (or the audit says the notice could not be delivered).

Nothing here is timed: the test follows apply's own event stream (--format json, a line
per event, flushed as it happens).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.contract import NetworkBehaviour
from fleetlogoff.lab.dynamics import DynamicRule, Trigger
from fleetlogoff.lab.host import SimHost
from tests.cliutil import run_cli
from tests.hostile import Act, Fault, HostileProxy

from .conftest import active, disconnected, lab, services_and_console, sim_host
from .promises import assert_logoffs_kept_promises

WARN_S = 2
OUTCOMES = {"logged_off", "stuck", "failed", "spared", "skipped", "not_warned", "not_attempted"}
NEWCOMER = "newcomer"
PATIENCE_S = 120  # only a broken run gets near this: it stops a hang, never times a step
BAD_DAY = NetworkBehaviour(reset_rate=0.05, latency_s=0.15)


def _fleet() -> list[SimHost]:
    hosts = []
    for n in range(6):
        dynamics = [DynamicRule(Trigger.REUSE_FREED_ID, 0.0, user=NEWCOMER)]
        if n % 3 == 0:  # leaves by themselves, at various points of the run
            dynamics.append(DynamicRule(Trigger.LOGS_OFF, 5.0 + n, user=f"u{n}b"))
        if n == 1:  # touches the keyboard when warned: spared, and told
            dynamics.append(DynamicRule(Trigger.ACTIVE_AFTER_MESSAGE, 0.0, user="u1a"))
        sessions = [
            *services_and_console(),
            disconnected(2, f"u{n}a", idle_h=5),
            disconnected(3, f"u{n}b", idle_h=6),
            active(5, f"busy{n}", idle_min=2),
        ]
        hosts.append(sim_host(f"rds-b{n}", sessions=sessions, dynamics=dynamics))
    return hosts


def _child(argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
    environ = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "fleetlogoff", *argv], env=environ, text=True, **kwargs
    )


def _add_trickling_host(inventory: Path, port: int, transport: dict[str, str]) -> None:
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    hosts = data["all"]["children"]["rds"]["hosts"]
    model = next(iter(hosts.values()))
    hosts["rds-trickle"] = {**model, "ansible_host": "127.0.0.1", "ansible_port": port}
    data["all"]["vars"] = transport
    inventory.write_text(yaml.safe_dump(data), encoding="utf-8")


def _events_until(child: subprocess.Popen[str], kind: str) -> list[dict[str, Any]]:
    """apply's --format json stream, read up to (and with) the first `kind`."""
    assert child.stdout is not None
    seen = []
    for line in child.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == kind:
            return seen
    raise AssertionError(f"apply ended (code {child.wait()}) before {kind}: {seen[-3:]}")


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _key(event: dict[str, Any]) -> tuple[str, int, str]:
    return (event["host"], event["session_id"], event["username"])


def _check_every_logoff(
    hosts: list[SimHost], records: list[dict[str, Any]], planned: set[tuple[str, int, str]]
) -> None:
    """Planned, announced before, and warned --warn before, or it did not happen."""
    announced = {_key(e) for e in records if e["event"] == "logoff_sent"}
    for host in hosts:
        assert_logoffs_kept_promises(host, planned, announced, WARN_S)
        state = host.state()
        # Never a newcomer logged off, nor told they will be (the guarded message).
        assert all(lo["user"] != NEWCOMER for lo in state["logoffs"]), host.name
        assert all(m["user"] != NEWCOMER for m in state["messages"]), host.name


def _check_cancel_notices(hosts: list[SimHost], records: list[dict[str, Any]]) -> None:
    """Every warned user still in the planned session, whose logoff was never sent, was
    told it is cancelled, or the audit says the notice could not be delivered."""
    warned = {_key(e) for e in records if e["event"] == "warned"}
    sent = {_key(e) for e in records if e["event"] == "logoff_sent"}
    undelivered = {
        _key(e)
        for e in records
        if e["event"] == "cancel_notice" and e["reason"].startswith("not delivered")
    }
    by_name = {h.name: h for h in hosts}
    for name, session_id, user in warned - sent - undelivered:
        host = by_name[name]
        still_there = any((s.id, s.user) == (session_id, user) for s in host.sessions())
        told = [
            m
            for m in host.state()["messages"]
            if (m["session_id"], m["user"]) == (session_id, user) and "cancelled" in m["text"]
        ]
        assert told or not still_there, f"{(name, session_id, user)} warned, never told"


@pytest.mark.parametrize(
    ("transport", "stop"),
    [
        ("lean", signal.SIGTERM),
        ("lean", signal.SIGKILL),
        ("pypsrp", signal.SIGHUP),
        ("pypsrp", signal.SIGKILL),
    ],
    ids=["lean-SIGTERM", "lean-kill-9", "pypsrp-SIGHUP", "pypsrp-kill-9"],
)
def test_a_bad_day_keeps_every_promise(
    tmp_path: Path, transport: str, stop: signal.Signals
) -> None:
    hosts = _fleet()
    plan, audit = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    settings = {"fleetlogoff_http_transport": transport}
    with lab(hosts, tmp_path) as (fleet, inventory):
        upstream = (fleet.endpoints[0].address, fleet.endpoints[0].http_port)
        with HostileProxy(upstream, Fault(Act.TRICKLE, 0, interval_s=0.5)) as proxy:
            _add_trickling_host(inventory, proxy.port, settings)
            planning = _child(
                ["plan", str(inventory), "--state", "disc", "--timeout", "5s"]
                + ["-o", str(plan), "--format", "json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            made, made_err = planning.communicate(timeout=PATIENCE_S)
        statuses = {h["name"]: (h["status"], h["error"]) for h in json.loads(made)["hosts"]}
        planned = {
            (h["name"], s["id"], s["username"])
            for h in json.loads(plan.read_text(encoding="utf-8"))["hosts"]
            for s in h["sessions"]
            if s["action"] == "target"
        }
        for host in hosts:
            host.set_network(BAD_DAY)
        applying = _child(
            ["apply", str(plan), "--yes", "--warn", f"{WARN_S}s", "--quiet", "--format", "json"]
            + ["--audit-log", str(audit)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            _events_until(applying, "run_started")
            second = run_cli(
                ["apply", str(plan), "--yes", "--audit-log", str(tmp_path / "second.jsonl")]
            )
            _events_until(applying, "logoff_sent")
            applying.send_signal(stop)
            _, stderr = applying.communicate(timeout=PATIENCE_S)
        finally:
            if applying.poll() is None:
                applying.kill()
                applying.wait()
        records = _audit(audit)
        _check_every_logoff(hosts, records, planned)
        if stop != signal.SIGKILL:
            _check_cancel_notices(hosts, records)
    # 1. The trickling host cost its deadline; every healthy host was planned and saved.
    assert planning.returncode == ExitStatus.ERROR, made_err
    assert statuses.pop("rds-trickle")[0] != "ok"
    assert set(statuses.values()) == {("ok", None)}, statuses
    assert {name for name, _, _ in planned} == {h.name for h in hosts}
    assert "Traceback" not in made_err
    # 3. The second apply of the plan refused at once and did nothing.
    assert second.status == ExitStatus.REFUSED, second.stderr
    assert f"is in use by pid {applying.pid}" in second.stderr
    assert not (tmp_path / "second.jsonl").exists()
    # 4. Each target has one outcome at most; a stopped run ends as one.
    outcomes = [(e["host"], e["session_id"]) for e in records if e["event"] in OUTCOMES]
    assert len(outcomes) == len(set(outcomes)), "a target with two outcomes"
    if stop == signal.SIGKILL:
        assert applying.returncode == -signal.SIGKILL
    else:
        assert applying.returncode == ExitStatus.INTERRUPTED, stderr
        assert records[-1]["event"] == "run_ended" and records[-1]["exit_code"] == 130
        assert "Traceback" not in stderr
