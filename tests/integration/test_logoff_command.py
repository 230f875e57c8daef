"""`fleetlogoff logoff` against a lab fleet, through the real CLI and pypsrp: exactly the
named session is logged off, Windows' refusals are Windows' words, nothing else moves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.commands import LogoffBehaviour
from fleetlogoff.lab.host import LAB_ADMIN, SimHost
from fleetlogoff.lab.locales import SessionState
from fleetlogoff.lab.sessions import Session
from tests.cliutil import CLOCK, Result, run_cli

from .conftest import active, disconnected, lab, sim_host


def _console(user: str) -> list[Session]:
    now = CLOCK.epoch()
    return [
        Session(0, "Services", "", SessionState.DISCONNECTED),
        Session(1, "Console", user, SessionState.ACTIVE, now - 3600, now - 60),
        Session(65536, "RDP-Tcp", "", SessionState.LISTEN),
    ]


# The lab's en-US hosts print M/D/YYYY; today's logons are ambiguous on the 1st-12th.
MDY = {"fleetlogoff_date_order": "mdy"}


def _fleet(**rds2: Any) -> list[SimHost]:
    now = CLOCK.epoch()
    named = Session(5, "RDP-Tcp#3", "bob", SessionState.ACTIVE, now - 7200, now - 30)
    return [
        sim_host(
            "rds-0001",
            sessions=[*_console("console.user"), disconnected(3, "alice", 5), named],
        ),
        sim_host(
            "rds-0002",
            sessions=[*_console(""), active(2, "alice", 1), active(3, "carol", 9)],
            **rds2,
        ),
        # zh-CN prints year first (yyyy/M/d): unambiguous without an inventory's date order.
        sim_host("rds-0003", locale="zh-CN", sessions=[*_console(""), disconnected(3, "dave", 7)]),
    ]


def _users(hosts: list[SimHost]) -> dict[str, set[tuple[int, str]]]:
    return {h.name: {(s.id, s.user) for s in h.sessions() if s.user} for h in hosts}


def _logoff(inventory: Path, tmp_path: Path, *words: str, stdin: str = "") -> Result:
    audit = ["--audit-log", str(tmp_path / "audit.jsonl")]
    return run_cli(["logoff", *words, "-i", str(inventory), *audit], stdin=stdin)


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_logoff_an_id_on_one_server_touches_nothing_else(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        before = _users(hosts)
        result = _logoff(inventory, tmp_path, "3", "--server", "rds-0002", "--yes")
        after = _users(hosts)
        states = [h.state() for h in hosts]
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    assert after["rds-0002"] == before["rds-0002"] - {(3, "carol")}
    assert after["rds-0001"] == before["rds-0001"] and after["rds-0003"] == before["rds-0003"]
    assert [(lo["session_id"], lo["user"]) for lo in states[1]["logoffs"]] == [(3, "carol")]
    assert states[0]["commands"] == [] and states[2]["commands"] == []  # never contacted
    events = [e["event"] for e in _audit(tmp_path)]
    assert events[0] == "run_started" and "logoff_sent" in events and "logged_off" in events
    assert "carol" in result.stdout  # shown before acting


def test_windows_syntax_and_a_session_name(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        result = _logoff(inventory, tmp_path, "rdp-tcp#3", "/server:rds-0001", "/v", "--yes")
        upper = _logoff(inventory, tmp_path, "RDP-TCP#3", "/SERVER:rds-0001", "/V", "--yes")
        users = _users(hosts)
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    assert (5, "bob") not in users["rds-0001"] and (3, "alice") in users["rds-0001"]
    assert "rds-0001: Logging off session ID 5" in result.stderr
    # The second time the name no longer exists: said so, nothing done.
    assert upper.status == ExitStatus.NOTHING_TO_DO
    assert "no session or user named 'RDP-TCP#3'" in upper.stderr
    assert "The specified session cannot be found" in upper.stderr


def test_the_console_is_refused_in_windows_words(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        result = _logoff(inventory, tmp_path, "1", "--server", "rds-0001", "--yes")
        by_name = _logoff(inventory, tmp_path, "console", "--server", "rds-0001", "--yes")
        services = _logoff(inventory, tmp_path, "0", "--server", "rds-0001", "--yes")
        listener = _logoff(inventory, tmp_path, "rdp-tcp", "--server", "rds-0001", "--yes")
        logoffs = hosts[0].state()["logoffs"]
    assert logoffs == []
    for refused in (result, by_name, services, listener):
        assert refused.status == ExitStatus.REFUSED, refused.stderr
    assert (
        "rds-0001: session 1 (console): refused: You cannot log off a user from the console "
        "session. (Could not logoff session ID 1 from session console, Error code 5: "
        "Access is denied.)"
    ) in result.stderr
    assert "Could not logoff session ID 0 from session services, Error code 5" in services.stderr
    assert "session ID 65536 from session rdp-tcp, Error code 5" in listener.stderr
    assert not (tmp_path / "audit.jsonl").exists()  # nothing to act on, nothing recorded


def test_an_unknown_id_says_so(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        result = _logoff(inventory, tmp_path, "42", "--server", "rds-0002", "--yes")
        assert hosts[1].state()["logoffs"] == []
    assert result.status == ExitStatus.NOTHING_TO_DO
    assert (
        "rds-0002: no session ID 42: The specified session cannot be found (Windows error 7022)"
        in result.stderr
    )


def test_a_user_on_every_host_matching_a_pattern(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        result = _logoff(inventory, tmp_path, "ALICE", "--server", "rds-*", "--yes")
        users = _users(hosts)
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    assert all(user != "alice" for host in users.values() for _, user in host)
    assert (3, "carol") in users["rds-0002"] and (3, "dave") in users["rds-0003"]


def test_protected_users_stay_protected_unless_forced_with_a_reason(tmp_path: Path) -> None:
    hosts = _fleet()
    protect = {**MDY, "fleetlogoff_protected_users": ["carol"]}
    with lab(hosts, tmp_path, protect) as (_, inventory):
        refused = _logoff(inventory, tmp_path, "carol", "--server", "rds-0002", "--yes")
        kept = _users(hosts)["rds-0002"]
        forced = _logoff(
            inventory, tmp_path, "carol", "--server", "rds-0002", "--yes", "--force", "INC-4711"
        )
        users = _users(hosts)["rds-0002"]
    assert refused.status == ExitStatus.REFUSED
    assert "protected user carol" in refused.stderr and "--force REASON" in refused.stderr
    assert (3, "carol") in kept
    assert forced.status == ExitStatus.OK, forced.stderr + forced.stdout
    assert (3, "carol") not in users
    (sent,) = [e for e in _audit(tmp_path) if e["event"] == "logoff_sent"]
    assert "--force: INC-4711" in sent["reason"]


def test_without_yes_and_without_a_terminal_nothing_happens(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        result = _logoff(inventory, tmp_path, "3", "--server", "rds-0002")
        assert hosts[1].state()["logoffs"] == []
    assert result.status == ExitStatus.REFUSED and "--yes" in result.stderr


def test_a_warning_first_then_the_logoff(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        result = _logoff(inventory, tmp_path, "3", "--server", "rds-0002", "--yes", "--warn", "1s")
        state = hosts[1].state()
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    assert [m["session_id"] for m in state["messages"]] == [3]
    assert state["logoffs"][0]["time"] - state["messages"][0]["time"] >= 1.0


def test_a_localized_access_denied_reads_in_english_and_verbatim_at_v(tmp_path: Path) -> None:
    hosts = _fleet(locale="de-DE", logoff=LogoffBehaviour(error_code=5))
    with lab(hosts, tmp_path, MDY) as (_, inventory):
        quiet = _logoff(inventory, tmp_path, "3", "--server", "rds-0002", "--yes")
        verbose = _logoff(inventory, tmp_path, "3", "--server", "rds-0002", "--yes", "-v")
    assert quiet.status == verbose.status == ExitStatus.ERROR
    failed = [e for e in _audit(tmp_path) if e["event"] == "failed"]
    assert failed[0]["reason"] == "logoff failed: Access is denied (Windows error 5)"
    assert "Could not logoff session ID 3" in failed[0]["host_text"]
    assert "the host said: Could not logoff session ID 3" in verbose.stderr
    assert "the host said" not in quiet.stderr


def test_an_address_without_an_inventory(tmp_path: Path) -> None:
    hosts = _fleet()
    with lab(hosts, tmp_path) as (fleet, _):
        (endpoint,) = [e for e in fleet.endpoints if e.name == "rds-0003"]
        address, port = endpoint.address, endpoint.http_port
        environ = {
            "FLEETLOGOFF_USERNAME": LAB_ADMIN.username,
            "FLEETLOGOFF_PASSWORD": LAB_ADMIN.password,
        }
        audit = ["--audit-log", str(tmp_path / "audit.jsonl")]
        result = run_cli(
            ["logoff", "dave", f"/server:{address}:{port}", "--yes", *audit], environ=environ
        )
        no_credentials = run_cli(["logoff", "dave", f"/server:{address}:{port}", "--yes"])
        users = _users(hosts)
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    assert (3, "dave") not in users["rds-0003"]
    assert no_credentials.status == ExitStatus.USAGE
    assert "FLEETLOGOFF_USERNAME" in no_credentials.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["3", "/server:rds-0001", "/VM"], "/VM is not supported: it logs off a session inside"),
        (["3", "/vm", "--server", "x"], "/VM is not supported"),
        (["3", "/x", "--server", "x"], "unknown switch /x"),
        (["3"], "--server NAME (or /SERVER:NAME) is required"),
        (["--server", "x"], "give one session id, session name or user"),
        (["1", "2", "--server", "x"], "one session at a time"),
        (["3", "/SERVER:"], "/SERVER: needs a server name"),
        (["3", "--server", "~rds0[12]"], "--server ~rds0[12]: not an address"),
        (["3", "--server", "rds:&all"], "--server rds:&all: not an address"),
        (["3", "--server", "x", "--force", " "], "--force needs a reason"),
        (["3", "--server", "x", "--message", "{nope}"], "unknown placeholder {nope}"),
        (["3", "/server:a", "/SERVER:b"], "--server: given twice ('a', then 'b'): give it once"),
        (["3", "--server=a", "/server:b"], "--server: given twice ('a', then 'b')"),
        (["--server", "a", "3", "-i", "/x", "--server", "b"], "--server: given twice"),
        (["3", "--server", "a", "--warn", "5m", "--warn", "0"], "--warn: given twice"),
        (["3", "--server", "a", "--force", "x", "--force", "y"], "--force: given twice"),
    ],
)
def test_bad_command_lines_are_one_line_and_64(words: list[str], expected: str) -> None:
    result = run_cli(["logoff", *words])
    assert result.status == ExitStatus.USAGE
    assert expected in result.stderr and result.stderr.count("\n") == 1


def test_slash_question_mark_prints_the_usage_as_logoff_exe_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli(["logoff", "/?"])  # argparse prints help on sys.stdout
    assert result.status == ExitStatus.OK and result.stderr == ""
    assert "usage: fleetlogoff logoff" in capsys.readouterr().out
