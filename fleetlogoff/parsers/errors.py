"""Classifying the texts quser/qwinsta print instead of a table.

Exit codes are unreliable (FORMATS.md §1.6: query.exe returns 1 even with sessions), so
the outcome is decided from the text alone.
"""

from __future__ import annotations

import re

from fleetlogoff.errors import HostCommandError

# "No User exists for *" (quser) / "No session exists for *" (qwinsta): nobody is logged
# on, or the caller may not see sessions (FORMATS.md §1.6, §2).
_NO_SESSION = re.compile(r"^No (?:User|session) exists for \S.*$", re.IGNORECASE)
# "Error [1722]:The RPC server is unavailable." - real captures have no blank after "]:",
# Microsoft's KB 259436 text has one (FORMATS.md §3). Translated Windows keeps the shape
# and the number and translates the words ("Fehler [5]:Zugriff verweigert", French puts
# a blank before the colon), so the word before the bracket is not read.
_ERROR_CODE = re.compile(r"^\S+(?:\s\S+)?\s\[(\d{1,10})\]\s?:\s*(.*)$")
# "Error 0x000006BA enumerating sessionnames" (0x6BA = 1722, quser-en-us-error-1722);
# the words around the eight hex digits are translated too.
_ERROR_HEX = re.compile(r"^\S+\s0x([0-9A-Fa-f]{8})\b.*$")
_ERROR_OPENING = re.compile(r"^Error opening Terminal server (.+)$")
# msg's form: "Error 1722 getting session names" (msg-en-us-errors-01).
_ERROR_NUMBER = re.compile(r"^Error (\d+) getting session names$")
_INVALID_PARAMETERS = "Invalid parameter(s)"
_USAGE = re.compile(r"^QUERY (?:USER|SESSION) \[")


def _read_error_line(line: str) -> tuple[int | None, str] | None:
    """Return (code, text) when a line is a known Windows error line, else None."""
    for pattern in (_ERROR_CODE, _ERROR_HEX, _ERROR_NUMBER):
        match = pattern.match(line)
        if match is None:
            continue
        if pattern is _ERROR_CODE:
            return int(match.group(1)), match.group(2).strip()
        base = 16 if pattern is _ERROR_HEX else 10
        return int(match.group(1), base), line
    match = _ERROR_OPENING.match(line)
    if match is not None:
        return None, line
    return None


def _raise_known_error(command: str, lines: list[str]) -> None:
    """Raise HostCommandError when the text is a Windows error: any line carrying an error
    number (in any language), or only known error lines."""
    if any(line == _INVALID_PARAMETERS or _USAGE.match(line) for line in lines):
        raise HostCommandError(command, "invalid parameters (the command printed its usage)")
    read = [_read_error_line(line) for line in lines]
    errors = [item for item in read if item is not None]
    numbered = any(code is not None for code, _ in errors)
    if not errors or (not numbered and any(item is None for item in read)):
        return
    # The "Error [n]:text" line carries the human text; prefer it over "Error 0x...".
    code = next((code for code, _ in reversed(errors) if code is not None), None)
    reason = errors[-1][1]
    raise HostCommandError(command, reason, code)


def _says_nobody(line: str) -> bool:
    """A one-line answer naming the "*" selector and no number: "No User exists for *",
    and its translations ("Kein Benutzer vorhanden für *", index id 25256255871). quser
    and qwinsta run without a selector answer for "*"; errors carry a number."""
    if _NO_SESSION.match(line):
        return True
    return "*" in line.split() and not any(char.isdigit() for char in line)


# PowerShell wraps a native command's stderr: "quser : No User exists for *", then the
# position ("At line:1 char:1", translated: "Bei Zeile:1 Zeichen:1") and "+ ..." lines
# (najki78 comments, FORMATS.md §5). The message is the text after "quser : ".
_POWERSHELL_PREFIX = re.compile(r"^(?:quser|qwinsta|query)(?:\.exe)?\s:\s(?P<message>.+)$", re.I)
_POWERSHELL_POSITION = re.compile(r"^[^:]+:\s?\d+\s[^:]+:\s?\d+$")


def _unwrap(lines: list[str]) -> list[str]:
    """The lines without PowerShell's wrapping of a native command's error, if any."""
    if not lines or _POWERSHELL_PREFIX.match(lines[0]) is None:
        return lines
    kept = []
    for line in lines:
        prefixed = _POWERSHELL_PREFIX.match(line)
        if prefixed is not None:
            kept.append(prefixed["message"].strip())
        elif not line.startswith("+") and not _POWERSHELL_POSITION.match(line):
            kept.append(line)
    return kept


def classify_output(command: str, text: str) -> bool:
    """Classify output that holds no session table.

    Args:
        command: "quser" or "qwinsta" (used in the error).
        text: the whole output.

    Returns:
        True when the output says no session exists (so the caller returns []);
        False when the output is no known message at all.

    Raises:
        HostCommandError: the output is a Windows error (code parsed when printed).
    """
    lines = _unwrap([line.strip() for line in text.splitlines() if line.strip()])
    _raise_known_error(command, lines)
    return len(lines) == 1 and _says_nobody(lines[0])
