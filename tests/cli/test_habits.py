"""Habits users bring from Ansible and Terraform: -v anywhere, help that describes the
tool with defaults and examples, no abbreviations, -out, a bare call that lists the
commands, shell completion, NO_COLOR and COLUMNS."""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import subprocess

import pytest

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.completion import bash_script, zsh_script
from fleetlogoff.cli.flags import Parser, add_common_flags
from fleetlogoff.cli.logs import WIRE_LOGGER, configure_logging, logger_levels
from fleetlogoff.cli.main import build_parser, parse_command_line
from fleetlogoff.env import Environment
from fleetlogoff.ui import console_for
from tests.cliutil import run_cli

COMMANDS = ("sessions", "plan", "show", "apply", "parse", "demo", "completion")


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no commands")


def test_a_bare_call_lists_every_command() -> None:
    result = run_cli([])
    assert result.status == ExitStatus.OK
    assert "Log users off Windows Remote Desktop" in result.stdout
    for name in (*COMMANDS, "lab"):
        assert f"\n    {name} " in result.stdout
    assert "-vvvv" in result.stdout and "examples:" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_description_an_example_and_helped_flags(command: str) -> None:
    parser = command_parsers()[command]
    assert parser.description and "example" in (parser.epilog or "")
    for action in parser._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
    help_text = parser.format_help()
    text = help_text[help_text.index("options:") :]
    for action in parser._actions:
        default = action.default
        if action.option_strings and default not in (None, False, [], 0, argparse.SUPPRESS):
            flag = action.option_strings[-1]
            line = text[text.index(f" {flag}") :].split("\n  -")[0]
            assert "default:" in line, f"{command} {flag}: default {default!r} not shown"


def test_help_shows_durations_as_typed() -> None:
    text = command_parsers()["apply"].format_help()
    assert "(default: 5m)" in " ".join(text.split())  # --window-margin, not 0:05:00
    assert "(default: 30s)" in " ".join(text.split())  # --timeout


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "plan", "inv.yml", "-v"],
        ["plan", "-vv", "inv.yml"],
        ["-vv", "plan", "inv.yml"],
        ["plan", "inv.yml", "--verbose", "--verbose"],
    ],
)
def test_verbosity_counts_before_and_after_the_command(argv: list[str]) -> None:
    assert parse_command_line(argv).verbose == 2


def test_debug_counts_after_the_command_too() -> None:
    assert parse_command_line(["plan", "inv.yml", "--debug"]).debug
    assert parse_command_line(["--debug", "plan", "inv.yml"]).debug
    assert not parse_command_line(["plan", "inv.yml"]).debug
    # logoff reads its words raw (logoff.exe's switches go anywhere): --debug still counts.
    after = parse_command_line(["logoff", "3", "/server:rds-07", "--debug", "/v"])
    assert after.debug and after.words == ["3", "/server:rds-07", "/v"]
    message = parse_command_line(["logoff", "3", "--server", "x", "--message", "--debug"])
    assert not message.debug and message.words[-1] == "--debug"  # the message's own words


@pytest.mark.parametrize(
    ("argv", "output"),
    [
        (["plan", "inv.yml", "-out", "p.json"], "p.json"),
        (["plan", "inv.yml", "-out=p.json"], "p.json"),
        (["plan", "inv.yml", "-o", "p.json"], "p.json"),
        (["plan", "inv.yml", "--output=p.json"], "p.json"),
    ],
)
def test_terraforms_out_saves_the_plan(argv: list[str], output: str) -> None:
    assert parse_command_line(argv).output == output


@pytest.mark.parametrize("flag", ["--lim", "--out", "--form", "--detailed"])
def test_abbreviated_flags_are_refused(flag: str) -> None:
    result = run_cli(["plan", "inv.yml", flag, "x"])
    assert result.status == ExitStatus.USAGE and flag in result.stderr


def test_lab_arguments_reach_the_lab_untouched() -> None:
    args = parse_command_line(["lab", "--hosts", "3", "-v", "--inventory-out", "i.yml"])
    assert args.lab_args == ["--hosts", "3", "-v", "--inventory-out", "i.yml"]


