"""The guarded logoff and the guarded message, as text: a constant PowerShell script,
what it reads on stdin, and how its answer is read. Pure: no I/O (guard.py runs it on a
host).

Why on the host: Windows hands a freed session id to the next logon at once, so a check
made with one command and a logoff sent with the next leaves a window of network round
trips in which `logoff ID` ends a newcomer's session. Here the check and the logoff are
one command: for each target the script runs quser, logs the session off only when the
row with that id still shows the planned user and logon time as printed, and says what it
did. The window is the host's milliseconds between quser and logoff.exe.

Warnings, reminders and cancel notices go the same way (a `message` line instead of a
`target` line): `msg ID` sent a network round trip after the check would tell a newcomer
who took the freed id that they are about to be logged off, and the audit log would say
the planned user was warned.

Design notes (with the sources they come from):

* **Nothing from a user on a command line** (README promise). The command line is
  constant: `powershell.exe ... -EncodedCommand <base64 of this constant script>`; the
  targets travel on **stdin**, read by the script as `$input`. Ansible's winrm connection
  feeds its pipelined module payload the same way: `exec_command` sends `in_data` through
  WinRS Send to `PowerShell -NoProfile -NonInteractive -EncodedCommand <bootstrap>`, and
  `bootstrap_wrapper.ps1` reads it with `$inputData = $input` (ansible/ansible,
  lib/ansible/plugins/connection/winrm.py and lib/ansible/executor/powershell/).
* **Only ASCII crosses the wire.** Ansible's payload is `json.dumps` output, pure ASCII,
  so the console input code page cannot damage it. Here every text (user name, logon
  time, quser's rows, logoff's error) travels as decimal UTF-16 code units, `98,111,98`:
  digits and commas only, so neither stdin's code page, nor the output's, nor a line
  break or quote inside a user name can change what the other side reads. The script's
  own output is ASCII for the same reason. (Base64 would be shorter, but
  [Convert]/[Text.Encoding] calls are refused in Constrained Language Mode; a [char]
  cast is not.)
* **Native output inside the script is decoded right.** PowerShell decodes what a native
  command writes to a pipe with [Console]::OutputEncoding (jborean93 in
  PowerShell/PowerShell#18156; the console-encoding guide in jborean93's gist 44b4688c),
  which follows the console's output code page; quser.exe and logoff.exe encode with that
  same code page when their output is redirected. Under WinRS that code page is the
  shell's WINRS_CODEPAGE (65001 unless fleetlogoff_codepage says otherwise), so the rows
  the script compares are the rows the controller would have read. A name the code page
  cannot show reaches both sides as the same '?', and the planner never targets a row
  with '?' (parsers.encoding.find_damage).
* **Output lines are not wrapped**: plain strings written with Write-Output go out as
  one line whatever their length (Ansible's exec wrapper returns a module's whole JSON
  result the same way).
* **msg.exe's text is piped to it** (`$text | msg.exe ID /TIME:n`), never put on its
  command line, where PowerShell 5.1's quoting of an embedded `"` could change msg's
  arguments. PowerShell writes piped text with $OutputEncoding (ASCII by default in 5.1),
  so the script first sets it to [Console]::OutputEncoding, the code page the
  controller's own `msg ID` input used (WINRS_CODEPAGE). Where that assignment is refused
  (Constrained Language Mode), a text that is not plain ASCII is not sent and the target
  fails "not warned": never a warning garbled into question marks. The same line is the
  known remedy for PowerShell 5.1 handing native programs '?' (jhoneill, "Text encoding,
  code pages, UTF-8 and why ellipsis becomes ...", 2023, after PowerShell/PowerShell#18156;
  HKUDS/nanobot#5160 set $OutputEncoding from the console's UTF-8 encoding and its Windows
  test saw the exact UTF-8 bytes arrive). NOT VERIFIED here on a real Windows host (none);
  the lab carries out the same meaning.
* **The cmd.exe line limit** (8191 characters, Microsoft's "Command prompt (Cmd.exe)
  command-line string limitation") bounds the script: base64 of UTF-16 costs 8/3
  characters per character, so the script stays under 2,900 characters (aliases `%` and
`?` for ForEach-Object and Where-Object keep it there; a test holds the line limit).
* **When PowerShell is missing or blocked** (not installed, AppLocker or a software
  restriction policy, Constrained Language Mode failing a call), the script prints no
  result line for a target, and that target fails with the host's own words: nothing is
  logged off without the check.

How the script recognises the planned row, conservatively (a false "kept" only skips a
logoff; the controller then reads the rows itself and says why):
the row without its marker column starts with the planned user name (case-insensitive)
followed by at least two blanks (quser's user column is 22 wide for names of at most 20,
FORMATS.md §1); after the name come an optional session name (`console`, or a name with
`#` such as `rdp-tcp#12`), the id, the state and idle words, and the row ends with the
planned logon text (whitespace-normalised, case-sensitive).
"""

