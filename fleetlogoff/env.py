"""What the CLI gets from the outside world, injected so tests run in-process and
deterministically (streams, terminal flags, environment variables, clock, password prompt)."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Environment:
    """The process's surroundings.

    Attributes:
        stdin, stdout, stderr: text streams.
        stdin_isatty, stdout_isatty: whether a person is there to read and answer.
        environ: environment variables (credentials, NO_COLOR).
        clock: returns the current time, UTC-aware.
        ask_password: prompts for a password without echo.
    """

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin_isatty: bool = field(default_factory=lambda: sys.stdin.isatty())
    stdout_isatty: bool = field(default_factory=lambda: sys.stdout.isatty())
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], datetime] = _utc_now
    ask_password: Callable[[str], str] = getpass.getpass

    @property
    def color(self) -> bool:
        """Colour only for a terminal, and never when NO_COLOR is set (no-color.org)."""
        return self.stdout_isatty and "NO_COLOR" not in self.environ
