"""`fleetlogoff parse`: the admin's tool for an odd host's saved output, and the way the
parser is tried on outputs it has never seen."""

from __future__ import annotations

from typing import Literal

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.errors import ParseError, UsageError
from fleetlogoff.input_file import read_bounded
from fleetlogoff.parsers import (
    DateOrder,
    decode_output,
    parse_quser,
    parse_qwinsta,
    sessions_to_json,
)
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.registry import RegistryReadError, read_international
from fleetlogoff.visible import safe_json

# A saved quser or qwinsta output is a few KiB (a host's every session); the bound only
# keeps `parse quser /dev/zero` from filling memory.
MAX_OUTPUT_BYTES = 64 * 2**20


def read_input(file: str, env: Environment) -> bytes:
    """Bytes from a file, or from stdin for "-" (bytes: the code page is decided here)."""
    if file == "-":
        buffer = getattr(env.stdin, "buffer", None)
        return buffer.read() if buffer is not None else env.stdin.read().encode("utf-8")
    try:
        data = read_bounded(file, MAX_OUTPUT_BYTES)
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror}") from exc
    if len(data) > MAX_OUTPUT_BYTES:
        raise UsageError(f"{file}: larger than {MAX_OUTPUT_BYTES // 2**20} MiB: not a saved output")
    return data


def strip_comment_preamble(text: str) -> str:
    """Drop leading lines that start with '#': saved samples (like the shared corpus files)
    often carry a commented header. No Windows tool output starts with '#'."""
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].lstrip().startswith("#"):
        start += 1
    return "".join(lines[start:])


def read_date_format(file: str | None, codepage: int | None, env: Environment) -> DateFormat | None:
    """The date format in a saved `reg query` of a host's International key, if given."""
    if file is None:
        return None
    text = strip_comment_preamble(decode_output(read_input(file, env), codepage))
    try:
        return read_international(text)
    except RegistryReadError as exc:
        raise UsageError(f"--international {file}: {exc.reason}") from None


def run_parse(
    kind: Literal["quser", "qwinsta"],
    file: str,
    date_order: DateOrder,
    codepage: int | None,
    env: Environment,
    international: str | None = None,
) -> ExitStatus:
    date_format = read_date_format(international, codepage, env)
    text = strip_comment_preamble(decode_output(read_input(file, env), codepage))
    parse = (
        parse_qwinsta
        if kind == "qwinsta"
        else lambda t: parse_quser(t, date_order=date_order, date_format=date_format)
    )
    try:
        sessions = parse(text)
    except ParseError as exc:
        # The input is a file the user gave, not a host: a file that is no listing is a
        # bad input file (exit 64). Windows' own error text (HostCommandError) stays what
        # it was on the host: that host could not be read (exit 1).
        raise UsageError(f"{file}: {exc}") from None
    document = sessions_to_json(sessions)
    env.stdout.write(safe_json(document) + "\n")
    return ExitStatus.OK
