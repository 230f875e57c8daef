"""Everything that draws on a terminal: the one package that imports rich."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console


def make_console(stream: TextIO, *, color: bool, width: int | None = None) -> Console:
    """A console for one stream: colour and live redraws only on a terminal without NO_COLOR.

    Text that came from a remote host is always printed with markup=False by the callers:
    a user name may contain `[bold]`.
    """
    return Console(
        file=stream,
        color_system="auto" if color else None,
        force_terminal=color,
        no_color=not color,
        width=width if width is not None else (None if color else 120),
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
