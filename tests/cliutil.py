"""Run the CLI in-process with captured streams, no terminal and an injected clock (shared
by CLI and integration tests)."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli import main
from fleetlogoff.env import Environment
from fleetlogoff.guard_script import guard_command_line
from fleetlogoff.transport import Connector

# The 20th: every date of the last days reads one way only (day > 12), whatever the locale.
START = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


class SteadyClock:
    """Starts at a fixed instant and runs at the speed of the monotonic clock.

    Tests see the same calendar day and time of day whenever they run (no test depends on
    the wall clock), and a real wait still ends. The lab's hosts take `epoch` as their clock
    and the tool takes `now`, so both sides agree on what time it is.
    """

    def __init__(self, start: datetime = START) -> None:
        self._origin = start.timestamp()
        self._t0 = time.monotonic()

    def epoch(self) -> float:
        return self._origin + (time.monotonic() - self._t0)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)


CLOCK = SteadyClock()


@dataclass
class Result:
    status: ExitStatus
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    argv: Sequence[str],
    stdin: str = "",
    environ: Mapping[str, str] | None = None,
    password: str = "",
    clock: Callable[[], datetime] = CLOCK.now,
    connector: Connector | None = None,
) -> Result:
    return run_cli_with(argv, connector, stdin, environ, password, clock)


def run_cli_with(
    argv: Sequence[str],
    connector: Connector | None,
    stdin: str = "",
    environ: Mapping[str, str] | None = None,
    password: str = "",
    clock: Callable[[], datetime] = CLOCK.now,
) -> Result:
    """run_cli with a connector of the test's own (None: the real WinRM one)."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=False,
        # The state directory (run locks, default audit log) is the test's own temporary
        # one (tests/conftest.py), never the real home.
        environ={
            "HOME": "/nonexistent",
            "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"],
            **(environ or {}),
        },
        clock=clock,
        ask_password=lambda prompt: password,
    )
    status = main(list(argv), env, connector)
    return Result(status, out.getvalue(), err.getvalue())


def is_guarded_message(command_line: str, stdin: bytes | None) -> bool:
    """True for the command that sends warnings and notices: the guard script with
    `message` lines on stdin (guard_script.py), the way a test spots "msg went out"."""
    return command_line == guard_command_line() and b"\nmessage " in (stdin or b"")
