"""Runs a parsed command line with cmd.exe semantics and records every sub-command.

`&` always runs the next step, `&&` only after exit code 0, `||` only after a non-zero
one; `|` feeds one program's stdout to the next one's stdin. Redirections to files are
recorded with the text that would have been written, never executed. `cmd /c LINE`
and `powershell -EncodedCommand` nest: their inner commands are recorded too, so an
injected command is always visible in the host's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetlogoff.lab import texts
from fleetlogoff.lab.cmdline import (
    CmdSyntaxError,
    PowerShellArgumentError,
    SimpleCommand,
    extract_powershell_script,
    parse_line,
    program_basename,
    split_program,
    strip_cmd_switches,
    strip_wrapper_lines,
)
from fleetlogoff.lab.commands import PROGRAMS, HostView, Invocation, Output, lines, reads_stdin
from fleetlogoff.lab.guard import is_guard_script, run_guard

# cmd.exe's ERRORLEVEL after a syntax error such as "& was unexpected at this time.".
CMD_SYNTAX_EXIT = 255
# Deepest cmd /c or powershell nesting the lab follows (a loop guard, not a Windows limit).
MAX_NESTING = 8
_POWERSHELL = ("powershell", "pwsh")


@dataclass(slots=True)
class ShellContext:
    """Everything one command line runs with, plus what it recorded."""

    view: HostView
    account: str
    admin: bool
    env: Mapping[str, str]
    stdin: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    depth: int = 0
    codepage: int = 65001

    def take_stdin(self) -> str:
        """Return the client's stdin once (the first reader consumes it)."""
        data, self.stdin = self.stdin, ""
        return data


def run_request(ctx: ShellContext, line: str, skip_cmd_shell: bool) -> Output:
    """Run a WinRS command line, through cmd.exe unless skip_cmd_shell is set."""
    if not skip_cmd_shell:
        return run_cmd_line(ctx, line, via="cmd")
    text = line.strip()
    program, args = split_program(text)
    out, _ = _run_simple(ctx, SimpleCommand(text, program, args), ctx.take_stdin(), via="direct")
    return out


def run_cmd_line(ctx: ShellContext, line: str, via: str) -> Output:
    """Run one cmd.exe line: steps joined by &, && and ||."""
    try:
        steps = parse_line(line, ctx.env)
    except CmdSyntaxError as exc:
        ctx.records.append({"text": line, "via": via, "ran": False, "syntax_error": str(exc)})
        return Output(stderr=lines(str(exc)), exit_code=CMD_SYNTAX_EXIT)
    stdout: list[str] = []
    stderr: list[str] = []
    last, delay = 0, 0.0
    for step in steps:
        if (step.connector == "&&" and last != 0) or (step.connector == "||" and last == 0):
            for command in step.pipeline:
                ctx.records.append(_record(ctx, command, via, ran=False))
            continue
        out = _run_pipeline(ctx, step.pipeline, via)
        stdout.append(out.stdout)
        stderr.append(out.stderr)
        last, delay = out.exit_code, delay + out.delay_s
        if out.hang:
            break
    return Output(
        "".join(stdout), "".join(stderr), last, hang=out.hang if steps else False, delay_s=delay
    )


def _run_pipeline(ctx: ShellContext, pipeline: tuple[SimpleCommand, ...], via: str) -> Output:
    piped: str | None = None
    stderr: list[str] = []
    out = Output()
    delay = 0.0
    for command in pipeline:
        stdin = ctx.take_stdin() if piped is None else piped
        out = _run_redirected(ctx, command, stdin, via)
        stderr.append(out.stderr)
        delay += out.delay_s
        piped = out.stdout
        if out.hang:
            break
    if len(stderr) == 1:
        return out  # one program: already the pipeline's output
    return Output(out.stdout, "".join(stderr), out.exit_code, out.hang, delay)


def _run_redirected(ctx: ShellContext, command: SimpleCommand, stdin: str, via: str) -> Output:
    if any(r.handle == 0 for r in command.redirections):
        stdin = ""  # input files are not simulated: the program reads an empty file
    out, record = _run_simple(ctx, command, stdin, via)
    if not command.redirections:
        return out
    stdout, stderr = out.stdout, out.stderr
    for redirection in command.redirections:
        if redirection.handle == 0:
            continue
        if redirection.target in ("&1", "&2"):
            if redirection.handle == 2 and redirection.target == "&1":
                stdout, stderr = stdout + stderr, ""
            elif redirection.handle == 1 and redirection.target == "&2":
                stdout, stderr = "", stderr + stdout
            continue
        written = stdout if redirection.handle == 1 else stderr
        record.setdefault("writes", []).append({**redirection.to_json(), "text": written})
        if redirection.handle == 1:
            stdout = ""
        else:
            stderr = ""
    return Output(stdout, stderr, out.exit_code, out.hang, out.delay_s)


