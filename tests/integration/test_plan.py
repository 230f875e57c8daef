"""plan and sessions against the lab, through real pypsrp (NTLM + encryption)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.contract import NetworkBehaviour
from fleetlogoff.lab.host import SimHost
from fleetlogoff.plan_file import read_plan
from tests.cliutil import run_cli

from .conftest import active, disconnected, lab, services_and_console, sim_host

LOCALES = ("en-US", "de-DE", "fr-FR", "ru-RU", "zh-CN", "ja-JP")
STALE = ["--state", "disconnected", "--idle", ">= 2h"]


def _host(name: str, locale: str) -> SimHost:
    sessions = [
        *services_and_console(),
        disconnected(2, "stale.user", idle_h=5),
        active(3, "busy.user", idle_min=2),
        disconnected(4, "Administrator", idle_h=9),
        disconnected(5, "fresh.user", idle_h=0.5),
    ]
    return sim_host(name, locale=locale, sessions=sessions)


def test_plan_selects_the_same_sessions_in_every_locale(tmp_path: Path) -> None:
    hosts = [_host(f"rds-{locale.lower()}", locale) for locale in LOCALES]
    with lab(hosts, tmp_path) as (_, inventory):
        plan_path = tmp_path / "plan.json"
        result = run_cli(["plan", str(inventory), *STALE, "-o", str(plan_path), "--format", "json"])
    assert result.status == ExitStatus.OK, result.stderr
    document = result.json()
    assert document["summary"]["targets"] == len(LOCALES)
    for host in document["hosts"]:
        assert host["status"] == "ok", host
        assert [(t["id"], t["username"]) for t in host["targets"]] == [(2, "stale.user")]
        assert "rule command-line" in host["targets"][0]["reason"]
        actions = {s["username"]: s["action"] for s in host["sessions"]}
        assert actions["Administrator"] == "protected"
        assert actions["busy.user"] == "keep"
        assert actions["fresh.user"] == "keep"
    saved = read_plan(str(plan_path))
    assert saved.target_count == len(LOCALES)


def test_unreachable_hosts_are_reported_and_do_not_stop_the_run(tmp_path: Path) -> None:
    good = _host("rds-good", "en-US")
    down = sim_host("rds-down", network=NetworkBehaviour(down=True))
    hole = sim_host("rds-hole", network=NetworkBehaviour(black_hole=True))
    denied = sim_host("rds-denied", network=NetworkBehaviour(auth_fails=True))
    with lab([good, down, hole, denied], tmp_path) as (_, inventory):
        result = run_cli(["plan", str(inventory), *STALE, "--timeout", "3s", "--format", "json"])
    assert result.status == ExitStatus.ERROR
    status = {h["name"]: h["status"] for h in result.json()["hosts"]}
    assert status == {
        "rds-good": "ok",
        "rds-down": "unreachable",
        "rds-hole": "unreachable",
        "rds-denied": "auth_failed",
    }
    password_free = result.stdout + result.stderr
    assert "ansible_password" not in password_free


def test_slow_and_lossy_links_still_give_a_plan(tmp_path: Path) -> None:
    slow = sim_host(
        "rds-slow",
        sessions=[*services_and_console(), disconnected(2, "stale.user", idle_h=5)],
        network=NetworkBehaviour(latency_s=0.2),
    )
    with lab([slow], tmp_path) as (_, inventory):
        result = run_cli(
            ["plan", str(inventory), *STALE, "--detailed-exitcode", "--format", "json"]
        )
    assert result.status == ExitStatus.CHANGES, result.stderr
    assert result.json()["summary"]["targets"] == 1


def test_sessions_lists_the_fleet_as_csv(tmp_path: Path) -> None:
    hosts = [_host("rds-a", "de-DE"), _host("rds-b", "zh-CN")]
    with lab(hosts, tmp_path) as (_, inventory):
        result = run_cli(["sessions", str(inventory), "--format", "csv"])
    assert result.status == ExitStatus.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "host,id,username,session_name,state,idle_seconds,logon_time,"
        "logon_text,idle_text,doubts,host_status,host_error"
    )
    assert len(lines) == 1 + 2 * 4
    assert any(line.startswith("rds-b,3,busy.user,rdp-tcp#13,active,") for line in lines)


def test_a_large_fleet_is_read_by_several_processes(tmp_path: Path) -> None:
    hosts = [_host(f"rds-{i:03d}", LOCALES[i % len(LOCALES)]) for i in range(100)]
    with lab(hosts, tmp_path) as (_, inventory):
        result = run_cli(
            [
                "plan",
                str(inventory),
                *STALE,
                "--processes",
                "2",
                "--forks",
                "20",
                "--format",
                "json",
            ]
        )
    assert result.status == ExitStatus.OK, result.stderr
    document = result.json()
    assert [h["name"] for h in document["hosts"]] == [h.name for h in hosts]
    assert document["summary"]["targets"] == 100


def test_pypsrps_own_transport_still_serves_negotiate(tmp_path: Path) -> None:
    """transport negotiate (SPNEGO) goes through pypsrp's requests-based transport."""
    import yaml

    with lab([_host("rds-spnego", "en-US")], tmp_path) as (_, inventory):
        data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        data["all"]["vars"] = {"ansible_winrm_transport": "negotiate"}
        for host in data["all"]["children"]["rds"]["hosts"].values():
            host.pop("ansible_winrm_transport")
        inventory.write_text(yaml.safe_dump(data), encoding="utf-8")
        result = run_cli(["plan", str(inventory), *STALE, "--format", "json"])
    assert result.status == ExitStatus.OK, result.stderr
    assert result.json()["summary"]["targets"] == 1


