"""The fleet-wide quser: a line per session, the hosts that did not answer below it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from fleetlogoff.collect import HostReading
from fleetlogoff.ui.lines import Cell, Column, Sink, grid_lines, make_sink
from fleetlogoff.ui.plan_view import doubts_text, idle_text, logon_text
from fleetlogoff.visible import visible

_COLUMNS = [
    Column("HOST", shrink=2, minimum=8),
    Column("ID", align="right"),
    Column("USER", shrink=3, minimum=8),
    Column("SESSION", shrink=4),
    Column("STATE"),
    Column("IDLE"),
    Column("LOGON", shrink=1, minimum=10),
]


def render_sessions(
    console: Console, readings: Sequence[HostReading], *, sink: Sink | None = None
) -> None:
    out = sink if sink is not None else make_sink(console)
    with_doubts = any(s.doubts for r in readings for s in r.sessions)
    columns = _COLUMNS + ([Column("DOUBTS", shrink=5)] if with_doubts else [])
    rows: list[list[Cell]] = []
    for reading in readings:
        for s in reading.sessions:
            row: list[Cell] = [
                visible(reading.host.name),
                str(s.id),
                visible(s.username) or "-",
                visible(s.session_name) or "-",
                s.state.value,
                idle_text(s),
                logon_text(s),
            ]
            if with_doubts:
                row.append(doubts_text(s))
            rows.append(row)
    for line in grid_lines(columns, rows, indent=0, width=out.width):
        out.line(*line)
    failed = [r for r in readings if r.status != "ok"]
    for reading in failed:
        text = f"{reading.host.name}: {reading.status}: {reading.error or 'no detail'}"
        out.line((visible(text), "yellow"))
    total = sum(len(r.sessions) for r in readings)
    read = len(readings) - len(failed)
    out.line((f"{total} session(s) on {read}/{len(readings)} host(s).", "bold"))
