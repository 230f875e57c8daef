"""The fleet-wide quser: a line per session, the hosts that did not answer below it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from fleetlogoff.collect import HostReading
from fleetlogoff.ui.lines import Cell, Column, Sink, grid_lines, sink_for
from fleetlogoff.ui.plan_view import SESSION_COLUMNS, doubts_text, session_cells
from fleetlogoff.visible import visible


def render_sessions(
    console: Console, readings: Sequence[HostReading], *, sink: Sink | None = None
) -> None:
    with sink_for(console, sink) as out:
        _render_sessions(out, readings)


def _render_sessions(out: Sink, readings: Sequence[HostReading]) -> None:
    with_doubts = any(s.doubts for r in readings for s in r.sessions)
    columns = SESSION_COLUMNS + ([Column("DOUBTS", shrink=5)] if with_doubts else [])
    rows: list[list[Cell]] = []
    for reading in readings:
        for s in reading.sessions:
            row = session_cells(reading.host.name, s)
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
