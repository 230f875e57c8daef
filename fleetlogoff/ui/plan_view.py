"""The plan as an admin reads it: a table per host, then a summary."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetlogoff.durations import format_duration
from fleetlogoff.model import Session
from fleetlogoff.planner import HostPlan, Plan, PlannedSession

_ACTION_STYLE = {"target": "bold red", "protected": "green", "keep": "dim"}
_STATUS_STYLE = {"ok": "green", "unreachable": "yellow", "auth_failed": "red", "error": "red"}


def idle_text(session: Session) -> str:
    """Idle time as a duration, or what Windows printed when it is not a number."""
    if session.idle_seconds is None:
        return session.idle_text or "-"
    return format_duration(session.idle_seconds) if session.idle_seconds else "none"


def logon_text(session: Session) -> str:
    if session.logon_time is not None:
        return session.logon_time.strftime("%Y-%m-%d %H:%M")
    return session.logon_text or "-"


def render_plan(console: Console, plan: Plan, *, show_all: bool = False) -> None:
    """Print every host that has something to say, then the summary."""
    for host in plan.hosts:
        render_host(console, host, show_all=show_all)
    render_summary(console, plan)


def render_host(console: Console, host: HostPlan, *, show_all: bool) -> None:
    title = Text.assemble(
        (host.name, "bold"),
        f" ({host.address}) ",
        (host.status, _STATUS_STYLE.get(host.status, "")),
        f"  window: {host.window.text}",
    )
    if host.status != "ok":
        console.print(title)
        console.print(Text(f"  {host.error or 'no detail'}"), markup=False)
        return
    shown = [p for p in host.sessions if show_all or p.action in ("target", "protected")]
    kept = len(host.sessions) - len(shown)
    if not shown and not show_all:
        return
    console.print(title)
    console.print(_session_table(shown))
    if kept:
        console.print(Text(f"  {kept} other session(s) not selected by any rule", style="dim"))


def _session_table(planned: Sequence[PlannedSession]) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("ID", "USER", "SESSION", "STATE", "IDLE", "LOGON", "ACTION", "REASON"):
        table.add_column(column, overflow="fold")
    for p in planned:
        s = p.session
        table.add_row(
            str(s.id),
            Text(s.username),
            Text(s.session_name),
            s.state.value,
            idle_text(s),
            Text(logon_text(s)),
            Text(p.action, style=_ACTION_STYLE.get(p.action, "")),
            Text(p.reason),
        )
    return table


def render_summary(console: Console, plan: Plan) -> None:
    counts: dict[str, int] = {}
    for host in plan.hosts:
        counts[host.status] = counts.get(host.status, 0) + 1
    sessions = sum(len(h.sessions) for h in plan.hosts)
    protected = sum(len(h.protected) for h in plan.hosts)
    hosts_with_targets = sum(1 for h in plan.hosts if h.targets)
    line = (
        f"Plan: {plan.target_count} session(s) to log off on {hosts_with_targets} host(s); "
        f"{sessions} session(s) read on {counts.get('ok', 0)}/{len(plan.hosts)} host(s); "
        f"{protected} protected."
    )
    console.print(Text(line, style="bold"))
    failed = {k: v for k, v in counts.items() if k != "ok"}
    if failed:
        detail = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(failed.items()))
        console.print(Text(f"Hosts not read: {detail}.", style="yellow"))
