"""The lab runs fleetlogoff's guard script (and only that script) as one atomic step
against the host's sessions, in the host's language and code page."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from fleetlogoff.guard_script import (
    GUARD_SCRIPT,
    GuardMessage,
    GuardResult,
    GuardTarget,
    guard_command_line,
    guard_payload,
    read_guard_output,
)
from fleetlogoff.lab.commands import LogoffBehaviour
from fleetlogoff.lab.contract import CommandRequest
from fleetlogoff.lab.dynamics import DynamicRule, Trigger
from fleetlogoff.lab.guard import GUARD_SCRIPT_SHA256
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.locales import SessionState
from fleetlogoff.lab.scenario import parse_scenario
from fleetlogoff.lab.sessions import Session, make_infrastructure
from fleetlogoff.parsers import decode_output, parse_quser

START = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _host(*users: Session, locale: str = "en-US", **kwargs: Any) -> SimHost:
    return SimHost(
        "rds-g",
        locale=locale,
        sessions=[*make_infrastructure(), *users],
        clock=FakeClock(),
        **kwargs,
    )


def _disc(session_id: int, user: str, logon_ago_h: float = 30) -> Session:
    return Session(
        session_id,
        "",
        user,
        SessionState.DISCONNECTED,
        START - logon_ago_h * 3600,
        START - 5 * 3600,
    )


def _planned(host: SimHost, codepage: int = 65001) -> dict[int, GuardTarget]:
    """What the controller read: each row as quser printed it, through the tool's parser."""
    result = host.run(CommandRequest("quser", codepage, "Administrator"))
    text = decode_output(result.stdout, codepage)
    return {s.id: GuardTarget(s.id, s.username, s.logon_text) for s in parse_quser(text)}


def _guard(
    host: SimHost, targets: list[GuardTarget] | list[GuardMessage], codepage: int = 65001
) -> list[GuardResult]:
    request = CommandRequest(
        guard_command_line(), codepage, "Administrator", guard_payload(targets)
    )
    assert host.wants_stdin(request.command_line)
    result = host.run(request)
    stdout, stderr = (decode_output(b, codepage) for b in (result.stdout, result.stderr))
    return read_guard_output(stdout, stderr, targets)


def _by_logoff(host: SimHost) -> list[tuple[int, str]]:
    return [
        (lo["session_id"], lo["user"]) for lo in host.state()["logoffs"] if lo["by"] == "logoff"
    ]


def test_the_lab_knows_the_tools_script_by_its_exact_text() -> None:
    assert hashlib.sha256(GUARD_SCRIPT.encode("utf-8")).hexdigest() == GUARD_SCRIPT_SHA256


@pytest.mark.parametrize("locale", ["en-US", "de-DE", "ru-RU", "zh-CN", "es-MX", "fr-FR", "ja-JP"])
def test_the_planned_session_is_logged_off_in_every_language(locale: str) -> None:
    host = _host(_disc(2, "stale.user"), _disc(3, "other.user"), locale=locale)
    targets = _planned(host)
    (result,) = _guard(host, [targets[2]])
    assert result.status == "logged_off"
    assert _by_logoff(host) == [(2, "stale.user")]
    ran = [(r["program"], r["args"], r["via"]) for r in host.state()["commands"][-1]["subcommands"]]
    assert ran[1:] == [("quser.exe", "", "powershell"), ("logoff.exe", "2", "powershell")]


def test_a_newcomer_on_the_planned_id_is_kept_and_shown() -> None:
    host = _host(_disc(2, "stale.user"))
    target = _planned(host)[2]
    host.run(CommandRequest("logoff 2", 65001, "Administrator"))  # stale.user leaves...
    host.store.put(Session(2, "RDP-Tcp#9", "new.person", SessionState.ACTIVE, START, START))
    (result,) = _guard(host, [target])
    assert result.status == "kept" and "new.person" in result.rows
    assert _by_logoff(host) == [(2, "stale.user")]  # only the manual one above


def test_gone_a_prefix_of_another_name_or_another_logon_time_are_kept() -> None:
    logon = _planned(_host(_disc(3, "carol")))[3].logon_text  # every session here has it
    host = _host(_disc(2, "bob  smith"), _disc(3, "carol"))
    wrong = [
        GuardTarget(2, "bob", logon),  # a prefix of the user there (names may have blanks)
        GuardTarget(3, "carol", "1/1/2020 1:00 AM"),  # same user, other logon
        GuardTarget(4, "dave", logon),  # no session 4
        GuardTarget(3, "carol", logon + "X"),
        GuardTarget(3, "caro", logon),
    ]
    assert [_guard(host, [target])[0].status for target in wrong] == ["kept"] * 5
    assert _by_logoff(host) == []


def test_user_names_compare_case_insensitively_logon_texts_as_printed() -> None:
    host = _host(_disc(2, "Stale.User"))
    target = _planned(host)[2]
    spaced = GuardTarget(2, "STALE.USER", "  ".join(target.logon_text.split()))
    (result,) = _guard(host, [spaced])
    assert result.status == "logged_off"