def _record(ctx: ShellContext, command: SimpleCommand, via: str, ran: bool) -> dict[str, Any]:
    return {
        "text": command.text,
        "program": command.program,
        "args": command.args,
        "redirections": [r.to_json() for r in command.redirections],
        "via": via,
        "depth": ctx.depth,
        "ran": ran,
    }


def _run_simple(
    ctx: ShellContext, command: SimpleCommand, stdin: str, via: str
) -> tuple[Output, dict[str, Any]]:
    record = _record(ctx, command, via, ran=True)
    ctx.records.append(record)
    name = program_basename(command.program)
    if ctx.depth >= MAX_NESTING:
        out = Output(stderr=lines("lab: command nesting too deep"), exit_code=1)
    elif name == "cmd":
        out = _run_nested_cmd(ctx, command.args)
    elif name in _POWERSHELL:
        out = _run_powershell(ctx, command, stdin, record)
    elif name in PROGRAMS:
        invocation = Invocation(name, command.args, ctx.account, ctx.admin, stdin)
        out = PROGRAMS[name](ctx.view, invocation)
    else:
        out = Output(stderr=lines(*texts.not_recognized(command.program)), exit_code=1)
    record["exit_code"] = out.exit_code
    return out, record


def _run_nested_cmd(ctx: ShellContext, args: str) -> Output:
    inner = strip_cmd_switches(args)
    if inner is None:
        return Output()  # an interactive cmd.exe with no input exits at once
    ctx.depth += 1
    try:
        return run_cmd_line(ctx, inner, via="cmd")
    finally:
        ctx.depth -= 1


def _run_powershell(
    ctx: ShellContext, command: SimpleCommand, stdin: str, record: dict[str, Any]
) -> Output:
    unavailable = _powershell_unavailable(ctx.view.powershell, command.program)
    if unavailable is not None:
        return unavailable
    try:
        script = extract_powershell_script(command.args)
    except PowerShellArgumentError as exc:
        return Output(stderr=lines(str(exc)), exit_code=1)
    record["powershell_script"] = script
    if is_guard_script(script):
        return _run_guard(ctx, stdin)
    remaining = strip_wrapper_lines(script)
    if not remaining:
        return Output()
    if len(remaining) > 1:
        return Output(
            stderr=lines(
                f"lab: simulated PowerShell runs one native command line; this script has "
                f"{len(remaining)} lines"
            ),
            exit_code=1,
        )
    line = remaining[0]
    program, _ = split_program(line)
    if not is_native_program(program):
        return Output(stderr=lines(*texts.powershell_not_recognized(program)), exit_code=1)
    ctx.depth += 1
    try:
        return run_cmd_line(ctx, line, via="powershell")
    finally:
        ctx.depth -= 1


def _powershell_unavailable(availability: str, program: str) -> Output | None:
    """cmd.exe's answer when powershell.exe is not there or may not run."""
    if availability == "missing":
        return Output(stderr=lines(*texts.not_recognized(program)), exit_code=1)
    if availability == "blocked":
        return Output(stderr=lines(texts.BLOCKED_BY_POLICY), exit_code=1)
    return None


def _run_guard(ctx: ShellContext, stdin: str) -> Output:
    """fleetlogoff's guard script: check and logoff in one step (lab/guard.py)."""

    def record(program: str, args: str, exit_code: int) -> None:
        command = SimpleCommand(f"{program} {args}".strip(), program, args)
        entry = _record(ctx, command, "powershell", ran=True)
        entry["depth"] = ctx.depth + 1
        entry["exit_code"] = exit_code
        ctx.records.append(entry)

    return run_guard(ctx.view, ctx.account, ctx.admin, stdin, ctx.codepage, record)


def is_native_program(program: str) -> bool:
    """True for the programs the lab simulates (what PowerShell would find on PATH)."""
    name = program_basename(program)
    return name in PROGRAMS or name == "cmd"


def line_reads_stdin(line: str, env: Mapping[str, str], depth: int = 0) -> bool:
    """True when the first program of the line reading stdin is msg without a text."""
    try:
        steps = parse_line(line, env)
    except CmdSyntaxError:
        return False
    for step in steps:
        command = step.pipeline[0]
        if any(r.handle == 0 for r in command.redirections):
            continue
        if _command_reads_stdin(command, env, depth):
            return True
    return False


def _command_reads_stdin(command: SimpleCommand, env: Mapping[str, str], depth: int) -> bool:
    name = program_basename(command.program)
    if depth >= MAX_NESTING:
        return False
    if name == "cmd":
        inner = strip_cmd_switches(command.args)
        return inner is not None and line_reads_stdin(inner, env, depth + 1)
    if name in _POWERSHELL:
        try:
            script = extract_powershell_script(command.args)
        except PowerShellArgumentError:
            return False
        if is_guard_script(script):
            return True  # its targets come on stdin ($input)
        remaining = strip_wrapper_lines(script)
        return len(remaining) == 1 and line_reads_stdin(remaining[0], env, depth + 1)
    return reads_stdin(name, command.args)
