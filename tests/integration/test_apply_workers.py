"""apply in real worker processes against the lab (issue 11.3): the audit log, the report
and the lab's own records agree, and a stop signal that reaches a worker stops the run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.host import SimHost
from fleetlogoff.model import Host
from fleetlogoff.transport import CommandOutput, HostSession
from fleetlogoff.transport.connector import FleetConnector
from tests.cliutil import is_guarded_message, run_cli

from .conftest import active, disconnected, lab, services_and_console, sim_host

# Worker processes start from 50 hosts per process (executor/workers.py).
HOSTS = 100
STALE = ["--state", "disconnected", "--idle", ">= 2h"]


def _fleet() -> list[SimHost]:
    sessions = [
        *services_and_console(),
        disconnected(2, "stale.user", idle_h=5),
        disconnected(4, "old.user", idle_h=9),
        active(3, "busy.user", idle_min=2),
    ]
    return [sim_host(f"rds-{n:03d}", sessions=list(sessions)) for n in range(HOSTS)]


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _plan(inventory: Path, tmp_path: Path) -> Path:
    plan = tmp_path / "plan.json"
    made = run_cli(["plan", str(inventory), *STALE, "-o", str(plan), "--processes", "1"])
    assert made.status == ExitStatus.OK, made.stderr
    return plan


def _apply_argv(plan: Path, tmp_path: Path, warn: str = "1s") -> list[str]:
    return [
        "apply", str(plan), "--warn", warn, "--yes", "--processes", "2", "-v",
        "--audit-log", str(tmp_path / "audit.jsonl"), "--report", str(tmp_path / "report.json"),
    ]  # fmt: skip


def test_worker_processes_log_off_every_target_and_the_parent_records_it(
    tmp_path: Path,
) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path) as (_, inventory):
        plan = _plan(inventory, tmp_path)
        result = run_cli(_apply_argv(plan, tmp_path))
        assert result.status == ExitStatus.OK, result.stderr[-2000:]
        assert "2 worker processes" in result.stderr
        for host in hosts:
            state = host.state()
            assert {(s["id"], s["user"]) for s in state["sessions"] if s["user"]} == {
                (3, "busy.user")
            }
            told = {m["session_id"]: m["time"] for m in state["messages"]}
            for logoff in state["logoffs"]:  # every user warned at least 1 s before
                assert logoff["time"] - told[logoff["session_id"]] >= 1.0
    events = _audit(tmp_path / "audit.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_ended"
    assert kinds.count("warned") == kinds.count("logged_off") == 2 * HOSTS
    # Each logoff's record is on disk before the logoff (and so before its outcome).
    sent = {
        (e["host"], e["session_id"]): n for n, e in enumerate(events) if e["event"] == "logoff_sent"
    }
    done = {
        (e["host"], e["session_id"]): n for n, e in enumerate(events) if e["event"] == "logged_off"
    }
    assert sent.keys() == done.keys() and all(sent[k] < done[k] for k in done)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["logged_off"] == 2 * HOSTS and report["exit_code"] == 0


class SignalOnFirstWarning:
    """A connector that, in a worker process, sends that process SIGTERM just before its
    first msg: a stop request that reaches a worker rather than the parent."""

    def __init__(self) -> None:
        self._inner = FleetConnector()

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        return _Signalling(self._inner.open(host, deadline_s=deadline_s))


class _Signalling:
    sent = False  # once per process

    def __init__(self, session: HostSession) -> None:
        self._session = session

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        if is_guarded_message(command_line, stdin) and not _Signalling.sent and _in_a_worker():
            _Signalling.sent = True
            os.kill(os.getpid(), signal.SIGTERM)
        return self._session.run(command_line, stdin=stdin, timeout=timeout)

    def close(self) -> None:
        self._session.close()


def _in_a_worker() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


def test_a_stop_signal_to_a_worker_stops_the_run_and_the_warned_are_told(
    tmp_path: Path,
) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path) as (_, inventory):
        plan = _plan(inventory, tmp_path)
        argv = _apply_argv(plan, tmp_path, warn="5m")
        result = run_cli(argv, connector=SignalOnFirstWarning())
        assert result.status == ExitStatus.INTERRUPTED, result.stderr[-2000:]
        warned: set[tuple[str, int]] = set()
        for host in hosts:
            state = host.state()
            assert state["logoffs"] == []  # nobody logged off
            texts = [(m["session_id"], m["text"]) for m in state["messages"]]
            warnings = {sid for sid, text in texts if "cancelled" not in text}
            cancels = {sid for sid, text in texts if "cancelled" in text}
            assert cancels == warnings  # every warned user is told, and nobody else
            warned |= {(host.name, sid) for sid in warnings}
    assert 0 < len(warned) < 2 * HOSTS  # the stop came during the warnings
    events = _audit(tmp_path / "audit.jsonl")
    interrupted = [e for e in events if e["event"] == "interrupted"]
    assert [e["reason"] for e in interrupted] == ["during the warnings: nothing logged off"]
    assert not [e for e in events if e["event"] == "logoff_sent"]
