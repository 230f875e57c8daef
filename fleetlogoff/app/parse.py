"""`fleetlogoff parse`: the admin's tool for an odd host's saved output, and the way the
parser is tried on outputs it has never seen."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
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


def read_input(file: str, env: Environment) -> bytes:
    """Bytes from a file, or from stdin for "-" (bytes: the code page is decided here)."""
    if file == "-":
        buffer = getattr(env.stdin, "buffer", None)
        return buffer.read() if buffer is not None else env.stdin.read().encode("utf-8")
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror}") from exc


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
    sessions = parse(text)
    document = sessions_to_json(sessions)
    env.stdout.write(safe_json(document) + "\n")
    return ExitStatus.OK
