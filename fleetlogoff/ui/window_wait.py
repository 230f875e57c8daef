"""--wait-for-window on screen: when the first maintenance window opens, as a clock time."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.status import Status
from rich.text import Text

from fleetlogoff.ui.apply_view import span_text


def window_wait_text(opens_at: datetime, now: datetime) -> str:
    """The line shown while apply waits for a maintenance window to open."""
    left = max(0.0, (opens_at - now).total_seconds())
    when = opens_at.astimezone().strftime("%a %H:%M %Z").strip()
    return f"Waiting for a maintenance window: the first opens at {when} (in {span_text(left)})"


class WindowWaitView:
    """--wait-for-window: a status line that stays current on a terminal; a line per
    change of the opening time (or per hour of waiting) without one."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status: Status | None = None
        self._last: tuple[datetime, float] | None = None

    def show(self, opens_at: datetime, now: datetime) -> None:
        text = window_wait_text(opens_at, now)
        if self._console.is_terminal:
            if self._status is None:
                self._status = self._console.status(text)
                self._status.start()
            self._status.update(text)
            return
        left = (opens_at - now).total_seconds()
        if self._last is None or self._last[0] != opens_at or self._last[1] - left >= 3600:
            self._last = (opens_at, left)
            self._console.print(Text(text), soft_wrap=True)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