from __future__ import annotations

import base64
import functools
import re
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

GUARD_TAG = "fleetlogoff-guard"
PROTOCOL = 1

# The script, byte for byte (the lab recognises it by its exact text). Functions:
# Enc/Dec turn text into code units and back ('-' stands for the empty text); Words
# splits on blanks; Test-Row is the row check described above.
GUARD_SCRIPT = r"""$tag = 'fleetlogoff-guard'
$wide = $true; try { $OutputEncoding = [Console]::OutputEncoding } catch { $wide = $false }
function Enc([string]$s) {
  if (-not $s) { return '-' }; ($s.ToCharArray() | % { [int]$_ }) -join ','
}
function Dec([string]$s) {
  if ($s -eq '-') { return '' }; -join ($s.Split(',') | % { [char][int]$_ })
}
function Words([string]$s) { @($s -split '\s+' | ? { $_ }) }
function Test-Row([string]$line, $t) {
  if ($line.Length -lt 2) { return $false }
  $s = $line.Substring(1); $u = $t.User
  if ($s.Length -lt $u.Length + 2) { return $false }
  if ($s.Substring(0, $u.Length) -ne $u -or $s.Substring($u.Length, 2) -ne '  ') { return $false }
  $w = @(Words $s.Substring($u.Length)); $g = @(Words $t.Logon); $n = $w.Count - $g.Count
  if ($g.Count -lt 1 -or $n -lt 3) { return $false }
  if (($w[$n..($w.Count - 1)] -join ' ') -cne ($g -join ' ')) { return $false }
  if ($w[0] -ceq $t.Id) { return $true }
  return ($n -ge 4 -and $w[1] -ceq $t.Id -and ($w[0] -eq 'console' -or $w[0].Contains('#')))
}
function Split-Output($out) {
  $e = [Management.Automation.ErrorRecord]
  $o = @($out | ? { $_ -isnot $e } | % { [string]$_ })
  $r = @($out | ? { $_ -is $e } | % { [string]$_ })
  return @{ Out = ($o -join "`n"); Err = ($r -join "`n"); Rows = $o }
}
$lines = @($input | % { ([string]$_).TrimEnd() })
$targets = @()
$ok = $lines.Count -ge 3 -and $lines[0] -ceq "$tag 1" -and $lines[-1] -cmatch '^end (\d{1,4})$'
if ($ok) {
  $want = [int]$Matches[1]
  $re = '^(target|message) (\d{1,5}) (-|[0-9,]+) (-|[0-9,]+)(?: (\d{1,5}) (-|[0-9,]+))?$'
  foreach ($line in $lines[1..($lines.Count - 2)]) {
    if ($line -cmatch $re) {
      $m = $Matches; $t = @{ Id = $m[2]; User = (Dec $m[3]); Logon = (Dec $m[4]); Text = $null }
      if (($m[1] -eq 'message') -ne ($null -ne $m[5])) { $ok = $false }
      if ($m[5]) { $t.Time = $m[5]; $t.Text = (Dec $m[6]) }
      $targets += $t
    } else { $ok = $false }
  }
  $ok = $ok -and $targets.Count -eq $want
}
if (-not $ok) { "$tag - error $(Enc 'unreadable input')"; exit 1 }
foreach ($t in $targets) {
  try {
    $q = Split-Output @(& quser.exe 2>&1)
    $hit = @($q.Rows | ? { Test-Row $_ $t })
    if ($hit.Count -ne 1) { "$tag $($t.Id) kept $(Enc $q.Out) $(Enc $q.Err)"; continue }
    if ($null -eq $t.Text) { $said = @(& logoff.exe $t.Id 2>&1); $done = 'logged_off' }
    elseif ($wide -or $t.Text -cmatch '^[\x00-\x7E]*$') {
      $said = @($t.Text | & msg.exe $t.Id "/TIME:$($t.Time)" 2>&1); $done = 'messaged'
    } else {
      "$tag $($t.Id) failed - $(Enc 'text not ASCII, output encoding not settable')"; continue
    }
    $code = [int]$LASTEXITCODE; $l = Split-Output $said
    if ($l.Err -or $code -ne 0) { "$tag $($t.Id) failed $code $(Enc ($l.Out + "`n" + $l.Err))" }
    else { "$tag $($t.Id) $done" }
  } catch { "$tag $($t.Id) failed - $(Enc $_.Exception.Message)" }
}
"""

