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
        stdin_isatty, stdout_isatty, stderr_isatty: whether a person is there to read
            and answer, on each stream.
        environ: environment variables (credentials, NO_COLOR, COLUMNS, TERM).
        clock: returns the current time, UTC-aware.
        ask_password: prompts for a password without echo.
    """

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin_isatty: bool = field(default_factory=lambda: sys.stdin.isatty())
    stdout_isatty: bool = field(default_factory=lambda: sys.stdout.isatty())
    stderr_isatty: bool = field(default_factory=lambda: sys.stderr.isatty())
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], datetime] = _utc_now
    ask_password: Callable[[str], str] = getpass.getpass

    @property
    def color(self) -> bool:
        """Colour only for a terminal, and never when NO_COLOR is set (no-color.org)."""
        return self.stdout_is_terminal and not self.no_color

    @property
    def no_color(self) -> bool:
        """NO_COLOR set to anything but "" (no-color.org): no colour, nothing else changes."""
        return bool(self.environ.get("NO_COLOR"))

    @property
    def stdout_is_terminal(self) -> bool:
        """A terminal that can redraw (live displays, fitted widths); TERM=dumb cannot."""
        return self.stdout_isatty and not self._dumb

    @property
    def stderr_is_terminal(self) -> bool:
        return self.stderr_isatty and not self._dumb

    @property
    def _dumb(self) -> bool:
        return self.environ.get("TERM", "") in ("dumb", "unknown")

    @property
    def columns(self) -> int | None:
        """COLUMNS when it is a usable width (as shells and curses read it), else None."""
        text = self.environ.get("COLUMNS", "").strip()
        usable = text.isascii() and text.isdigit()  # '²' is a digit to isdigit(), not to int()
        return int(text) if usable and 20 <= int(text) <= 10000 else None
