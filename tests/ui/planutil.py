"""Plans built in memory for the view tests: hosts with targets, protections, keeps and
hosts that could not be read."""

from __future__ import annotations

from datetime import UTC, datetime

from fleetlogoff.model import Session, SessionState
from fleetlogoff.planner import HostPlan, HostStatus, Plan, PlannedSession
from fleetlogoff.windows import WindowStatus

NOW = datetime(2026, 3, 13, 9, 30, tzinfo=UTC)
ALWAYS_OPEN = WindowStatus(True, None, None, True, "no window (always open)")


def session(sid: int, user: str, state: SessionState = SessionState.DISCONNECTED) -> Session:
    return Session(
        sid,
        user,
        "" if state is SessionState.DISCONNECTED else f"rdp-tcp#{sid}",
        state,
        idle_seconds=3 * 3600,
        idle_text="3:00",
        logon_time=datetime(2026, 3, 12, 8, 5),
        logon_text="3/12/2026 8:05 AM",
    )


def target(sid: int, user: str, rule: str = "stale") -> PlannedSession:
    return PlannedSession(session(sid, user), "target", rule, f"disconnected (rule {rule})")


def protected(sid: int, user: str, why: str) -> PlannedSession:
    return PlannedSession(session(sid, user, SessionState.ACTIVE), "protected", None, why)


def kept(sid: int, user: str) -> PlannedSession:
    return PlannedSession(session(sid, user, SessionState.ACTIVE), "keep", None, "no rule matched")


def host(
    name: str,
    sessions: tuple[PlannedSession, ...] = (),
    *,
    status: HostStatus = "ok",
    error: str | None = None,
    window: WindowStatus = ALWAYS_OPEN,
) -> HostPlan:
    return HostPlan(name, "127.0.0.1", status, error, "", sessions, window)


def plan(*hosts: HostPlan) -> Plan:
    return Plan(NOW, "inv.yml", "sha256:i", "inventory", "sha256:r", None, tuple(hosts))


def fleet(size: int, *, failed_every: int = 0) -> Plan:
    """`size` hosts: targets on two of three, an admin on each, failures every Nth."""
    hosts = []
    for n in range(1, size + 1):
        name = f"rds-{n:04d}"
        if failed_every and n % failed_every == 0:
            hosts.append(host(name, status="unreachable", error="connection refused"))
            continue
        rows = [
            protected(1, "", "protected: console session"),
            protected(2, "Administrator", "protected: built-in administrator Administrator"),
            protected(3, f"user{n}", f"protected: protected user user{n}"),
            kept(4, f"busy{n}"),
        ]
        if n % 3:
            rows += [target(5, f"stale{n}"), target(6, f"old{n}", rule="old")]
        hosts.append(host(name, tuple(rows)))
    return plan(*hosts)
