"""What the operator sees, through the real CLI and the lab: hostile names never reach a
screen, `show` prints a saved plan as `plan` did, CSV for every host (Excel too), -vv
shows every command's raw output, and `apply --format json` streams the audit's events."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path
from typing import Any

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.contract import NetworkBehaviour
from fleetlogoff.lab.host import SimHost
from tests.cliutil import run_cli

from .conftest import active, disconnected, lab, services_and_console, sim_host

STALE = ["--state", "disconnected", "--idle", ">= 2h"]
EVIL = "ev\x1b]0;pwned\x07il"  # OSC: would retitle the terminal
BIDI = "nna\u202eexe"  # RIGHT-TO-LEFT OVERRIDE
C1 = "c\x9b31m"  # C1 CSI


def hidden(text: str) -> list[str]:
    """Characters that act on a terminal instead of printing (newlines aside)."""
    return [
        c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")
    ]


def hostile_host() -> SimHost:
    return sim_host(
        "rds-evil",
        sessions=[
            *services_and_console(),
            disconnected(2, EVIL, idle_h=5),
            disconnected(3, BIDI, idle_h=5),
            active(4, C1, idle_min=3),
        ],
    )


def test_hostile_names_never_reach_the_screen(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    with lab([hostile_host()], tmp_path) as (_, inventory):
        runs = [
            run_cli(["plan", str(inventory), *STALE, "-o", str(plan_path)]),
            run_cli(["plan", str(inventory), *STALE, "--all", "--format", "json"]),
            run_cli(["plan", str(inventory), *STALE, "--format", "csv"]),
            run_cli(["sessions", str(inventory)]),
            run_cli(["sessions", str(inventory), "--format", "json", "-vv"]),
            run_cli(["show", str(plan_path), "-v"]),
            run_cli(
                [
                    "apply",
                    str(plan_path),
                    "--yes",
                    "--warn",
                    "0s",
                    "-v",
                    "--audit-log",
                    str(tmp_path / "audit.jsonl"),
                    "--format",
                    "json",
                ]
            ),
        ]
    for result in runs:
        assert not hidden(result.stdout + result.stderr), result.stdout + result.stderr
    table = runs[0].stdout
    assert "nna\\u202eexe" in table
    assert "ev\\x1b]0;pwned\\x07il" in runs[3].stdout and "c\\x9b31m" in runs[3].stdout
    # JSON stays exact: the escapes decode to the very names the hosts printed.
    names = {s["username"] for h in runs[1].json()["hosts"] for s in h["sessions"]}
    assert {EVIL, BIDI, C1} <= names
    # A name that does not print as itself is never read with confidence: protected.
    actions = {
        s["username"]: (s["action"], s["reason"])
        for h in runs[1].json()["hosts"]
        for s in h["sessions"]
    }
    assert actions[BIDI][0] == actions[EVIL][0] == "protected"
    assert "contains control or format characters (\\u202e)" in actions[BIDI][1]
    events = [json.loads(line) for line in runs[6].stdout.splitlines()]
    assert not [e for e in events if e["event"] in ("logoff_sent", "logged_off")]


def test_show_prints_a_saved_plan_as_plan_did(tmp_path: Path) -> None:
    hosts = [hostile_host(), sim_host("rds-down", network=NetworkBehaviour(down=True))]
    plan_path = tmp_path / "plan.json"
    with lab(hosts, tmp_path) as (_, inventory):
        made = run_cli(["plan", str(inventory), *STALE, "--timeout", "3s", "-out", str(plan_path)])
    assert made.status == ExitStatus.ERROR  # one host was not read
    shown = run_cli(["show", str(plan_path)])
    assert shown.status == ExitStatus.ERROR
    assert shown.stdout.splitlines() == made.stdout.splitlines()[:-1]  # all but "Plan saved"
    assert any(
        line.split()[:2] == ["rds-down", "unreachable"] for line in shown.stdout.splitlines()
    )
    as_json = run_cli(["show", str(plan_path), "--format", "json"]).json()
    assert as_json == json.loads(plan_path.read_text(encoding="utf-8"))
    missing = run_cli(["show", str(tmp_path / "nope.json")])
    assert missing.status == ExitStatus.USAGE and len(missing.stderr.splitlines()) == 1
    (tmp_path / "not-a-plan.json").write_text('{"format_version": 2}', encoding="utf-8")
    invalid = run_cli(["show", str(tmp_path / "not-a-plan.json")])
    assert invalid.status == ExitStatus.USAGE and len(invalid.stderr.splitlines()) == 1


def test_csv_has_a_row_for_every_host_and_opens_in_excel(tmp_path: Path) -> None:
    hosts = [
        sim_host("rds-a", sessions=[*services_and_console(), disconnected(2, "=cmd|x", idle_h=5)]),
        sim_host("rds-down", network=NetworkBehaviour(down=True)),
    ]
    with lab(hosts, tmp_path) as (_, inventory):
        plan_csv = run_cli(["plan", str(inventory), *STALE, "--timeout", "3s", "--format", "csv"])
        excel = run_cli(["sessions", str(inventory), "--timeout", "3s", "--format", "csv", "--bom"])
    rows = list(csv.DictReader(io.StringIO(plan_csv.stdout)))
    down = [r for r in rows if r["host"] == "rds-down"]
    assert len(down) == 1 and down[0]["host_status"] == "unreachable" and down[0]["host_error"]
    target = next(r for r in rows if r["action"] == "target")
    assert target["username"] == "=cmd|x" and target["rule"] == "command-line"
    assert target["logon_text"] and target["host_status"] == "ok"
    assert excel.stdout.startswith("\ufeffhost,id,")
    assert ",'=cmd|x," in excel.stdout  # Excel shows it as text, never runs it
    assert "rds-down" in excel.stdout


def test_vv_shows_every_command_and_its_raw_output(tmp_path: Path) -> None:
    host = sim_host("rds-a", sessions=[*services_and_console(), disconnected(2, "ann", idle_h=5)])
    with lab([host], tmp_path) as (_, inventory):
        quiet = run_cli(["sessions", str(inventory), "-v"])
        loud = run_cli(["sessions", str(inventory), "-vv"])
    assert "quser" not in quiet.stderr
    assert "rds-a: quser 2>&1 & echo" in loud.stderr and "-> exit" in loud.stderr
    assert "USERNAME" in loud.stderr and "ann" in loud.stderr  # the raw table, as printed


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_apply_json_streams_one_event_per_line_as_the_audit_records_them(tmp_path: Path) -> None:
    hosts = [
        sim_host(f"rds-{n}", sessions=[*services_and_console(), disconnected(2, "ann", idle_h=5)])
        for n in range(3)
    ]
    audit = tmp_path / "audit.jsonl"
    with lab(hosts, tmp_path) as (_, inventory):
        result = run_cli(
            [
                "apply",
                str(inventory),
                *STALE,
                "--yes",
                "--warn",
                "0s",
                "--format",
                "json",
                "--audit-log",
                str(audit),
            ]
        )
    assert result.status == ExitStatus.OK, result.stderr
    streamed = [json.loads(line) for line in result.stdout.splitlines()]
    assert streamed == _audit(audit)
    assert streamed[0]["event"] == "run_started" and streamed[-1]["event"] == "run_ended"
    assert [e["event"] for e in streamed].count("logged_off") == 3
    assert "RECAP" in result.stderr and "Sessions to log off" in result.stderr