def test_verbosity_levels_map_to_loggers() -> None:
    assert logger_levels(0)["fleetlogoff"] == logging.WARNING
    assert logger_levels(1)["fleetlogoff"] == logging.INFO
    assert logger_levels(1)["fleetlogoff.commands"] == logging.WARNING
    assert logger_levels(2)["fleetlogoff.commands"] == logging.DEBUG
    assert logger_levels(2)["fleetlogoff.transport"] == logging.INFO
    assert logger_levels(3)["fleetlogoff.transport"] == logging.DEBUG
    for level in range(4):
        assert logger_levels(level)[WIRE_LOGGER] == logging.WARNING
        assert logger_levels(level)["pypsrp"] == logging.WARNING
    assert logger_levels(4)[WIRE_LOGGER] == logging.DEBUG
    assert logger_levels(4)["pypsrp"] == logging.DEBUG


def test_log_lines_escape_host_text_and_are_undone() -> None:
    stream = io.StringIO()
    undo = configure_logging(2, stream)
    try:
        logging.getLogger("fleetlogoff.commands").debug("rds: quser\nline \x1b[31m two\u202e")
        logging.getLogger("fleetlogoff.transport.wire").debug("never at -vv")
    finally:
        undo()
    logging.getLogger("fleetlogoff.commands").warning("after undo")
    text = stream.getvalue()
    assert "rds: quser\n    line \\x1b[31m two\\u202e" in text
    assert "never" not in text and "after undo" not in text


def env_with(**environ: str) -> Environment:
    return Environment(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdout_isatty=True,
        stderr_isatty=True,
        environ=environ,
    )


def test_no_color_only_removes_colour() -> None:
    console = console_for(env_with(NO_COLOR="1", COLUMNS="132"), "stdout")
    assert console.is_terminal and console.color_system is None and console.width == 132
    coloured = console_for(env_with(COLUMNS="90"), "stdout")
    assert coloured.is_terminal and coloured.color_system is not None and coloured.width == 90


def test_without_a_terminal_nothing_wraps() -> None:
    env = Environment(stdout=io.StringIO(), stdout_isatty=False, environ={"COLUMNS": "80"})
    console = console_for(env, "stdout")
    assert not console.is_terminal and console.width > 10000


def test_completion_scripts_name_every_command_and_flag() -> None:
    parser = build_parser()
    for script in (bash_script(parser), zsh_script(parser)):
        for command in COMMANDS:
            assert command in script
        for flag in ("--detailed-exitcode", "--max-fail-percentage", "-out", "--bom"):
            assert flag in script
    assert zsh_script(parser).startswith("#compdef fleetlogoff\n")


def bash_complete(line: str) -> list[str]:
    """COMPREPLY for `line` (the cursor at its end), from the generated bash script."""
    words = line.split(" ")
    script = bash_script(build_parser())
    program = (
        f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n_fleetlogoff\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_commands_flags_and_choices() -> None:
    assert bash_complete("fleetlogoff pl") == ["plan"]
    assert "--detailed-exitcode" in bash_complete("fleetlogoff plan inv.yml --de")
    assert bash_complete("fleetlogoff plan inv.yml --format ") == ["table", "json", "csv"]
    assert bash_complete("fleetlogoff apply p.json --format j") == ["json"]
    assert bash_complete("fleetlogoff completion ") == ["bash", "zsh"]
    assert bash_complete("fleetlogoff plan inv.yml --forks ") == []


def test_completion_prints_a_script() -> None:
    result = run_cli(["completion", "bash"])
    assert result.status == ExitStatus.OK and "complete -o filenames" in result.stdout


def test_a_command_with_its_own_v_keeps_it() -> None:
    # logoff gives -v logoff.exe's /V meaning; the common flags must not collide with it.
    parser = Parser(prog="fleetlogoff logoff")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each logoff")
    add_common_flags(parser, top=False)
    args = parser.parse_args(["-v", "--debug"])
    assert args.verbose is True and args.sub_debug is True
    assert not hasattr(args, "sub_verbose")


def test_lab_help_prints_the_labs_own_flags() -> None:
    result = run_cli(["lab", "--help"])
    assert result.status == ExitStatus.OK, result.stderr
    assert "--inventory-out" in result.stdout and "--auth" in result.stdout


@pytest.mark.parametrize("value", ["\u00b2", "\u0664\u0660", "x", "0", "100000", " "])
def test_a_columns_value_that_is_no_usable_width_is_ignored(value: str) -> None:
    """'²' is a digit to str.isdigit() and int() raises on it: it used to crash every view."""
    env = Environment(stdout=io.StringIO(), stdout_isatty=True, environ={"COLUMNS": value})
    assert env.columns is None