def test_credentials_from_the_environment_or_the_prompt_never_printed(tmp_path: Path) -> None:
    import yaml

    from fleetlogoff.lab.host import LAB_ADMIN

    with lab([_host("rds-creds", "en-US")], tmp_path) as (_, inventory):
        data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        for host in data["all"]["children"]["rds"]["hosts"].values():
            del host["ansible_user"], host["ansible_password"]
        inventory.write_text(yaml.safe_dump(data), encoding="utf-8")
        from_env = run_cli(
            ["plan", str(inventory), *STALE, "--format", "json"],
            environ={
                "FLEETLOGOFF_USERNAME": LAB_ADMIN.username,
                "FLEETLOGOFF_PASSWORD": LAB_ADMIN.password,
            },
        )
        asked = run_cli(
            [
                "plan",
                str(inventory),
                *STALE,
                "--ask-pass",
                "--format",
                "json",
                "-o",
                str(tmp_path / "plan.json"),
            ],
            environ={"FLEETLOGOFF_USERNAME": LAB_ADMIN.username},
            password=LAB_ADMIN.password,
        )
        wrong = run_cli(
            ["plan", str(inventory), *STALE, "--ask-pass"],
            environ={"FLEETLOGOFF_USERNAME": LAB_ADMIN.username},
            password="not-the-password",
        )
    assert from_env.status == ExitStatus.OK, from_env.stderr
    assert asked.status == ExitStatus.OK, asked.stderr
    assert wrong.status == ExitStatus.ERROR and "auth_failed" in wrong.stdout
    everything = from_env.stdout + asked.stdout + wrong.stdout + wrong.stderr
    everything += (tmp_path / "plan.json").read_text(encoding="utf-8")
    assert LAB_ADMIN.password not in everything and "not-the-password" not in everything


def test_a_wrong_password_stops_after_three_hosts_even_across_worker_processes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 9: one wrong password on a whole fleet must not lock the account out."""
    hosts = [SimHost(f"rds-{n:03}", network=NetworkBehaviour(auth_fails=True)) for n in range(100)]
    with lab(hosts, tmp_path) as (_, inventory):
        result = run_cli(["plan", str(inventory), *STALE, "--processes", "2", "--format", "json"])
    assert result.status == ExitStatus.ERROR
    errors = [(h["status"], h.get("error")) for h in result.json()["hosts"]]
    rejected = [e for e in errors if e[0] == "auth_failed"]
    assert len(rejected) == 3, rejected
    assert set(errors) - set(rejected) == {
        (
            "error",
            "not started: 3 authentication failures as Administrator (account lockout protection)",
        )
    }
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and said[0].startswith("stopped starting hosts that log on as Admin")


def test_the_auth_failure_limit_takes_a_whole_number(tmp_path: Path) -> None:
    result = run_cli(["plan", str(tmp_path / "none.yml"), "--auth-failure-limit", "-1"])
    assert result.status == ExitStatus.USAGE
    assert "--auth-failure-limit: must be 0 or more, got -1" in result.stderr


def test_json_on_stdout_is_the_plan_files_text_with_screen_escapes(tmp_path: Path) -> None:
    """One canonical text (sorted keys) for the file and stdout; stdout only escapes what
    would act on a terminal (a bidi override here), the file keeps the characters."""
    sessions = [
        *services_and_console(),
        disconnected(2, "jürgen\u202etxt", idle_h=5),
        disconnected(3, "王伟", idle_h=6),
    ]
    with lab([sim_host("rds-json", sessions=sessions)], tmp_path) as (_, inventory):
        plan_path = tmp_path / "plan.json"
        result = run_cli(["plan", str(inventory), *STALE, "-o", str(plan_path), "--format", "json"])
    assert result.status == ExitStatus.OK, result.stderr
    saved = plan_path.read_text(encoding="utf-8")
    assert "\u202e" in saved and "\u202e" not in result.stdout and "王伟" in result.stdout
    assert result.stdout == saved.replace("\u202e", "\\u202e")
    assert result.json() == json.loads(saved)
    document = result.json()
    assert list(document) == sorted(document)
    assert list(document["hosts"][0]) == sorted(document["hosts"][0])
