"""SimHost.run end to end: programs, streams, exit codes, code pages, recording."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest

from fleetlogoff.lab.commands import LogoffBehaviour
from fleetlogoff.lab.contract import CommandRequest, CommandResult
from fleetlogoff.lab.dynamics import DynamicRule, Trigger
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.locales import SessionState
from fleetlogoff.lab.sessions import Session, make_infrastructure

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
START = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def make_host(clock: FakeClock | None = None, **kwargs: object) -> SimHost:
    sessions = [
        *make_infrastructure(),
        Session(2, "RDP-Tcp#7", "anna.meier", SessionState.ACTIVE, START - 7200, START - 5),
        Session(3, "", "王伟", SessionState.DISCONNECTED, START - 86400, START - 3 * 3600),
        Session(4, "RDP-Tcp#9", "labuser", SessionState.ACTIVE, START - 600, START - 120),
    ]
    return SimHost("rds-0001", sessions=sessions, clock=clock or FakeClock(), **kwargs)  # type: ignore[arg-type]  # test helper forwards keyword options


def run(
    host: SimHost,
    line: str,
    account: str = "Administrator",
    codepage: int | None = 65001,
    stdin: bytes = b"",
) -> CommandResult:
    return host.run(CommandRequest(line, codepage, account, stdin))


def out(result: CommandResult) -> str:
    return result.stdout.decode("utf-8")


def err(result: CommandResult) -> str:
    return result.stderr.decode("utf-8")


def corpus_block(name: str, start: str) -> str:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    body = [line for line in lines if not line.startswith("#")]
    return "\r\n".join(body[body.index(start) :]) + "\r\n"


def test_quser_lists_user_sessions_with_crlf_and_exit_0() -> None:
    result = run(make_host(), "quser")
    lines = out(result).split("\r\n")
    assert result.exit_code == 0 and result.stderr == b""
    assert lines[0].startswith(" USERNAME")
    assert [line.split()[0] for line in lines[1:4]] == ["anna.meier", "王伟", "labuser"]
    assert out(result).endswith("\r\n")


def test_query_user_exits_1_even_with_output() -> None:
    result = run(make_host(), "QUERY USER")
    assert result.exit_code == 1 and "anna.meier" in out(result)


def test_quser_without_users_says_so_on_stderr() -> None:
    result = run(SimHost("rds-0009"), "quser.exe")
    assert result.stdout == b"" and result.exit_code == 1
    assert err(result) == "No User exists for *\r\n"


def test_quser_filters_by_user_session_name_and_id() -> None:
    host = make_host()
    assert "anna.meier" in out(run(host, "quser rdp-tcp#7"))
    assert "王伟" in out(run(host, "quser 3"))
    assert err(run(host, "quser nobody")) == "No User exists for nobody\r\n"


@pytest.mark.parametrize(
    ("line", "usage_file"),
    [
        ("quser /h", "quser-en-us-usage.txt"),
        ("qwinsta /h", "qwinsta-en-us-usage.txt"),
        ("logoff /h", "logoff-en-us-usage-invalid-param.txt"),
        ("msg /h", "msg-en-us-usage.txt"),
    ],
)
def test_invalid_parameters_print_corpus_usage_on_stderr(line: str, usage_file: str) -> None:
    result = run(make_host(), line)
    assert result.exit_code == 1 and result.stdout == b""
    assert err(result) == corpus_block(usage_file, "Invalid parameter(s)")


def test_qwinsta_marks_services_and_shows_listener() -> None:
    text = out(run(make_host(), "qwinsta"))
    assert ">services" in text and "65536  Listen" in text


def test_output_uses_oem_code_page_with_question_marks() -> None:
    result = run(make_host(), "quser", codepage=None)
    text = result.stdout.decode("cp437")
    assert "??" in text and "anna.meier" in text


def test_german_host_answers_in_cp850() -> None:
    host = SimHost("rds-0002", locale="de-DE", sessions=make_infrastructure())
    assert "GERÄT".encode("cp850") in run(host, "qwinsta", codepage=None).stdout


def test_logoff_removes_session_and_id_is_reusable() -> None:
    clock = FakeClock()
    rule = DynamicRule(Trigger.REUSE_FREED_ID, 30, user="new.user")
    host = make_host(clock, dynamics=(rule,))
    result = run(host, "logoff 2")
    assert (result.exit_code, result.stdout, result.stderr) == (0, b"", b"")
    assert 2 not in [s.id for s in host.sessions()]
    clock.now += 31
    reused = {s.id: s.user for s in host.sessions()}
    assert reused[2] == "new.user"


def test_logoff_session_zero_gives_kb259436_error() -> None:
    result = run(make_host(), "logoff 0")
    assert result.exit_code == 1
    assert err(result) == (
        "Could not logoff session ID 0 from session Services, Error code 5\r\n"
        "Error [5]: Access is denied.\r\n"
    )


def test_logoff_unknown_id_fails_with_7022() -> None:
    result = run(make_host(), "logoff 42")
    assert result.exit_code == 1 and "Error [7022]" in err(result)


def test_logoff_by_session_name() -> None:
    host = make_host()
    assert run(host, "logoff RDP-TCP#7").exit_code == 0
    assert "anna.meier" not in out(run(host, "quser"))


def test_non_admin_sees_no_sessions_and_cannot_log_others_off() -> None:
    host = make_host()
    assert err(run(host, "quser", account="labuser")) == "No User exists for *\r\n"
    assert err(run(host, "qwinsta", account="labuser")) == "No session exists for *\r\n"
    denied = run(host, "logoff 2", account="labuser")
    assert denied.exit_code == 1 and "Error [5]" in err(denied)
    assert run(host, "logoff 4", account="labuser").exit_code == 0
    assert err(run(host, "msg * hi", account="labuser")) == "Error 5 getting session names\r\n"


def test_logoff_hang_and_failure_from_scenario() -> None:
    assert run(make_host(logoff=LogoffBehaviour(hang=True)), "logoff 2").hang
    failing = run(make_host(logoff=LogoffBehaviour(error_code=1460, delay_s=2.0)), "logoff 2")
    assert failing.exit_code == 1 and failing.delay_s == 2.0
    assert "Error code 1460" in err(failing)


def test_msg_verbose_matches_corpus_wording() -> None:
    result = run(make_host(), "msg 2 /TIME:150 /V hello")
    assert out(result) == (
        "Sending message to session RDP-Tcp#7, display time 150\r\n"
        "Async message sent to session RDP-Tcp#7\r\n"
    )


def test_hostile_messages_are_delivered_verbatim_and_run_nothing() -> None:
    hostile = (CORPUS / "hostile-messages.txt").read_text(encoding="utf-8").splitlines()
    messages = [line.replace("\\n", "\n") for line in hostile if not line.startswith("#")]
    host = make_host()
    for message in messages:
        assert host.wants_stdin("msg 2 /V")
        run(host, "msg 2 /V", stdin=message.encode("utf-8"))
    state = host.state()
    assert [m["text"] for m in state["messages"]] == messages
    ran = [sub["program"] for cmd in state["commands"] for sub in cmd["subcommands"]]
    assert ran == ["msg"] * len(messages)


def test_injection_on_the_command_line_is_visible_in_state() -> None:
    host = make_host()
    result = run(host, "msg 2 Save your work & shutdown /r /t 0")
    assert "'shutdown' is not recognized" in err(result)
    subs = host.state()["commands"][0]["subcommands"]
    assert [s["text"] for s in subs] == ["msg 2 Save your work", "shutdown /r /t 0"]
    assert host.state()["messages"][0]["text"] == "Save your work"


def test_and_or_semantics_and_skipped_commands_are_recorded() -> None:
    host = make_host()
    result = run(host, "quser nobody && hostname || whoami")
    assert out(result) == "rds-0001\\administrator\r\n"
    subs = host.state()["commands"][0]["subcommands"]
    assert [(s["program"], s["ran"]) for s in subs] == [
        ("quser", True),
        ("hostname", False),
        ("whoami", True),
    ]


def test_redirection_to_file_is_recorded_not_returned() -> None:
    host = make_host()
    result = run(host, r"hostname > C:\Windows\Temp\owned.txt")
    assert result.stdout == b""
    (sub,) = host.state()["commands"][0]["subcommands"]
    assert sub["writes"][0]["target"] == r"C:\Windows\Temp\owned.txt"
    assert sub["writes"][0]["text"] == "rds-0001\r\n"


def test_stderr_merged_with_2_and_1() -> None:
    result = run(SimHost("rds-0009"), "quser 2>&1")
    assert out(result) == "No User exists for *\r\n" and result.stderr == b""


def test_unknown_command_is_cmd_not_recognized() -> None:
    result = run(make_host(), "Get-Process")
    assert result.exit_code == 1
    assert err(result) == (
        "'Get-Process' is not recognized as an internal or external command,\r\n"
        "operable program or batch file.\r\n"
    )


def test_hostname_and_whoami() -> None:
    host = make_host()
    assert out(run(host, "hostname")) == "rds-0001\r\n"
    assert out(run(host, "whoami", account="labuser")) == "rds-0001\\labuser\r\n"


def test_cmd_c_nested_line_runs_and_is_recorded() -> None:
    host = make_host()
    result = run(host, 'cmd.exe /c "hostname & whoami"')
    assert out(result) == "rds-0001\r\nrds-0001\\administrator\r\n"
    programs = [s["program"] for s in host.state()["commands"][0]["subcommands"]]
    assert programs == ["cmd.exe", "hostname", "whoami"]


@pytest.mark.parametrize(
    "line", ["cmd /v:on /c whoami", "cmd /s/c whoami", "cmd /cwhoami", 'cmd /c "quser" & "whoami"']
)
def test_cmd_switch_spellings_cannot_hide_an_injected_command(line: str) -> None:
    host = make_host()
    run(host, line)
    ran = [s["program"] for s in host.state()["commands"][0]["subcommands"] if s["ran"]]
    assert "whoami" in ran


@pytest.mark.parametrize(
    "line", ["logoff ²", "qwinsta ²", "quser ²", "msg * /TIME:² hi", "msg ² hi", "quser ²>x"]
)
def test_non_ascii_digits_are_not_numbers(line: str) -> None:
    host = make_host()
    result = run(host, line)
    assert result.exit_code != 0 or result.stderr == b""
    assert host.state()["commands"][0]["command_line"] == line


def ansible_line(script: str) -> str:
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    options = "-NoProfile -NonInteractive -ExecutionPolicy Unrestricted"
    return f"PowerShell {options} -EncodedCommand {encoded}"


def test_ansible_raw_quser_runs_quser() -> None:
    host = make_host()
    result = run(host, ansible_line("quser"))
    assert result.exit_code == 0 and "anna.meier" in out(result)
    wrapped = "Set-StrictMode -Version Latest\r\nquser\r\nIf (-not $?) { exit 1 }\r\n"
    assert "anna.meier" in out(run(host, ansible_line(wrapped)))
    assert host.state()["commands"][0]["subcommands"][0]["powershell_script"] == "quser"


def test_powershell_unsupported_script_fails_clearly() -> None:
    result = run(make_host(), ansible_line("Get-Process"))
    assert result.exit_code == 1 and "The term 'Get-Process' is not recognized" in err(result)
    multi = run(make_host(), ansible_line("quser\nhostname"))
    assert multi.exit_code == 1 and "2 lines" in err(multi)


def test_skip_cmd_shell_runs_program_without_cmd_semantics() -> None:
    host = make_host()
    result = host.run(
        CommandRequest("hostname & whoami", 65001, "Administrator", skip_cmd_shell=True)
    )
    assert result.exit_code == 1  # hostname refuses arguments; no '&' splitting happened


def test_idle_advances_with_the_clock_and_dynamics_apply() -> None:
    clock = FakeClock()
    rules = (
        DynamicRule(Trigger.RECONNECTS, 60, session_id=3),
        DynamicRule(Trigger.LOGS_OFF, 120, user="anna.meier"),
        DynamicRule(Trigger.ACTIVE_AFTER_MESSAGE, 20, user="labuser"),
    )
    host = make_host(clock, dynamics=rules)
    run(host, "msg labuser hi")
    clock.now += 61
    sessions = {s.id: s for s in host.sessions()}
    assert sessions[3].state is SessionState.ACTIVE and sessions[3].name.startswith("RDP-Tcp#")
    assert sessions[4].last_input == START + 20
    anna = out(run(host, "quser anna.meier")).split("\r\n")[1].split()
    assert anna[:5] == ["anna.meier", "rdp-tcp#7", "2", "Active", "1"]  # idle 66 s
    clock.now += 60
    assert 2 not in {s.id for s in host.sessions()}
    assert host.state()["logoffs"][0]["by"] == "user"


def test_state_is_json_serialisable() -> None:
    host = make_host()
    run(host, "quser")
    json.dumps(host.state())


def test_run_is_thread_safe() -> None:
    host = make_host()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(50):
                run(host, "quser")
        except BaseException as exc:  # pragma: no cover - only on failure
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(host.state()["commands"]) == 200