_COMMON_ARGS = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand"
# cmd.exe's longest command line (Microsoft: "Command prompt (Cmd.exe) command-line
# string limitation", 8191 characters).
CMD_LINE_LIMIT = 8191


@functools.cache
def guard_command_line() -> str:
    """The one command line the guard runs: constant, whatever the targets (so it is
    encoded once per process: 7.7 KB of base64, twice per host in an apply)."""
    encoded = base64.b64encode(GUARD_SCRIPT.encode("utf-16-le")).decode("ascii")
    return f"powershell.exe {_COMMON_ARGS} {encoded}"


@dataclass(frozen=True, slots=True)
class GuardTarget:
    """A session to log off if, and only if, the host still shows it as planned.

    Attributes:
        session_id: the Windows session id.
        username: the user name as quser printed it at plan time.
        logon_text: the LOGON TIME field as quser printed it.
    """

    session_id: int
    username: str
    logon_text: str


@dataclass(frozen=True, slots=True)
class GuardMessage:
    """A text to show in a session if, and only if, the host still shows it as planned.

    Attributes:
        target: the planned session.
        text: the message (any characters; it travels as code units).
        display_s: msg's /TIME, whole seconds (1 to 99999).
    """

    target: GuardTarget
    text: str
    display_s: int


def encode_text(text: str) -> str:
    """Text as decimal UTF-16 code units joined by commas ("-" for the empty text).

    The units are read by array in C (native order, swapped on a big-endian machine): a
    warning of 200 characters, sent once per target, took 70 us unit by unit in Python.
    """
    units = array("H", text.encode("utf-16-le", "surrogatepass"))
    if sys.byteorder == "big":
        units.byteswap()
    return ",".join(map(str, units)) or "-"


def decode_text(field: str) -> str:
    """The inverse of encode_text; a malformed field raises ValueError."""
    if field == "-":
        return ""
    units = [int(unit) for unit in field.split(",")]
    if any(not 0 <= unit <= 0xFFFF for unit in units):
        raise ValueError("code unit out of range")
    data = b"".join(unit.to_bytes(2, "little") for unit in units)
    return data.decode("utf-16-le", "replace")


MAX_DISPLAY_S = 99_999  # what the script's `message` line accepts (five digits)


