"""Records you can trust, with a real apply in its own process: a full audit disk stops the
run, a bad --report path stops it before anything is done, SIGHUP and SIGTERM behave like
Ctrl-C, and Ctrl-C at the y/N prompt cancels."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fleetlogoff.app.apply import ApplyOptions, StopRequest, run_apply
from fleetlogoff.app.fleet import FleetOptions, SelectOptions
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.lab.host import SimHost
from fleetlogoff.transport.winrm import WinRMConnector
from tests.cliutil import CLOCK, run_cli

from .conftest import disconnected, lab, services_and_console, sim_host

STALE = ["--state", "disc", "--idle", ">= 2h"]
# A generous bound for a child process to reach a point it always reaches; never a timing
# assumption (the tests wait for the condition, this only stops a broken run hanging CI).
PATIENCE_S = 60


def _hosts(count: int) -> list[SimHost]:
    return [
        sim_host(
            f"rds-r{i}",
            sessions=[
                *services_and_console(),
                disconnected(2, f"user{i}a", idle_h=5),
                disconnected(3, f"user{i}b", idle_h=6),
            ],
        )
        for i in range(count)
    ]


def _child(
    argv: list[str],
    fsize: int | None = None,
    colour: bool = False,
    **kwargs: Any,
) -> subprocess.Popen[str]:
    """`python -m fleetlogoff ARGV` in its own process (RLIMIT_FSIZE: a disk that is full
    past `fsize` bytes per file, without mounting anything; `colour`: the live display on
    a terminal, else NO_COLOR)."""
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if not colour:
        environ["NO_COLOR"] = "1"
    limit = (
        "" if fsize is None else f"resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize}));"
    )
    code = f"import resource, sys; {limit} from fleetlogoff.__main__ import run; run()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        env=environ,
        text=True,
        **kwargs,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _read_events_until(child: subprocess.Popen[str], kind: str) -> None:
    """Read apply's --format json stream (a line per event, flushed as it happens) up to
    the first `kind`: the child itself says when it got there, no polling, no sleep."""
    assert child.stdout is not None
    for line in child.stdout:
        if json.loads(line)["event"] == kind:
            return
    raise AssertionError(f"apply ended before {kind}: {child.wait()}")


def test_a_full_audit_disk_stops_the_run(tmp_path: Path) -> None:
    hosts = _hosts(3)
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"earlier": "runs"}\n' * 100, encoding="utf-8")
    room = audit.stat().st_size + 1800  # run_started and a few more lines, then full
    with lab(hosts, tmp_path) as (_, inventory):
        argv = ["apply", str(inventory), *STALE, "--yes", "--warn", "0", "--forks", "1"]
        child = _child([*argv, "--audit-log", str(audit)], fsize=room, stderr=subprocess.PIPE)
        _, stderr = child.communicate(timeout=PATIENCE_S)
        done = {(h.name, lo["session_id"]) for h in hosts for lo in h.state()["logoffs"]}
    records = _lines(audit)[100:]  # every line whole: the partial one was taken back
    announced = {(r["host"], r["session_id"]) for r in records if r["event"] == "logoff_sent"}
    assert child.returncode == ExitStatus.ERROR
    assert "audit log" in stderr and "nothing more was acted on" in stderr, stderr
    assert "Traceback" not in stderr
    assert done <= announced, "a logoff ran without its logoff_sent line"
    assert 0 < len(done) < 6, "the run went on after the audit log was full"
    assert records[0]["event"] == "run_started"


def test_a_report_that_cannot_be_written_stops_the_run_before_anything(tmp_path: Path) -> None:
    hosts = _hosts(1)
    with lab(hosts, tmp_path) as (_, inventory):
        for report in (tmp_path / "missing" / "r.json", tmp_path):
            result = run_cli(
                [
                    "apply",
                    str(inventory),
                    *STALE,
                    "--yes",
                    "--warn",
                    "0",
                    "--report",
                    str(report),
                    "--audit-log",
                    str(tmp_path / "audit.jsonl"),
                ]
            )
            assert result.status == ExitStatus.USAGE, result.stderr
            assert str(report) in result.stderr and len(result.stderr.splitlines()) == 1
        state = hosts[0].state()
    assert state["messages"] == [] and state["logoffs"] == []
    assert not (tmp_path / "audit.jsonl").exists()


def test_plan_output_refuses_special_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        result = run_cli(["plan", str(tmp_path / "no-inventory.yml"), "-o", str(target)])
        assert result.status == ExitStatus.USAGE
        assert len(result.stderr.splitlines()) == 1 and str(target) in result.stderr


@pytest.mark.parametrize("number", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_the_wait_cancels_cleanly(tmp_path: Path, number: int) -> None:
    hosts = _hosts(2)
    audit = tmp_path / "audit.jsonl"
    report = tmp_path / "report.json"
    with lab(hosts, tmp_path) as (_, inventory):
        argv = ["apply", str(inventory), *STALE, "--yes", "--warn", "10m", "--quiet"]
        child = _child(
            [*argv, "--audit-log", str(audit), "--report", str(report), "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _read_events_until(child, "wait_started")
        child.send_signal(number)
        _, stderr = child.communicate(timeout=PATIENCE_S)
        states = [h.state() for h in hosts]
    assert child.returncode == ExitStatus.INTERRUPTED, stderr
    assert all(s["logoffs"] == [] for s in states)
    for state in states:
        texts = [m["text"] for m in state["messages"]]
        assert len(texts) == 4 and all("cancelled" in t for t in texts[2:])
    records = _lines(audit)
    assert records[-1]["event"] == "run_ended" and records[-1]["exit_code"] == 130
    assert json.loads(report.read_text())["exit_code"] == 130


def test_ctrl_c_at_the_prompt_cancels(tmp_path: Path) -> None:
    """A real terminal (a pty): the prompt is shown, Ctrl-C ends the run at once."""
    hosts = _hosts(1)
    with lab(hosts, tmp_path) as (_, inventory):
        main_end, child_end = pty.openpty()
        argv = ["apply", str(inventory), *STALE, "--audit-log", str(tmp_path / "a.jsonl")]
        child = _child(argv, stdin=child_end, stdout=child_end, stderr=subprocess.PIPE)
        os.close(child_end)
        shown = _read_until(main_end, "[y/N]", child)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=PATIENCE_S)
        os.close(main_end)
        state = hosts[0].state()
    assert "will read:" in shown and "Please save your work now" in shown
    assert child.returncode == ExitStatus.INTERRUPTED, stderr
    assert "cancelled" in stderr and "Traceback" not in stderr
    assert state["messages"] == [] and state["logoffs"] == []


def _read_until(fd: int, needle: str, child: subprocess.Popen[str]) -> str:
    seen = b""
    deadline = time.monotonic() + PATIENCE_S
    while needle.encode() not in seen:
        assert child.poll() is None and time.monotonic() < deadline, seen.decode()
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            seen += os.read(fd, 4096)
    return seen.decode("utf-8", errors="replace")


class InterruptedStdin(io.StringIO):
    """A terminal's stdin where the user presses Ctrl-C instead of answering."""

    def __init__(self, request: StopRequest) -> None:
        super().__init__()
        self._request = request

    def readline(self, size: int = -1, /) -> str:  # type: ignore[override]  # as typeshed's StringIO
        self._request()  # what the SIGINT handler does
        return "y\n"