@pytest.mark.parametrize(
    "name", ["a&b", 'quo"te', "100%", "bang!", "jürgen.weiß", "张伟", "$(Stop-Computer)"]
)
def test_hostile_and_non_ascii_names_are_only_data(name: str) -> None:
    host = _host(_disc(2, name), _disc(3, "bystander"))
    (result,) = _guard(host, [_planned(host)[2]])
    assert result.status == "logged_off"
    assert _by_logoff(host) == [(2, name)]
    records = host.state()["commands"][-1]["subcommands"]
    assert [r["program"] for r in records] == ["powershell.exe", "quser.exe", "logoff.exe"]
    assert name not in host.state()["commands"][-1]["command_line"]


def test_a_name_the_code_page_cannot_show_is_compared_as_printed() -> None:
    # cp437 has no "Ł": quser prints "?ukasz", and the controller's row says so too (the
    # planner would never target it: find_damage; the guard still compares as printed).
    host = _host(_disc(2, "Łukasz"), locale="en-US")
    target = _planned(host, codepage=437)[2]
    assert target.username == "?ukasz"
    (result,) = _guard(host, [target], codepage=437)
    assert result.status == "logged_off"


@pytest.mark.parametrize("availability", ["missing", "blocked"])
def test_no_powershell_means_no_logoff(availability: str) -> None:
    host = _host(_disc(2, "stale.user"), powershell=availability)
    (result,) = _guard(host, [_planned(host)[2]])
    assert result.status == "failed"
    assert ("not recognized" if availability == "missing" else "blocked by group") in result.text
    assert _by_logoff(host) == []


def test_a_failing_or_hanging_logoff_inside_the_guard() -> None:
    failing = _host(_disc(2, "stale.user"), logoff=LogoffBehaviour(error_code=5))
    (result,) = _guard(failing, [_planned(failing)[2]])
    assert result.status == "failed" and result.exit_code == 1 and "Error [5]" in result.text
    hanging = _host(_disc(2, "stale.user"), logoff=LogoffBehaviour(hang=True))
    request = CommandRequest(
        guard_command_line(), 65001, "Administrator", guard_payload([_planned(hanging)[2]])
    )
    assert hanging.run(request).hang


def test_a_non_admin_account_logs_nobody_off() -> None:
    host = _host(_disc(2, "stale.user"))
    target = _planned(host)[2]
    request = CommandRequest(guard_command_line(), 65001, "labuser", guard_payload([target]))
    stdout = host.run(request).stdout.decode()
    (result,) = read_guard_output(stdout, "", [target])
    assert result.status == "kept" and "No User exists" in result.errors


def test_other_powershell_scripts_keep_the_generic_behaviour() -> None:
    altered = GUARD_SCRIPT.replace("logged_off", "logged_off ")
    line = (
        "powershell.exe -EncodedCommand " + base64.b64encode(altered.encode("utf-16-le")).decode()
    )
    host = _host(_disc(2, "stale.user"))
    result = host.run(CommandRequest(line, 65001, "Administrator", b""))
    assert b"runs one native command line" in result.stderr
    assert _by_logoff(host) == []


def test_instant_reuse_hands_the_freed_id_to_a_newcomer_before_the_next_command() -> None:
    reuse = DynamicRule(Trigger.REUSE_FREED_ID, 0.0, user="newcomer")
    host = _host(_disc(2, "stale.user"), dynamics=[reuse])
    host.run(CommandRequest("logoff 2 & quser", 65001, "Administrator"))
    assert {(s.id, s.user) for s in host.sessions() if s.user} == {(2, "newcomer")}


def _race_host() -> SimHost:
    """stale.user leaves right before the host's 2nd command; the id is reused at once."""
    leaves = DynamicRule(Trigger.LOGS_OFF_BEFORE_COMMAND, 2.0, user="stale.user")
    reuse = DynamicRule(Trigger.REUSE_FREED_ID, 0.0, user="newcomer")
    return _host(_disc(2, "stale.user"), dynamics=[leaves, reuse])


def test_the_race_a_check_then_logoff_in_two_commands_loses() -> None:
    """What the guard is for: read (command 1), then `logoff 2` (command 2) ends the
    newcomer who took id 2 in between. The scenario below is this window, exactly."""
    host = _race_host()
    assert 2 in _planned(host)
    host.run(CommandRequest("logoff 2", 65001, "Administrator"))
    assert _by_logoff(host) == [(2, "newcomer")]


def test_the_race_the_guard_wins() -> None:
    host = _race_host()
    target = _planned(host)[2]
    (result,) = _guard(host, [target])
    assert result.status == "kept" and "newcomer" in result.rows
    assert _by_logoff(host) == []
    assert {(s.id, s.user) for s in host.sessions() if s.user} == {(2, "newcomer")}


