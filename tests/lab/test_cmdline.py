"""cmd.exe line splitting, %VAR% expansion, argv rules and PowerShell decoding."""

from __future__ import annotations

import base64

import pytest

from fleetlogoff.lab.cmdline import (
    CmdSyntaxError,
    PowerShellArgumentError,
    Redirection,
    expand_variables,
    extract_powershell_script,
    parse_line,
    program_basename,
    split_arguments,
    strip_cmd_switches,
    strip_wrapper_lines,
)

ENV = {"PATH": r"C:\Windows\system32", "USERNAME": "Administrator", "COMPUTERNAME": "RDS-0001"}


def texts(line: str) -> list[tuple[str, list[str]]]:
    """(connector, [command texts]) per step."""
    return [(s.connector, [c.text for c in s.pipeline]) for s in parse_line(line, ENV)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("quser", [("", ["quser"])]),
        ("quser & whoami", [("", ["quser"]), ("&", ["whoami"])]),
        (
            "quser && hostname || whoami",
            [("", ["quser"]), ("&&", ["hostname"]), ("||", ["whoami"])],
        ),
        ("quser | msg *", [("", ["quser", "msg *"])]),
        ('msg * " & shutdown /r /t 0 & "', [("", ['msg * " & shutdown /r /t 0 & "'])]),
        ("msg * ^| whoami", [("", ["msg * | whoami"])]),
        ("msg * a ^& b", [("", ["msg * a & b"])]),
        (
            "msg * Save your work & log off now",
            [("", ["msg * Save your work"]), ("&", ["log off now"])],
        ),
        ("quser &", [("", ["quser"])]),
    ],
)
def test_parse_line_splits_like_cmd(line: str, expected: list[tuple[str, list[str]]]) -> None:
    assert texts(line) == expected


@pytest.mark.parametrize("line", ["& whoami", "|| calc", "quser |", "quser &&", "msg * ||calc||"])
def test_parse_line_rejects_what_cmd_rejects(line: str) -> None:
    with pytest.raises(CmdSyntaxError):
        parse_line(line, ENV)


def test_redirections_are_cut_out_and_recorded() -> None:
    (step,) = parse_line(r"quser 2>&1 >> C:\Temp\out.txt", ENV)
    (command,) = step.pipeline
    assert command.text == "quser"
    assert command.redirections == (
        Redirection(2, ">", "&1"),
        Redirection(1, ">>", r"C:\Temp\out.txt"),
    )


def test_redirection_inside_quotes_is_literal() -> None:
    (step,) = parse_line('msg * "> C:\\owned.txt"', ENV)
    assert step.pipeline[0].redirections == ()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%PATH% and %USERNAME%", r"C:\Windows\system32 and Administrator"),
        ("%path%", r"C:\Windows\system32"),
        ("100% done; 50% left", "100% done; 50% left"),
        ("%NOPE% stays", "%NOPE% stays"),
        ('"%COMPUTERNAME%"', '"RDS-0001"'),
        ("50%%USERNAME%", "50%Administrator"),
    ],
)
def test_expand_variables_like_a_command_line(line: str, expected: str) -> None:
    assert expand_variables(line, ENV) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ('a "b c" d', ["a", "b c", "d"]),
        (r'"x\"y"', ['x"y']),
        (r"C:\dir\ file", ["C:\\dir\\", "file"]),
        ('"" x', ["", "x"]),
        ("   ", []),
    ],
)
def test_split_arguments_follows_msvcrt(args: str, expected: list[str]) -> None:
    assert split_arguments(args) == expected


@pytest.mark.parametrize(
    ("program", "name"),
    [("QUSER.EXE", "quser"), (r"C:\Windows\System32\qwinsta.exe", "qwinsta"), ("msg", "msg")],
)
def test_program_basename(program: str, name: str) -> None:
    assert program_basename(program) == name


def test_strip_cmd_switches() -> None:
    assert strip_cmd_switches('/c "quser & whoami"') == "quser & whoami"
    assert strip_cmd_switches("/S /C quser") == "quser"
    assert strip_cmd_switches("/q") is None


@pytest.mark.parametrize(
    ("args", "inner"),
    [
        # Switches with a value, and switches glued together, before /C (cmd /?).
        ("/v:on /c whoami", "whoami"),
        ("/E:ON /D /C whoami", "whoami"),
        ('/s/c "whoami"', "whoami"),
        ("/cwhoami", "whoami"),
        ('/c"whoami & hostname"', "whoami & hostname"),
        # cmd /? rule 2: strip the first quote and the LAST quote, keep text after it.
        ('/c "quser & whoami" x', "quser & whoami x"),
        ('/c "quser" & "whoami"', 'quser" & "whoami'),
        ('/c "quser', "quser"),
    ],
)
def test_strip_cmd_switches_follows_cmd_rules(args: str, inner: str) -> None:
    assert strip_cmd_switches(args) == inner


@pytest.mark.parametrize("line", ["quser ²>x", "quser ¹>x & whoami", "quser >&² x"])
def test_non_ascii_digits_are_never_redirection_handles(line: str) -> None:
    steps = parse_line(line, ENV)
    handles = [r.handle for s in steps for c in s.pipeline for r in c.redirections]
    assert set(handles) <= {1}


def encode(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


@pytest.mark.parametrize("switch", ["-EncodedCommand", "-enc", "-E", "-ec", "/encodedcommand"])
def test_extract_powershell_script_decodes_every_switch_spelling(switch: str) -> None:
    args = f"-NoProfile -NonInteractive -ExecutionPolicy Unrestricted {switch} {encode('quser')}"
    assert extract_powershell_script(args) == "quser"


def test_extract_powershell_script_rejects_bad_base64() -> None:
    with pytest.raises(PowerShellArgumentError, match="Base64"):
        extract_powershell_script("-enc not*base64")


def test_ansible_wrapper_lines_are_dropped() -> None:
    script = (
        "Set-StrictMode -Version Latest\r\n"
        "quser\r\n"
        "If (-not $?) { If (Get-Variable LASTEXITCODE -ErrorAction SilentlyContinue) "
        "{ exit $LASTEXITCODE } Else { exit 1 } }\r\n"
        "try { [Console]::OutputEncoding = [Text.Encoding]::UTF8 } catch {}\r\n"
    )
    assert strip_wrapper_lines(script) == ["quser"]
