"""The plan as an admin reads it, in the manner of `terraform plan`: what will be logged
off (a line per session, grouped by host), the hosts that could not be read and why, what
stays counted by reason, then one summary. Its length is the targets plus the problems
plus a few dozen lines, whatever the size of the fleet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.console import Console

from fleetlogoff.durations import format_duration
from fleetlogoff.model import Session
from fleetlogoff.planner import HostPlan, Plan, PlannedSession
from fleetlogoff.ui.lines import Cell, Column, Sink, grid_lines, sink_for
from fleetlogoff.ui.reasons import group_reasons
from fleetlogoff.visible import visible

_ACTION_STYLE = {"target": "bold red", "protected": "green", "keep": "dim"}
_STATUS_STYLE = {"ok": "green", "unreachable": "yellow", "auth_failed": "red", "error": "red"}
# Reason groups shown before "and N more": enough for every kind of protection the
# planner knows (about a dozen) with room for distinct doubts; --all lists every row.
MAX_REASON_GROUPS = 20


def idle_text(session: Session) -> str:
    """Idle time as a duration, or what Windows printed when it is not a number."""
    if session.idle_seconds is None:
        return visible(session.idle_text) or "-"
    return format_duration(session.idle_seconds) if session.idle_seconds else "none"


def logon_text(session: Session) -> str:
    if session.logon_time is not None:
        return session.logon_time.strftime("%Y-%m-%d %H:%M")
    return visible(session.logon_text) or "-"


def doubts_text(session: Session) -> str:
    return visible("; ".join(str(doubt) for doubt in session.doubts))


# A session row as every table shows it (plan --all and the fleet-wide quser).
SESSION_COLUMNS = [
    Column("HOST", shrink=2, minimum=8),
    Column("ID", align="right"),
    Column("USER", shrink=3, minimum=8),
    Column("SESSION", shrink=4),
    Column("STATE"),
    Column("IDLE"),
    Column("LOGON", shrink=1, minimum=10),
]


def session_cells(host_name: str, session: Session) -> list[Cell]:
    """The cells of SESSION_COLUMNS for one session."""
    return [
        visible(host_name),
        str(session.id),
        visible(session.username) or "-",
        visible(session.session_name) or "-",
        session.state.value,
        idle_text(session),
        logon_text(session),
    ]


def render_plan(
    console: Console, plan: Plan, *, show_all: bool = False, sink: Sink | None = None
) -> None:
    """Print the plan: targets, unread hosts, what stays, windows, summary.

    Args:
        console: where to print (styled on a terminal, bare lines otherwise).
        plan: the plan.
        show_all: list every session that stays, with its reason, instead of counts.
        sink: overrides the console's sink (tests).
    """
    with sink_for(console, sink) as out:
        render_targets(out, plan, with_reasons=show_all)
        render_unread(out, plan.failed_hosts)
        render_staying(out, plan, show_all=show_all)
        render_windows(out, plan)
        render_summary(out, plan)


def _target_columns(with_doubts: bool, with_reasons: bool) -> list[Column]:
    columns = [
        Column("HOST", shrink=2, minimum=8),
        Column("ID", align="right"),
        Column("USER", shrink=3, minimum=8),
        Column("STATE"),
        Column("IDLE"),
        Column("LOGON", shrink=1, minimum=10),
        Column("RULE", shrink=4),
    ]
    if with_doubts:
        columns.append(Column("DOUBTS", shrink=5))
    if with_reasons:
        columns.append(Column("REASON", shrink=6, minimum=20))
    return columns


def render_targets(out: Sink, plan: Plan, *, with_reasons: bool = False) -> None:
    """A line per session to log off, by host; with its full reason at --all / -v."""
    targets = [(h, p) for h in plan.hosts for p in h.targets]
    if not targets:
        out.line(("No sessions to log off.", "bold"))
        out.line()
        return
    hosts = len({h.name for h, _ in targets})
    out.line((f"Sessions to log off: {len(targets)} on {hosts} host(s)", "bold"))
    with_doubts = any(p.session.doubts for _, p in targets)
    rows: list[list[Cell]] = []
    for host, planned in targets:
        s = planned.session
        row: list[Cell] = [
            visible(host.name),
            str(s.id),
            (visible(s.username), "bold"),
            s.state.value,
            idle_text(s),
            logon_text(s),
            visible(planned.rule or "-"),
        ]
        if with_doubts:
            row.append(doubts_text(s))
        if with_reasons:
            row.append(visible(planned.reason))
        rows.append(row)
    columns = _target_columns(with_doubts, with_reasons)
    for line in grid_lines(columns, rows, width=out.width):
        out.line(*line)
    out.line()


def render_unread(out: Sink, failed: Sequence[HostPlan]) -> None:
    if not failed:
        return
    out.line((f"Hosts not read: {len(failed)} (nothing will be done on them)", "bold yellow"))
    rows: list[list[Cell]] = [
        [
            visible(h.name),
            (h.status, _STATUS_STYLE.get(h.status, "")),
            visible(h.error or "no detail"),
        ]
        for h in failed
    ]
    columns = [Column("HOST", shrink=2, minimum=8), Column("STATUS"), Column("WHY", shrink=3)]
    for line in grid_lines(columns, rows, width=out.width):
        out.line(*line)
    out.line()


def _staying(plan: Plan) -> Iterable[tuple[HostPlan, PlannedSession]]:
    return ((h, p) for h in plan.hosts for p in h.sessions if p.action != "target")


def render_staying(out: Sink, plan: Plan, *, show_all: bool) -> None:
    """What is not logged off: every row with --all, else a count per reason."""
    staying = list(_staying(plan))
    if not staying:
        return
    if show_all:
        _render_every_staying_row(out, staying)
        return
    groups = group_reasons((h.name, p) for h, p in staying)
    out.line((f"Not logged off: {len(staying)} session(s), by reason", "bold"))
    shown = groups[:MAX_REASON_GROUPS]
    rows: list[list[Cell]] = [
        [
            (g.action, _ACTION_STYLE.get(g.action, "")),
            str(g.count),
            str(g.hosts),
            visible(g.text),
        ]
        for g in shown
    ]
    columns = [
        Column("ACTION"),
        Column("SESSIONS", align="right"),
        Column("HOSTS", align="right"),
        Column("REASON", shrink=1, minimum=20),
    ]
    for line in grid_lines(columns, rows, width=out.width):
        out.line(*line)
    rest = groups[MAX_REASON_GROUPS:]
    if rest:
        count = sum(g.count for g in rest)
        out.line(f"  and {count} session(s) for {len(rest)} other reason(s)")
    out.line(("  (--all or -v lists every session)", "dim"))
    out.line()


def _render_every_staying_row(
    out: Sink, staying: Sequence[tuple[HostPlan, PlannedSession]]
) -> None:
    out.line((f"Not logged off: {len(staying)} session(s)", "bold"))
    rows: list[list[Cell]] = []
    for host, planned in staying:
        rows.append(
            [
                *session_cells(host.name, planned.session),
                (planned.action, _ACTION_STYLE.get(planned.action, "")),
                visible(planned.reason),
            ]
        )
    columns = [*SESSION_COLUMNS, Column("ACTION"), Column("REASON", shrink=5, minimum=20)]
    for line in grid_lines(columns, rows, width=out.width):
        out.line(*line)
    out.line()


def render_windows(out: Sink, plan: Plan) -> None:
    """One line on maintenance windows, only when a host with targets has one."""
    with_targets = [h for h in plan.hosts if h.targets]
    windowed = [h for h in with_targets if h.window.closes_at or h.window.opens_at]
    closed = [h for h in with_targets if not h.window.fits]
    if not windowed and not closed:
        return
    line = f"Maintenance windows: {len(with_targets) - len(closed)} of {len(with_targets)} "
    line += "host(s) with sessions to log off are open now"
    openings = [h.window.opens_at for h in closed if h.window.opens_at is not None]
    if closed:
        line += f"; {len(closed)} closed"
        if openings:
            line += f", the first opens at {clock_time(min(openings))}"
        line += " (apply skips closed hosts unless --wait-for-window or --ignore-windows)"
    out.line((line + ".", "yellow" if closed else ""))
    out.line()


def clock_time(moment: datetime) -> str:
    """A moment on this machine's clock, with its weekday and zone: "Tue 22:00 CET"."""
    local = moment.astimezone()
    return local.strftime("%a %H:%M %Z").strip()


def render_summary(out: Sink, plan: Plan) -> None:
    """Totals by rule and by host status, in two lines."""
    by_rule = Counter(p.rule or "-" for h in plan.hosts for p in h.targets)
    hosts_with_targets = sum(1 for h in plan.hosts if h.targets)
    line = (
        f"Plan: {plan.target_count} session(s) to log off on {hosts_with_targets} "
        f"of {len(plan.hosts)} host(s)"
    )
    if by_rule:
        rules = ", ".join(f"{visible(rule)} {count}" for rule, count in by_rule.most_common())
        line += f" (by rule: {rules})"
    out.line((line + ".", "bold"))
    statuses = Counter(h.status for h in plan.hosts)
    actions = Counter(p.action for h in plan.hosts for p in h.sessions)
    hosts = ", ".join(
        f"{count} {status.replace('_', ' ')}"
        for status, count in sorted(statuses.items(), key=lambda kv: (kv[0] != "ok", kv[0]))
    )
    sessions = sum(actions.values())
    out.line(
        (
            f"Hosts: {hosts}. Sessions read: {sessions} ({actions['target']} to log off, "
            f"{actions['protected']} protected, {actions['keep']} kept).",
            "bold" if not plan.failed_hosts else "bold yellow",
        )
    )
