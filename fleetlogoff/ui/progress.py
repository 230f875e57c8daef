"""Progress while hosts are read: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from fleetlogoff.visible import visible

BAR_WIDTH = 30


def bar_text(done: float, total: float, width: int = BAR_WIDTH) -> Text:
    """A bar that reads without colour too (NO_COLOR, a captured screen): heavy for done,
    light for what is left."""
    filled = 0 if total <= 0 else max(0, min(width, int(width * done / total)))
    bar = Text("━" * filled, style="green")
    bar.append("─" * (width - filled), style="dim")
    return bar


class TextBarColumn(ProgressColumn):
    """rich's bar draws done and left with one character, told apart by colour only."""

    def render(self, task: Task) -> Text:
        return bar_text(task.completed, task.total or 0)


def progress_bar(console: Console) -> Progress:
    """The one look of every progress bar: what, bar, done/total, elapsed, ETA; gone when
    done. Redrawn four times a second, as apply's live view is: each redraw lays the
    columns out again (about 1 ms), and rich's default of ten a second made the bar a
    twentieth of a 1,000-host plan's CPU for no count a person reads faster."""
    return Progress(
        TextColumn("{task.description}"),
        TextBarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        refresh_per_second=4,
    )


class HostProgress:
    """Counts hosts as they finish; safe to call from worker threads.

    On a terminal it draws a bar (rich's Live refreshes from its own thread; updates go
    through rich's lock). Without one it prints a line per host that did not answer, so
    a log shows failures as they happen without drowning in successes.
    """

    def __init__(self, console: Console, total: int, title: str, *, quiet: bool = False) -> None:
        self._console = console
        self._total = total
        self._quiet = quiet
        self._lock = threading.Lock()
        self._done = 0
        self._live = console.is_terminal and not quiet
        self._progress = progress_bar(console)
        self._task = self._progress.add_task(escape(title), total=total)

    def __enter__(self) -> HostProgress:
        if self._live:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live:
            self._progress.stop()

    def host_done(self, name: str, status: str, detail: str | None = None) -> None:
        """Record one finished host."""
        with self._lock:
            self._done += 1
            done = self._done
        if self._live:
            self._progress.advance(self._task)
            return
        if status != "ok" and not self._quiet:
            line = f"[{done}/{self._total}] {name}: {status}" + (f": {detail}" if detail else "")
            self._console.print(visible(line), markup=False, soft_wrap=True)
