"""apply on screen: events as they happen, a countdown during the shared wait, hosts
progress during logoff, and the recap table at the end."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetlogoff.durations import format_duration
from fleetlogoff.events import Event, Kind
from fleetlogoff.recap import RECAP_COLUMNS, Recap
from fleetlogoff.ui.progress import progress_bar

_STYLE = {
    Kind.WARNED: "cyan",
    Kind.LOGGED_OFF: "green",
    Kind.SPARED: "blue",
    Kind.SKIPPED: "yellow",
    Kind.STUCK: "bold red",
    Kind.FAILED: "bold red",
    Kind.WARN_FAILED: "red",
    Kind.NOT_WARNED: "bold red",
    Kind.NOT_ATTEMPTED: "yellow",
    Kind.INTERNAL_ERROR: "bold red",
    Kind.HOST_UNREACHABLE: "red",
    Kind.HOST_SKIPPED: "yellow",
    Kind.CANCEL_NOTICE: "cyan",
    Kind.REMINDED: "cyan",
}
_QUIET_KINDS = {
    Kind.HOST_STARTED,
    Kind.HOST_DONE,
    Kind.RUN_STARTED,
    Kind.RUN_ENDED,
    Kind.LOGOFF_SENT,
}
_PROBLEM_KINDS = {Kind.STUCK, Kind.FAILED, Kind.NOT_WARNED, Kind.INTERNAL_ERROR}
_PLAIN_COUNTDOWN_STEP_S = 30


def event_line(event: Event) -> Text:
    """One event as one line (no markup: user and host names come from remote hosts)."""
    who = ""
    if event.session_id is not None:
        who = f" session {event.session_id}" + (f" ({event.username})" if event.username else "")
    host = f"{event.host}" if event.host else "run"
    line = Text(f"{host}{who}: ")
    line.append(event.kind.value.replace("_", " "), style=_STYLE.get(event.kind, ""))
    if event.reason:
        line.append(f": {event.reason}")
    return line


class ApplyView:
    """Thread-safe sink for events; a live display on a terminal, plain lines otherwise."""

    def __init__(self, console: Console, host_count: int, *, quiet: bool = False) -> None:
        self._console = console
        self._quiet = quiet
        self._live = console.is_terminal and not quiet
        self._lock = threading.Lock()
        self._last_plain_tick: float | None = None
        self._wait_total: float | None = None
        self._progress = progress_bar(console)
        self._hosts = self._progress.add_task("Hosts", total=host_count, visible=False)
        self._wait = self._progress.add_task("Waiting", total=None, visible=False)

    def __enter__(self) -> ApplyView:
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

    def on_event(self, event: Event) -> None:
        with self._lock:
            if event.kind in (Kind.HOST_DONE, Kind.HOST_UNREACHABLE, Kind.HOST_SKIPPED):
                self._progress.update(self._hosts, visible=True, advance=1)
            if self._quiet and event.kind not in _PROBLEM_KINDS:
                return
            if event.kind not in _QUIET_KINDS:
                self._console.print(event_line(event))

    def countdown(self, remaining_s: float) -> None:
        """Called about once a second during the shared wait."""
        text = f"Logging off in {format_duration(int(remaining_s)) if remaining_s >= 1 else '0s'}"
        with self._lock:
            if self._live:
                if self._wait_total is None:
                    self._wait_total = max(1.0, remaining_s)
                self._progress.update(
                    self._wait,
                    visible=remaining_s > 0,
                    description=text,
                    total=self._wait_total,
                    completed=self._wait_total - remaining_s,
                )
                return
            if self._quiet:
                return
            due = self._last_plain_tick is None or (
                self._last_plain_tick - remaining_s >= _PLAIN_COUNTDOWN_STEP_S
            )
            if due or remaining_s <= 0:
                self._last_plain_tick = remaining_s
                self._console.print(Text(text))


def render_recap(console: Console, recap: Recap) -> None:
    """The per-host table, then a one-line total."""
    table = Table(title="RECAP", box=None, header_style="bold", pad_edge=False)
    table.add_column("HOST", overflow="fold")
    for column, _ in RECAP_COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    table.add_column("NOTE", overflow="fold")
    for name, tally in recap.hosts.items():
        note = tally.unreachable or tally.skipped_host or ""
        cells = [str(tally.counts[c]) for c, _ in RECAP_COLUMNS]
        style = (
            "red" if tally.unreachable or tally.counts["failed"] or tally.counts["stuck"] else ""
        )
        table.add_row(Text(name), *cells, Text(note), style=style)
    console.print(table)
    totals = ", ".join(f"{recap.total(c)} {c.replace('_', ' ')}" for c, _ in RECAP_COLUMNS)
    tail = f"; {recap.unreachable_hosts} host(s) unreachable" if recap.unreachable_hosts else ""
    console.print(Text(f"Total: {totals}{tail}.", style="bold"))
