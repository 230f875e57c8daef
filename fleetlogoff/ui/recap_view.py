"""The end of an apply, in the spirit of Ansible's PLAY RECAP: totals by outcome, then
every host with a problem (every host at -v), a line each, never wrapped off a terminal."""

from __future__ import annotations

from rich.console import Console

from fleetlogoff.ui.apply_tally import OUTCOME_KINDS, ApplyTally, HostFacts
from fleetlogoff.ui.lines import Cell, Column, Sink, grid_lines, sink_for
from fleetlogoff.visible import visible

_ALWAYS = ("warned", "logged_off", "failed")


def recap_kinds(tally: ApplyTally) -> list[str]:
    """The count columns: warned, logged off and failed always, other outcomes when seen."""
    seen = {k for facts in tally.hosts.values() for k, n in facts.counts.items() if n}
    return [k for k in ("warned", *OUTCOME_KINDS) if k in _ALWAYS or k in seen]


def totals_line(tally: ApplyTally) -> str:
    with tally.lock:
        parts = [f"{tally.counts['warned']} warned"]
        parts += [f"{n} {k.replace('_', ' ')}" for k, n in tally.outcome_counts().items()]
        lost = tally.lost_by_kind()
        line = f"RECAP: {tally.total_targets} session(s) planned on {len(tally.targets)} host(s): "
    line += ", ".join(parts)
    if lost:
        words = (
            f"{n} {kind.replace('_', ' ').replace('host ', 'host(s) ')}" for kind, n in lost.items()
        )
        line += "; " + ", ".join(words)
    if tally.interrupted:
        line += "; interrupted"
    return line + "."


def render_recap(
    console: Console, tally: ApplyTally, *, verbose: int = 0, sink: Sink | None = None
) -> None:
    """Totals, then the hosts with a problem (all hosts at -v)."""
    with sink_for(console, sink) as out:
        _render_recap(out, tally, verbose)


def _render_recap(out: Sink, tally: ApplyTally, verbose: int) -> None:
    with tally.lock:
        kinds = recap_kinds(tally)
        listed = [(name, facts) for name, facts in tally.hosts.items() if verbose or facts.problem]
        problems = sum(1 for _, facts in tally.hosts.items() if facts.problem)
        rows = [_row(name, facts, kinds) for name, facts in listed]
    out.line()
    style = "bold red" if problems else "bold green"
    out.line((totals_line(tally), style))
    if not rows:
        return
    title = "Every host:" if verbose else f"Hosts with a problem: {problems}"
    out.line((title, "bold"))
    columns = [Column("HOST", shrink=2, minimum=8)]
    columns += [Column(k.replace("_", " ").upper(), align="right") for k in kinds]
    columns.append(Column("NOTE", shrink=3, minimum=12))
    for line in grid_lines(columns, rows, width=out.width):
        out.line(*line)


def _row(name: str, facts: HostFacts, kinds: list[str]) -> list[Cell]:
    cells: list[Cell] = [(visible(name), "red" if facts.problem else "")]
    for kind in kinds:
        count = facts.counts[kind]
        bad = kind in ("failed", "stuck", "not_warned") and count
        cells.append((str(count), "bold red" if bad else ""))
    cells.append(visible("; ".join(facts.notes)))
    return cells