def test_scenario_keys_for_the_guard() -> None:
    scenario = parse_scenario(
        "hosts:\n  rds-1:\n    powershell: blocked\n    dynamics:\n"
        "      - {logs_off_before_command: 3, user: a}\n      - {reuse_freed_id: 0s}\n",
        "s.yml",
    )
    spec = scenario.spec_for("rds-1")
    assert spec.powershell == "blocked"
    assert spec.dynamics is not None
    assert [(d.trigger, d.after_s) for d in spec.dynamics] == [
        (Trigger.LOGS_OFF_BEFORE_COMMAND, 3.0),
        (Trigger.REUSE_FREED_ID, 0.0),
    ]
    with pytest.raises(Exception, match="s.yml:2:23: powershell must be one of"):
        parse_scenario("hosts:\n  rds-1: {powershell: maybe}\n", "s.yml")
    with pytest.raises(Exception, match="command number"):
        parse_scenario("hosts:\n  r: {dynamics: [{logs_off_before_command: 0}]}\n", "s.yml")


def _run_logoff(host: SimHost, line: str) -> tuple[str, str]:
    result = host.run(CommandRequest(line, 65001, "Administrator"))
    return result.stdout.decode(), result.stderr.decode()


def test_logoff_exe_names_ids_and_v_as_the_lab_models_them() -> None:
    console = Session(1, "Console", "console.user", SessionState.ACTIVE, START - 60, START)
    named = Session(3, "RDP-Tcp#3", "bob", SessionState.ACTIVE, START - 60, START)
    host = SimHost(
        "rds-n", sessions=[*make_infrastructure()[:1], console, named], clock=FakeClock()
    )
    host.store.put(Session(65536, "RDP-Tcp", "", SessionState.LISTEN))
    # /V: "Logging off session ID N" (LAB ASSUMPTION, FORMATS.md §3), by name.
    assert _run_logoff(host, "logoff rdp-tcp#3 /v") == ("Logging off session ID 3\r\n", "")
    # A name that matches no session (7022, the session API's code for it).
    _, err = _run_logoff(host, "logoff rdp-tcp#3")
    assert "Error [7022]: The specified session cannot be found." in err
    # The listener's name: a listener cannot be logged off (KB 259436's form, error 5).
    _, err = _run_logoff(host, "logoff RDP-TCP")
    assert err.startswith("Could not logoff session ID 65536 from session RDP-Tcp, Error code 5")
    # The console, with a user or not: "You cannot log off a user from the console session."
    _, err = _run_logoff(host, "logoff 1")
    assert err.startswith("Could not logoff session ID 1 from session Console, Error code 5")
    assert (1, "console.user") in {(s.id, s.user) for s in host.sessions()}


def test_a_name_shared_by_a_session_and_a_listener_names_the_session() -> None:
    shared = Session(4, "RDP-Tcp", "eve", SessionState.ACTIVE, START - 60, START)
    host = _host(shared)
    assert _run_logoff(host, "logoff rdp-tcp") == ("", "")
    assert _by_logoff(host) == [(4, "eve")]


def test_a_guarded_message_reaches_the_planned_session_with_its_text() -> None:
    host = _host(_disc(2, "jürgen.weiß"), _disc(3, "bystander"))
    text = 'Speichern Sie bitte: " & shutdown /r & "\r\nnoch 5 Minuten'
    message = GuardMessage(_planned(host)[2], text, 300)
    (result,) = _guard(host, [message])
    assert result.status == "messaged"
    (shown,) = host.state()["messages"]
    assert (shown["session_id"], shown["user"], shown["text"]) == (2, "jürgen.weiß", text)
    assert shown["display_time"] == 300 and _by_logoff(host) == []
    ran = [(r["program"], r["args"]) for r in host.state()["commands"][-1]["subcommands"]]
    assert ran[1:] == [("quser.exe", ""), ("msg.exe", "2 /TIME:300")]


def test_a_guarded_message_never_reaches_a_newcomer_on_the_planned_id() -> None:
    host = _host(_disc(2, "stale.user"))
    target = _planned(host)[2]
    host.run(CommandRequest("logoff 2", 65001, "Administrator"))
    host.store.put(Session(2, "RDP-Tcp#9", "new.person", SessionState.ACTIVE, START, START))
    (result,) = _guard(host, [GuardMessage(target, "you will be logged off", 60)])
    assert result.status == "kept" and "new.person" in result.rows
    assert host.state()["messages"] == []


def test_a_message_in_a_narrow_code_page_arrives_as_that_code_page_shows_it() -> None:
    host = _host(_disc(2, "stale.user"))
    message = GuardMessage(_planned(host, 437)[2], "Grüße 你好", 60)
    (result,) = _guard(host, [message], 437)
    assert result.status == "messaged"
    assert host.state()["messages"][0]["text"] == "Grüße ??"