def guard_payload(targets: Sequence[GuardTarget | GuardMessage]) -> bytes:
    """What the script reads on stdin: a header, one line per target (`target` to log
    off, `message` to show a text), an end count.

    ASCII only (digits, commas, words), CRLF line ends (PowerShell's stdin reader takes
    either). Answers are keyed by session id, so one payload names each id once.

    Raises:
        ValueError: two targets with one id, or a display time out of range.
    """
    ids = [_target_of(t).session_id for t in targets]
    if len(set(ids)) != len(ids):
        raise ValueError("one session id twice in one guarded command")
    lines = [f"{GUARD_TAG} {PROTOCOL}"]
    for item in targets:
        target = _target_of(item)
        user, logon = encode_text(target.username), encode_text(target.logon_text)
        if isinstance(item, GuardMessage):
            if not 1 <= item.display_s <= MAX_DISPLAY_S:
                raise ValueError(f"display time {item.display_s} s out of range")
            text = encode_text(item.text)
            lines.append(f"message {target.session_id} {user} {logon} {item.display_s} {text}")
        else:
            lines.append(f"target {target.session_id} {user} {logon}")
    lines.append(f"end {len(targets)}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _target_of(item: GuardTarget | GuardMessage) -> GuardTarget:
    return item.target if isinstance(item, GuardMessage) else item


GuardStatus = Literal["logged_off", "messaged", "kept", "failed"]


@dataclass(frozen=True, slots=True)
class GuardResult:
    """What the host did with one target.

    Attributes:
        status: logged_off (checked, logoff.exe ran and reported nothing), messaged
            (checked, msg.exe ran and reported nothing), kept (the check
            did not match: nothing was done; `rows`/`errors` are quser's output), failed
            (logoff.exe or msg.exe reported an error, the script failed, or the answer is
            unreadable).
        rows: quser's stdout as the script saw it (kept).
        errors: quser's stderr (kept).
        text: logoff.exe's, msg.exe's or the host's own words (failed).
        exit_code: their exit code when they ran and failed.
    """

    status: GuardStatus
    rows: str = ""
    errors: str = ""
    text: str = ""
    exit_code: int | None = None


_RESULT = re.compile(
    rf"^{GUARD_TAG} (?P<id>\d+) (?:(?P<done>logged_off|messaged)"
    r"|kept (?P<rows>-|[0-9,]+) (?P<errors>-|[0-9,]+)"
    r"|failed (?P<code>-?\d+|-) (?P<text>-|[0-9,]+))$"
)
_ERROR = re.compile(rf"^{GUARD_TAG} - error (?P<text>-|[0-9,]+)$")


def read_guard_output(
    stdout: str, stderr: str, targets: Sequence[GuardTarget | GuardMessage]
) -> list[GuardResult]:
    """One result per target, in order. Anything unexpected is a failure carrying the
    host's text, never a success: a missing, repeated or malformed line, a script error.

    Args:
        stdout: the script's stdout, decoded.
        stderr: its stderr, decoded (PowerShell's or cmd.exe's complaints).
        targets: what was sent.
    """
    found: dict[int, list[GuardResult]] = {}
    noise: list[str] = []
    script_error = ""
    for raw in stdout.splitlines():
        line = raw.strip()
        if not line:
            continue
        result, session_id = _read_line(line)
        if result is None:
            error = _ERROR.match(line)
            if error is not None:
                script_error = _decode_or(error["text"], line)
            else:
                noise.append(line)
            continue
        found.setdefault(session_id, []).append(result)
    host_text = script_error or _one_line(" ".join([*noise, stderr])) or "no answer"
    results = []
    for item in targets:
        answers = found.get(_target_of(item).session_id, [])
        expected = "messaged" if isinstance(item, GuardMessage) else "logged_off"
        if len(answers) == 1 and answers[0].status in (expected, "kept", "failed"):
            results.append(answers[0])
        elif len(answers) == 1:
            results.append(
                GuardResult("failed", text=f"the host guard answered {answers[0].status}")
            )
        elif answers:
            results.append(GuardResult("failed", text="conflicting answers from the host guard"))
        else:
            results.append(GuardResult("failed", text=host_text))
    return results


def _read_line(line: str) -> tuple[GuardResult | None, int]:
    match = _RESULT.match(line)
    if match is None:
        return None, -1
    session_id = int(match["id"])
    try:
        if match["done"]:
            return GuardResult("logged_off" if match["done"] == "logged_off" else "messaged"), (
                session_id
            )
        if match["rows"] is not None:
            return (
                GuardResult(
                    "kept", rows=decode_text(match["rows"]), errors=decode_text(match["errors"])
                ),
                session_id,
            )
        code = None if match["code"] == "-" else int(match["code"])
        return GuardResult("failed", text=decode_text(match["text"]), exit_code=code), session_id
    except ValueError:
        return GuardResult(
            "failed", text=f"unreadable answer from the host guard: {line[:120]}"
        ), session_id


def _decode_or(field: str, fallback: str) -> str:
    try:
        return decode_text(field)
    except ValueError:
        return fallback


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]
