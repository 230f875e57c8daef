"""How cmd.exe and powershell.exe turn one command line into the commands Windows runs.

cmd.exe (the shell WinRS starts unless WINRS_SKIP_CMD_SHELL is set) works in phases:
1. `%VAR%` expansion over the whole line, quotes or not; on a command line (unlike a
   batch file) an undefined `%NAME%` and a lone `%` stay as typed.
2. Splitting at `&`, `&&`, `||`, `|` and cutting out `>`, `>>`, `<`, `2>`, `2>&1`
   redirections; inside double quotes every operator is literal; `^` outside quotes
   makes the next character literal and is removed.
The program then receives the rest of its command text as one string and parses its
own arguments (MSVCRT rules, `split_arguments`).

Not simulated (the lab records such lines and runs what it can): parentheses blocks,
`if`/`for`, delayed `!VAR!` expansion, `%VAR:~n,m%` substrings.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

_OPERATOR_CHARS = "&|<>"
# A run of characters cmd.exe passes through as they are (no operator, caret or quote).
_PLAIN_RUN = re.compile(r'[^&|<>^"]+')
# A run of characters an argument takes as they are, outside quotes and inside them.
_ARGUMENT_RUN = re.compile(r'[^\\" \t]+')
_QUOTED_RUN = re.compile(r'[^\\"]+')
# A cmd.exe switch other than /C or /K, with its value if any (`/v:on`, `/t:0a`, `/s`).
_CMD_OTHER_SWITCH = re.compile(r'/[^/\s"]*')


class CmdSyntaxError(ValueError):
    """cmd.exe refuses the line before running anything (e.g. `|| was unexpected`)."""


@dataclass(frozen=True, slots=True)
class Redirection:
    """One redirection cmd.exe applies (recorded by the lab, never executed).

    Attributes:
        handle: 0 stdin, 1 stdout, 2 stderr.
        operator: ">", ">>" or "<".
        target: file name as written, or "&1" / "&2" for a handle duplication.
    """

    handle: int
    operator: str
    target: str

    def to_json(self) -> dict[str, object]:
        """Return a JSON-able description."""
        return {"handle": self.handle, "operator": self.operator, "target": self.target}


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One program invocation inside a cmd.exe line.

    Attributes:
        text: the command as cmd.exe hands it over (expanded, carets removed, quotes
            kept, redirections cut out).
        program: the program name as typed, quotes removed (may carry a path/.exe).
        args: everything after the program name (quotes kept), for the program to parse.
        redirections: the redirections written on this command.
    """

    text: str
    program: str
    args: str
    redirections: tuple[Redirection, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """A pipeline (commands joined by `|`) and how it attaches to the previous step.

    Attributes:
        connector: "" for the first step, else "&", "&&" or "||".
        pipeline: the commands of the pipeline, in order.
    """

    connector: str
    pipeline: tuple[SimpleCommand, ...]


def expand_variables(line: str, env: Mapping[str, str]) -> str:
    """Expand `%NAME%` the way cmd.exe does on an interactive/`/c` command line.

    Args:
        line: the raw command line.
        env: variables, looked up case-insensitively.
    """
    if "%" not in line:
        return line
    lowered = {key.lower(): value for key, value in env.items()}
    out: list[str] = []
    i = 0
    while (start := line.find("%", i)) >= 0:
        out.append(line[i:start])
        end = line.find("%", start + 1)
        name = line[start + 1 : end].lower() if end > start + 1 else None
        if name is not None and name in lowered:
            out.append(lowered[name])
            i = end + 1
        else:
            out.append("%")
            i = start + 1
    out.append(line[i:])
    return "".join(out)


def parse_line(line: str, env: Mapping[str, str]) -> list[Step]:
    """Split a cmd.exe command line into steps (see the module docstring).

    Raises:
        CmdSyntaxError: an operator has no command before it, as cmd.exe reports.
    """
    return list(_parse_expanded(expand_variables(line, env)))


@lru_cache(maxsize=64)
def _parse_expanded(expanded: str) -> tuple[Step, ...]:
    """parse_line after expansion (cached: steps are immutable, and each host parses each
    line twice, once to see whether it reads stdin and once to run it)."""
    steps: list[Step] = []
    connector = ""
    pipeline: list[SimpleCommand] = []
    for text, redirections, operator in _split_operators(expanded):
        command = _make_command(text, redirections)
        if command is None:
            if operator:
                raise CmdSyntaxError(f"{operator} was unexpected at this time.")
            if pipeline or connector in ("&&", "||"):
                raise CmdSyntaxError("The syntax of the command is incorrect.")
            break
        pipeline.append(command)
        if operator != "|":
            steps.append(Step(connector, tuple(pipeline)))
            pipeline, connector = [], operator
    return tuple(steps)


def _split_operators(line: str) -> list[tuple[str, tuple[Redirection, ...], str]]:
    """Return (command text, redirections, operator after it) triples."""
    parts: list[tuple[str, tuple[Redirection, ...], str]] = []
    buf: list[str] = []
    redirections: list[Redirection] = []
    i = 0
    while i < len(line):
        # Ordinary text, and a quoted part with its quotes, go over whole: a 6 KB
        # -EncodedCommand line is one run (the lab serves many of them).
        plain = _PLAIN_RUN.match(line, i)
        if plain is not None:
            buf.append(plain.group())
            i = plain.end()
            continue
        ch = line[i]
        if ch == '"':
            end = line.find('"', i + 1)
            end = len(line) - 1 if end < 0 else end
            buf.append(line[i : end + 1])
            i = end + 1
        elif ch == "^":
            if i + 1 < len(line):
                buf.append(line[i + 1])
            i += 2
        elif ch in "<>":
            i = _read_redirection(line, i, buf, redirections)
        else:
            doubled = line[i + 1 : i + 2] == ch
            operator = ch * 2 if doubled else ch
            parts.append(("".join(buf), tuple(redirections), operator))
            buf, redirections = [], []
            i += 2 if doubled else 1
    parts.append(("".join(buf), tuple(redirections), ""))
    return parts


def _read_redirection(line: str, i: int, buf: list[str], out: list[Redirection]) -> int:
    """Read a redirection starting at line[i] (`<` or `>`); return the index after it."""
    handle = 0 if line[i] == "<" else 1
    # A single digit glued to the operator and preceded by a blank is the handle (2>).
    before = "".join(buf)
    if before and is_number(before[-1]) and (len(before) == 1 or before[-2].isspace()):
        handle = int(before[-1])
        buf[:] = [before[:-1]]
    operator = line[i]
    i += 1
    if operator == ">" and line[i : i + 1] == ">":
        operator, i = ">>", i + 1
    if line[i : i + 1] == "&" and is_number(line[i + 1 : i + 2]):
        out.append(Redirection(handle, operator, "&" + line[i + 1]))
        return i + 2
    while i < len(line) and line[i] in " \t":
        i += 1
    start, in_quotes = i, False
    while i < len(line) and (in_quotes or line[i] not in " \t" + _OPERATOR_CHARS):
        in_quotes = in_quotes != (line[i] == '"')
        i += 1
    out.append(Redirection(handle, operator, line[start:i].replace('"', "")))
    buf.append(" ")
    return i


def _make_command(text: str, redirections: tuple[Redirection, ...]) -> SimpleCommand | None:
    stripped = text.strip(" \t\r\n")
    if not stripped:
        return None
    program, args = split_program(stripped)
    return SimpleCommand(stripped, program, args, redirections)


def is_number(text: str) -> bool:
    """True for a non-empty run of ASCII digits, the only digits Windows tools read.

    str.isdigit() alone also accepts '²', which int() rejects: a crash on hostile input.
    """
    return text.isascii() and text.isdigit()


def split_program(text: str) -> tuple[str, str]:
    """Split command text into the program name (unquoted) and its argument text."""
    if text.startswith('"'):
        end = text.find('"', 1)
        end = len(text) if end < 0 else end
        return text[1:end], text[end + 1 :].lstrip(" \t")
    match = re.match(r"[^\s/]+", text)
    if match is None:  # starts with '/': a switch with no program
        return text, ""
    return match.group(0), text[match.end() :].lstrip(" \t")


def split_arguments(args: str) -> list[str]:
    """Split argument text into argv like the Microsoft C runtime does.

    Blanks separate arguments outside quotes; quotes are removed; 2n backslashes before
    a quote give n backslashes, 2n+1 give n and a literal quote.
    """
    argv: list[str] = []
    current: list[str] = []
    has_arg = False
    in_quotes = False
    i = 0
    while i < len(args):
        ch = args[i]
        if ch == "\\":
            count = len(args[i:]) - len(args[i:].lstrip("\\"))
            if args[i + count : i + count + 1] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    i += 1
                i += count
            else:
                current.append("\\" * count)
                i += count
            has_arg = True
            continue
        run = (_QUOTED_RUN if in_quotes else _ARGUMENT_RUN).match(args, i)
        if run is not None:
            current.append(run.group())
            has_arg = True
            i = run.end()
            continue
        if ch == '"':
            in_quotes = not in_quotes
            has_arg = True
        elif ch in " \t" and not in_quotes:
            if has_arg:
                argv.append("".join(current))
            current, has_arg = [], False
        else:
            current.append(ch)
            has_arg = True
        i += 1
    if has_arg:
        argv.append("".join(current))
    return argv


def program_basename(program: str) -> str:
    """Return the lower-case program name without directory and `.exe`."""
    name = re.split(r"[\\/]", program)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def strip_cmd_switches(args: str) -> str | None:
    """For `cmd [switches] /c LINE` (or /k), return LINE as cmd.exe runs it, else None.

    Other switches may carry a value (`/v:on`, `/t:0a`) or be glued together (`/s/c`), and
    /C may be glued to its line (`/cwhoami`): cmd.exe runs the inner line in every case, so
    the lab must too, or an injected command would run unrecorded.
    """
    rest = args
    while True:
        rest = rest.lstrip(" \t")
        if len(rest) < 2 or rest[0] != "/":
            return None
        if rest[1] in "cCkK":
            return _strip_outer_quotes(rest[2:])
        switch = _CMD_OTHER_SWITCH.match(rest)
        rest = rest[switch.end() :] if switch else ""


def _strip_outer_quotes(line: str) -> str:
    """Apply cmd /?'s quote rule 2: drop the first character if it is a quote, and the
    last quote of the line, keeping any text after it. Rule 1 (keep both quotes around
    an executable name with blanks) never applies: no simulated program has a blank."""
    line = line.strip(" \t")
    if not line.startswith('"'):
        return line
    last = line.rfind('"')
    return line[1:] if last == 0 else line[1:last] + line[last + 1 :]


# Lines Ansible may wrap around a raw command (reference/clients.md item 1).
_WRAPPER_PATTERNS = (
    re.compile(r"^set-strictmode\s+-version\s+latest$", re.IGNORECASE),
    re.compile(r"^if\s*\(\s*-not\s+\$\?\s*\)\s*\{.*\}$", re.IGNORECASE),
    re.compile(r"^try\s*\{\s*\[console\]::outputencoding.*\}\s*catch\s*\{\s*\}$", re.IGNORECASE),
)
_ENCODED_SWITCHES = {"encodedcommand", "enc", "e", "ec"}
_COMMAND_SWITCHES = {"command", "c"}
# PowerShell switches that take a value (skipped while looking for the script).
_VALUE_SWITCHES = {"executionpolicy", "ep", "ex", "inputformat", "outputformat", "windowstyle"}


class PowerShellArgumentError(ValueError):
    """powershell.exe's arguments cannot be used (bad base64, no script, ...)."""


@lru_cache(maxsize=64)
def extract_powershell_script(args: str) -> str:
    """Return the script a `powershell.exe` command line carries.

    Handles `-EncodedCommand/-enc/-e/-ec B64` (UTF-16LE base64) and `-Command TEXT`.
    Cached: a host asks twice per command (does it read stdin? then run it), and a fleet
    sends the same 8 KB guard line to every host.

    Raises:
        PowerShellArgumentError: no script, or the base64 does not decode.
    """
    argv = split_arguments(args)
    i = 0
    while i < len(argv):
        switch = argv[i].lstrip("-/").lower() if argv[i][:1] in "-/" else ""
        if switch in _ENCODED_SWITCHES:
            if i + 1 >= len(argv):
                raise PowerShellArgumentError("Missing the argument to -EncodedCommand.")
            return _decode_encoded(argv[i + 1])
        if switch in _COMMAND_SWITCHES:
            return " ".join(argv[i + 1 :])
        if not switch:
            return " ".join(argv[i:])
        i += 2 if switch in _VALUE_SWITCHES else 1
    raise PowerShellArgumentError("No command was given to powershell.exe.")


def _decode_encoded(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise PowerShellArgumentError(
            "Cannot process the command because the value specified with -EncodedCommand "
            "is not properly encoded. The value must be Base64 encoded."
        ) from exc


def strip_wrapper_lines(script: str) -> list[str]:
    """Return the script's non-blank lines without Ansible's optional wrapper lines."""
    lines = [line.strip() for line in script.splitlines()]
    return [line for line in lines if line and not any(p.match(line) for p in _WRAPPER_PATTERNS)]
