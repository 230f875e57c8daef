"""The fleet-wide quser: one table, a row per session, hosts that did not answer below it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetlogoff.collect import HostReading
from fleetlogoff.ui.plan_view import idle_text, logon_text


def render_sessions(console: Console, readings: Sequence[HostReading]) -> None:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("HOST", "ID", "USER", "SESSION", "STATE", "IDLE", "LOGON"):
        table.add_column(column, overflow="fold")
    for reading in readings:
        for s in reading.sessions:
            table.add_row(
                Text(reading.host.name),
                str(s.id),
                Text(s.username + (" (?)" if s.doubts else "")),
                Text(s.session_name),
                s.state.value,
                idle_text(s),
                Text(logon_text(s)),
            )
    console.print(table)
    failed = [r for r in readings if r.status != "ok"]
    for reading in failed:
        console.print(
            Text(f"{reading.host.name}: {reading.status}: {reading.error}", style="yellow")
        )
    total = sum(len(r.sessions) for r in readings)
    console.print(
        Text(
            f"{total} session(s) on {len(readings) - len(failed)}/{len(readings)} host(s).",
            style="bold",
        )
    )
