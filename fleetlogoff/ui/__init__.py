"""Everything that draws on a terminal: the one package that imports rich."""

from __future__ import annotations

from typing import Literal, TextIO

from rich.console import Console

from fleetlogoff.env import Environment

# Without a terminal nothing wraps: rich still needs a width, and this one is never met.
UNLIMITED_WIDTH = 1 << 20


def make_console(
    stream: TextIO,
    *,
    color: bool,
    terminal: bool | None = None,
    width: int | None = None,
) -> Console:
    """A console for one stream.

    Args:
        stream: where it writes.
        color: styles as colours (off for NO_COLOR and for anything but a terminal).
        terminal: live redraws and lines fitted to `width`; None means the same as `color`.
        width: columns on a terminal (COLUMNS); None lets rich ask the terminal.

    Text that came from a remote host is always printed with markup=False or as Text by
    the callers (a user name may contain `[bold]`), after `visible()`.
    """
    is_terminal = color if terminal is None else terminal
    return Console(
        file=stream,
        color_system="auto" if color and is_terminal else None,
        force_terminal=is_terminal,
        no_color=not color,
        width=width if is_terminal else UNLIMITED_WIDTH,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=not is_terminal,
    )


def console_for(env: Environment, stream: Literal["stdout", "stderr"]) -> Console:
    """The console for stdout or stderr: a terminal's width (COLUMNS honoured) and live
    display when that stream is a terminal; colour unless NO_COLOR; bare lines otherwise."""
    if stream == "stdout":
        terminal, file = env.stdout_is_terminal, env.stdout
    else:
        terminal, file = env.stderr_is_terminal, env.stderr
    return make_console(
        file, color=terminal and not env.no_color, terminal=terminal, width=env.columns
    )