def test_a_stop_at_the_prompt_in_process(tmp_path: Path) -> None:
    hosts = _hosts(1)
    request = StopRequest()
    err = io.StringIO()
    with lab(hosts, tmp_path) as (_, inventory):
        env = Environment(
            stdin=InterruptedStdin(request),
            stdout=io.StringIO(),
            stderr=err,
            stdin_isatty=True,
            stdout_isatty=False,
            environ={},
            clock=CLOCK.now,
        )
        options = ApplyOptions(
            source=str(inventory),
            fleet=FleetOptions(inventory=str(inventory), quiet=True),
            select=SelectOptions(states=("disc",)),
            audit_log=str(tmp_path / "a.jsonl"),
        )
        status = run_apply(options, env, WinRMConnector(), request)
        state = hosts[0].state()
    assert status == ExitStatus.INTERRUPTED
    assert "cancelled: at the prompt" in err.getvalue()
    assert state["messages"] == [] and state["logoffs"] == []


def test_the_report_and_the_audit_log_tell_the_same_run(tmp_path: Path) -> None:
    hosts = _hosts(2)
    audit, report = tmp_path / "audit.jsonl", tmp_path / "report.json"
    with lab(hosts, tmp_path) as (_, inventory):
        result = run_cli(
            [
                "apply",
                str(inventory),
                *STALE,
                "--yes",
                "--warn",
                "1s",
                "--audit-log",
                str(audit),
                "--report",
                str(report),
            ]
        )
    assert result.status == ExitStatus.OK, result.stderr
    lines = _lines(audit)
    document = json.loads(report.read_text(encoding="utf-8"))
    started, ended = lines[0], lines[-1]
    assert {line["run"] for line in lines} == {document["run"]}
    assert (started["event"], ended["event"]) == ("run_started", "run_ended")
    assert document["started"] == started["time"] and document["ended"] == ended["time"]
    assert document["plan_digest"] == started["plan_digest"]
    assert document["exit_code"] == ended["exit_code"] == 0
    assert document["totals"] == ended["totals"]
    assert document["totals"]["logged_off"] == 4 and document["totals"]["warned"] == 4
    outcomes = [line for line in lines if line["event"] == "logged_off"]
    assert len(outcomes) == 4
    assert [e["reason"] for e in document["events"] if e["event"] == "phase_started"] == [
        "warning",
        "waiting",
        "logging_off",
        "confirming",
    ]


@pytest.mark.parametrize("live", [False, True], ids=["plain", "live-display"])
def test_a_dropped_ssh_session_still_tells_the_users(tmp_path: Path, live: bool) -> None:
    """The terminal goes away (its other end closed), then SIGHUP arrives, as when an SSH
    session drops: the screen is gone, but the users are told and the record ends."""
    hosts = _hosts(2)
    audit = tmp_path / "audit.jsonl"
    with lab(hosts, tmp_path) as (_, inventory):
        main_end, child_end = pty.openpty()
        argv = [
            "apply",
            str(inventory),
            *STALE,
            "--yes",
            "--warn",
            "10m",
            "--audit-log",
            str(audit),
        ]
        child = _child(argv, colour=live, stdin=child_end, stdout=child_end, stderr=child_end)
        os.close(child_end)
        _read_until(main_end, "Logoff in", child)  # the live display's countdown: waiting
        os.close(main_end)  # the terminal is gone: writes to it fail from now on
        child.send_signal(signal.SIGHUP)
        child.wait(timeout=PATIENCE_S)
        states = [h.state() for h in hosts]
    assert child.returncode == ExitStatus.INTERRUPTED
    for state in states:
        assert state["logoffs"] == []
        assert sum("cancelled" in m["text"] for m in state["messages"]) == 2
    records = _lines(audit)
    assert records[-1]["event"] == "run_ended" and records[-1]["exit_code"] == 130
