"""kill -9 in the middle of apply: the audit log still tells the truth about what was done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from fleetlogoff.lab.commands import LogoffBehaviour

from .conftest import disconnected, lab, services_and_console, sim_host


def _events(path: Path, kind: str) -> set[tuple[str, int, str]]:
    if not path.exists():
        return set()
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)  # every line whole: written with one write() and fsynced
        if record["event"] == kind:
            found.add((record["host"], record["session_id"], record["username"]))
    return found


def test_audit_after_kill_9_matches_the_lab(tmp_path: Path) -> None:
    hosts = [
        sim_host(
            f"rds-k{i}",
            sessions=[
                *services_and_console(),
                disconnected(2, f"user{i}a", idle_h=5),
                disconnected(3, f"user{i}b", idle_h=6),
            ],
            logoff=LogoffBehaviour(delay_s=0.3),
        )
        for i in range(6)
    ]
    audit = tmp_path / "audit.jsonl"
    with lab(hosts, tmp_path) as (_, inventory):
        command = [
            sys.executable,
            "-m",
            "fleetlogoff",
            "apply",
            str(inventory),
            "--yes",
            "--warn",
            "0",
            "--state",
            "disc",
            "--forks",
            "1",
            "--quiet",
            "--audit-log",
            str(audit),
            "--format",
            "json",
        ]
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
            text=True,
        )
        # apply streams its events on stdout, one line each, flushed as they happen: kill
        # it as the first logoff is confirmed (no polling, no sleep).
        assert child.stdout is not None
        for line in child.stdout:
            if json.loads(line)["event"] == "logged_off":
                break
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        done = {
            (host.name, logoff["session_id"], logoff["user"])
            for host in hosts
            for logoff in host.state()["logoffs"]
        }
    claimed = _events(audit, "logged_off")
    announced = _events(audit, "logoff_sent")
    assert claimed, "apply was killed before it logged anybody off"
    assert claimed <= done, "the audit claims a logoff the lab never saw"
    assert done <= announced, "the lab saw a logoff the audit never announced"
