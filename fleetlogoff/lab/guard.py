"""fleetlogoff's guard PowerShell script (guarded logoff and guarded message), as a
simulated host runs it.

The lab runs no PowerShell. It recognises the tool's guard script by its exact text (a
SHA-256 of the decoded -EncodedCommand; any other script keeps the generic one-line
behaviour of shell.py) and carries out what the script means, against the host's session
store, while the host holds its lock: the check and the logoff are atomic, as they are
on Windows within one command, and nothing else can happen between them. The rows the
check compares are the host's own quser output in its language, passed through its code
page the way PowerShell reads a native command's output ([Console]::OutputEncoding =
the console code page, so an unencodable character arrives as '?').

Protocol (stdin and output lines) as fleetlogoff/guard_script.py documents it.
"""

from __future__ import annotations

import hashlib
import re
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fleetlogoff.lab.commands import (
    HostView,
    Invocation,
    Output,
    lines,
    run_logoff,
    run_msg,
    run_quser,
)

# sha256 of the UTF-8 text of fleetlogoff.guard_script.GUARD_SCRIPT (tests/lab/
# test_guard.py checks that the two agree).
GUARD_SCRIPT_SHA256 = "3d08db959c5d6d022310a3f76956dfc16a76e57fa4d5297400518fe73a5d7095"
TAG = "fleetlogoff-guard"
_TARGET = re.compile(
    r"^(target|message) (\d{1,5}) (-|[0-9,]+) (-|[0-9,]+)(?: (\d{1,5}) (-|[0-9,]+))?$"
)
_END = re.compile(r"^end (\d{1,4})$")

Record = Callable[[str, str, int], None]
"""Records one program the script ran: (program, args, exit code)."""


@lru_cache(maxsize=64)
def is_guard_script(script: str) -> bool:
    """True for exactly the tool's guard script (cached: every host gets the same one)."""
    return hashlib.sha256(script.encode("utf-8")).hexdigest() == GUARD_SCRIPT_SHA256


@dataclass(frozen=True, slots=True)
class _Target:
    session_id: str
    user: str
    logon: str
    display_s: str = ""
    text: str | None = None  # a message to show; None: log off


def run_guard(
    view: HostView, account: str, admin: bool, stdin: str, codepage: int, record: Record
) -> Output:
    """Run the guard script's semantics; `record` is told of every program it runs."""
    targets = _read_targets(stdin)
    if targets is None:
        return Output(stdout=lines(f"{TAG} - error {_enc('unreadable input')}"), exit_code=1)
    out: list[str] = []
    delay = 0.0
    for target in targets:
        quser = run_quser(view, Invocation("quser", "", account, admin))
        record("quser.exe", "", quser.exit_code)
        rows = _as_powershell_reads(quser.stdout, codepage)
        errors = _as_powershell_reads(quser.stderr, codepage)
        hits = [row for row in rows if _test_row(row, target)]
        if len(hits) != 1:
            out.append(f"{TAG} {target.session_id} kept {_enc(_join(rows))} {_enc(_join(errors))}")
            continue
        said, done = _act(view, target, account, admin, codepage, record)
        if said.hang:
            return Output(hang=True)
        delay += said.delay_s
        said_out = _as_powershell_reads(said.stdout, codepage)
        said_err = _as_powershell_reads(said.stderr, codepage)
        if said_err or said.exit_code != 0:
            text = _join(said_out) + "\n" + _join(said_err)
            out.append(f"{TAG} {target.session_id} failed {said.exit_code} {_enc(text)}")
        else:
            out.append(f"{TAG} {target.session_id} {done}")
    return Output(stdout=lines(*out), delay_s=delay)


def _act(
    view: HostView, target: _Target, account: str, admin: bool, codepage: int, record: Record
) -> tuple[Output, str]:
    """logoff.exe, or msg.exe with the text piped in as PowerShell writes it: in the
    console code page. (PowerShell also adds a line end, which msg shows as an empty last
    line; the lab leaves it out so the message reads as the tool's text.)"""
    if target.text is None:
        said = run_logoff(view, Invocation("logoff", target.session_id, account, admin))
        record("logoff.exe", target.session_id, said.exit_code)
        return said, "logged_off"
    args = f"{target.session_id} /TIME:{target.display_s}"
    piped = _through_codepage(target.text, codepage)
    said = run_msg(view, Invocation("msg", args, account, admin, stdin=piped))
    record("msg.exe", args, said.exit_code)
    return said, "messaged"


def _read_targets(stdin: str) -> list[_Target] | None:
    """The targets, or None when the input is not exactly what the script accepts."""
    given = [line.rstrip() for line in stdin.splitlines()]
    if len(given) < 3 or given[0] != f"{TAG} 1":
        return None
    end = _END.match(given[-1])
    if end is None:
        return None
    targets = []
    for line in given[1:-1]:
        match = _TARGET.match(line)
        if match is None or (match[1] == "message") != (match[5] is not None):
            return None
        try:
            text = _dec(match[6]) if match[5] is not None else None
            targets.append(_Target(match[2], _dec(match[3]), _dec(match[4]), match[5] or "", text))
        except (ValueError, OverflowError):  # PowerShell's [char][int] cast fails the same
            return None
    return targets if len(targets) == int(end[1]) else None


def _test_row(line: str, target: _Target) -> bool:
    """The script's Test-Row, character for character in meaning."""
    if len(line) < 2:
        return False
    text, user = line[1:], target.user
    if len(text) < len(user) + 2:
        return False
    if text[: len(user)].lower() != user.lower() or text[len(user) : len(user) + 2] != "  ":
        return False
    words, logon = text[len(user) :].split(), target.logon.split()
    count = len(words) - len(logon)
    if not logon or count < 3 or words[count:] != logon:
        return False
    if words[0] == target.session_id:
        return True
    named = words[0].lower() == "console" or "#" in words[0]
    return count >= 4 and words[1] == target.session_id and named


def _as_powershell_reads(text: str, codepage: int) -> list[str]:
    """A native command's output as PowerShell receives it: encoded in the console code
    page (unencodable characters become '?'), decoded with the same code page, one
    string per line, without line ends."""
    return _through_codepage(text, codepage).splitlines()


def _through_codepage(text: str, codepage: int) -> str:
    """Text after a trip through the code page: what it cannot encode becomes '?'."""
    codec = "utf-8" if codepage == 65001 else f"cp{codepage}"
    try:
        return text.encode(codec, errors="replace").decode(codec, errors="replace")
    except LookupError:
        return text


def _join(items: list[str]) -> str:
    return "\n".join(items)


def _enc(text: str) -> str:
    units = array("H", text.encode("utf-16-le", "surrogatepass"))
    if sys.byteorder == "big":
        units.byteswap()  # the array holds native-order code units
    return ",".join(map(str, units)) or "-"


@lru_cache(maxsize=4096)
def _dec(field: str) -> str:
    """A text field of the script's input (a warning repeats for every target of a run:
    decoded once)."""
    if field == "-":
        return ""
    # A unit above 0xFFFF raises OverflowError, an empty one ValueError (as int.to_bytes
    # and int() would): PowerShell's [char][int] cast fails on both.
    units = array("H", map(int, field.split(",")))
    if sys.byteorder == "big":
        units.byteswap()
    return units.tobytes().decode("utf-16-le", "replace")
