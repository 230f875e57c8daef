"""The apply view, fed synthetic event streams (no lab, no threads, a fake clock): phases,
progress with counts and ETA, the countdown to the deadline whatever the reminders,
problems as they happen, per-session lines only at -v, and the recap."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

from rich.console import Console

from fleetlogoff.events import Event, Kind
from fleetlogoff.ui import make_console
from fleetlogoff.ui.apply_tally import event_detail
from fleetlogoff.ui.apply_view import ApplyView, clock_text
from fleetlogoff.ui.recap_view import render_recap

T0 = datetime(2026, 3, 31, 21, 58, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def targets(hosts: int, per_host: int = 2) -> dict[str, list[int]]:
    return {f"rds-{h:03d}": [10 + i for i in range(per_host)] for h in range(hosts)}


def at(
    seconds: float,
    kind: Kind,
    host: str | None = None,
    sid: int | None = None,
    *,
    reason: str = "",
    data: dict[str, object] | None = None,
) -> Event:
    return Event(
        kind,
        T0 + timedelta(seconds=seconds),
        host=host,
        session_id=sid,
        username="u" if sid else None,
        reason=reason,
        data=data or {},
    )


def phase(seconds: float, name: str) -> Event:
    return at(seconds, Kind.PHASE_STARTED, reason=name)


def run(plan: dict[str, list[int]], *, problems: bool = False) -> Iterator[Event]:
    """A whole run: warn all, wait, log off all; with problems on rds-001 and rds-002."""
    yield phase(0, "warning")
    for n, (host, ids) in enumerate(plan.items()):
        for sid in ids:
            if problems and host == "rds-001":
                yield at(n * 0.1, Kind.WARN_FAILED, host, sid, reason="Error 5")
            else:
                yield at(
                    n * 0.1,
                    Kind.WARNED,
                    host,
                    sid,
                    data={"deadline": (T0 + timedelta(minutes=5)).isoformat()},
                )
    yield phase(30, "waiting")
    yield at(30, Kind.WAIT_STARTED, data={"deadline": (T0 + timedelta(minutes=5)).isoformat()})
    yield phase(300, "logging_off")
    for n, (host, ids) in enumerate(plan.items()):
        if problems and host == "rds-002":
            yield at(300 + n * 0.1, Kind.HOST_UNREACHABLE, host, reason="connection refused")
            continue
        yield at(300 + n * 0.1, Kind.HOST_STARTED, host)
        for sid in ids:
            if problems and host == "rds-001":
                yield at(300 + n * 0.1, Kind.SKIPPED, host, sid, reason="not warned")
                continue
            yield at(300 + n * 0.1, Kind.LOGOFF_SENT, host, sid)
            kind = Kind.STUCK if problems and host == "rds-003" and sid == 10 else Kind.LOGGED_OFF
            yield at(
                300 + n * 0.1,
                kind,
                host,
                sid,
                reason="gone" if kind == Kind.LOGGED_OFF else "still there",
            )
        yield at(300 + n * 0.1, Kind.HOST_DONE, host)


def plain_view(
    plan: dict[str, list[int]],
    clock: Clock,
    *,
    verbose: int = 0,
    quiet: bool = False,
    reminders: tuple[timedelta, ...] = (),
) -> tuple[ApplyView, io.StringIO]:
    out = io.StringIO()
    console = make_console(out, color=False)
    view = ApplyView(console, plan, clock=clock, verbose=verbose, quiet=quiet, reminders=reminders)
    return view, out


def test_a_log_gets_phases_bounded_progress_and_problems_as_they_happen() -> None:
    plan = targets(200)
    clock = Clock()
    view, out = plain_view(plan, clock)
    with view:
        for event in run(plan, problems=True):
            clock.now = event.time
            view.on_event(event)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Warning users"
    assert "Waiting for the deadline" in lines and "Logging off" in lines
    problems = [line for line in lines if line.startswith(("rds-001", "rds-002", "rds-003"))]
    assert any(line == "rds-002: host unreachable: connection refused" for line in problems)
    assert any(line.startswith("rds-003 session 10 (u): stuck") for line in problems)
    assert not any(": logged off" in line or ": warned" in line for line in lines)  # not at -v 0
    progress = [line for line in lines if line.startswith("Logging off: ")]
    assert 1 <= len(progress) <= 11
    assert progress[-1].startswith("Logging off: 400/400 sessions (100%)")
    assert "1 stuck" in progress[-1] and "1 host(s) lost" in progress[-1]
    assert all(line == line.rstrip() for line in lines)


def test_the_logoff_phase_counts_logoffs_sent_before_any_is_confirmed() -> None:
    """The executor confirms after sending: outcomes arrive in the confirming phase, so
    the logoff bar must move with the logoffs sent, not wait for their outcomes."""
    plan = targets(20)
    clock = Clock()
    view, out = plain_view(plan, clock)
    events = [phase(0, "warning")]
    deadline: dict[str, object] = {"deadline": (T0 + timedelta(minutes=5)).isoformat()}
    events += [at(1, Kind.WARNED, h, sid, data=deadline) for h, ids in plan.items() for sid in ids]
    events += [phase(2, "waiting"), at(2, Kind.WAIT_STARTED, data=deadline)]
    events.append(phase(300, "logging_off"))
    for n, (host, ids) in enumerate(plan.items()):
        events.append(at(300 + n, Kind.HOST_STARTED, host))
        events += [at(300 + n, Kind.LOGOFF_SENT, host, sid) for sid in ids]
    events.append(phase(330, "confirming"))
    for n, (host, ids) in enumerate(plan.items()):
        events += [at(330 + n, Kind.LOGGED_OFF, host, sid, reason="gone") for sid in ids]
        events.append(at(330 + n, Kind.HOST_DONE, host))
    with view:
        for event in events:
            clock.now = event.time
            view.on_event(event)
    lines = out.getvalue().splitlines()
    before_confirming = lines[: lines.index("Confirming")]
    sending = [line for line in before_confirming if line.startswith("Logging off: ")]
    assert sending, lines
    assert sending[0] != "Logging off: 0/40 sessions (0%)"
    assert sending[-1].startswith("Logging off: 40/40 sessions (100%)"), sending
    with view.tally.lock:
        assert view.tally.phases["logging_off"].done == 40


def test_verbose_adds_a_line_per_session() -> None:
    plan = targets(3)
    clock = Clock()
    view, out = plain_view(plan, clock, verbose=1)
    with view:
        for event in run(plan):
            view.on_event(event)
    text = out.getvalue()
    assert text.count(": warned") == 6 and text.count(": logged off: gone") == 6
    assert "logoff sent" not in text  # the audit log's bookkeeping, not the screen's


def test_the_countdown_is_to_the_logoff_not_to_the_next_reminder() -> None:
    plan = targets(1)
    clock = Clock()
    view, out = plain_view(plan, clock, reminders=(timedelta(minutes=1),))
    deadline = T0 + timedelta(minutes=5)
    view.on_event(at(0, Kind.WAIT_STARTED, data={"deadline": deadline.isoformat()}))
    # The executor ticks with the time left to the *reminder*: the view shows the logoff.
    clock.now = T0
    view.countdown(240.0)
    first = out.getvalue().splitlines()[-1]
    assert first == (
        f"Logoff in 5m, at {clock_text(deadline)}; "
        f"next reminder at {clock_text(deadline - timedelta(minutes=1))}"
    )
    clock.now = T0 + timedelta(minutes=4, seconds=30)
    view.countdown(0.0)
    assert out.getvalue().splitlines()[-1] == f"Logoff in 30s, at {clock_text(deadline)}"


def test_quiet_prints_problems_only() -> None:
    plan = targets(5)
    clock = Clock()
    view, out = plain_view(plan, clock, quiet=True)
    with view:
        for event in run(plan, problems=True):
            view.on_event(event)
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith(("rds-001", "rds-002", "rds-003")) for line in lines)


def test_the_live_display_shows_phase_bars_counts_eta_and_countdown() -> None:
    plan = targets(10)
    clock = Clock()
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    view = ApplyView(console, plan, clock=clock)
    events = list(run(plan))
    for event in events[: 1 + 10]:  # the phase and 10 of 20 warnings
        view.on_event(event)
    clock.now = T0 + timedelta(seconds=1)
    snapshot = Console(file=io.StringIO(), width=100, record=True, color_system=None)
    snapshot.print(view.render_live())
    text = snapshot.export_text()
    assert "Warning users" in text and "10/20" in text and "10 warned" in text and "ETA" in text
    for event in events[11:]:
        if event.kind == Kind.PHASE_STARTED and event.reason == "logging_off":
            break
        view.on_event(event)
    clock.now = T0 + timedelta(minutes=2)
    snapshot = Console(file=io.StringIO(), width=100, record=True, color_system=None)
    snapshot.print(view.render_live())
    assert "Logoff in 3m, at" in snapshot.export_text()


def test_phases_are_inferred_from_an_executor_that_does_not_announce_them() -> None:
    plan = targets(2)
    clock = Clock()
    view, out = plain_view(plan, clock)
    for event in run(plan):
        if event.kind != Kind.PHASE_STARTED:
            view.on_event(event)
    lines = out.getvalue().splitlines()
    assert [line for line in lines if not line.startswith(("Warning users:", "Logging off:"))][
        :3
    ] == [
        "Warning users",
        "Waiting for the deadline",
        "Logging off",
    ]


def recap_lines(plan: dict[str, list[int]], verbose: int, problems: bool) -> list[str]:
    clock = Clock()
    view, _ = plain_view(plan, clock)
    for event in run(plan, problems=problems):
        view.on_event(event)
    out = io.StringIO()
    render_recap(make_console(out, color=False), view.tally, verbose=verbose)
    return out.getvalue().splitlines()


def test_the_recap_lists_hosts_with_a_problem_and_every_host_at_v() -> None:
    plan = targets(300)
    lines = recap_lines(plan, verbose=0, problems=True)
    assert lines[1] == (
        "RECAP: 600 session(s) planned on 300 host(s): 598 warned, 595 logged off, 2 skipped, "
        "1 stuck; 1 host(s) unreachable."
    )
    hosts = [line.split()[0] for line in lines if line.startswith("  rds-")]
    assert hosts == ["rds-001", "rds-002", "rds-003"]
    assert any("connection refused" in line for line in lines)
    assert len(recap_lines(plan, verbose=1, problems=True)) == 300 + 4
    assert len(recap_lines(plan, verbose=0, problems=False)) == 2


def test_a_repeated_fact_counts_once() -> None:
    plan = targets(1, per_host=1)
    view, _ = plain_view(plan, Clock())
    for _ in range(3):
        view.on_event(at(0, Kind.WARNED, "rds-000", 10))
    assert view.tally.counts["warned"] == 1 and view.tally.hosts["rds-000"].counts["warned"] == 1


def test_hostile_names_in_events_are_escaped() -> None:
    plan = {"rds-\x1b[2J": [2]}
    view, out = plain_view(plan, Clock(), verbose=1)
    view.on_event(
        Event(
            Kind.FAILED,
            T0,
            host="rds-\x1b[2J",
            session_id=2,
            username="\u202eeve",
            reason="\x9b31m",
        )
    )
    text = out.getvalue()
    assert "\x1b" not in text and "\u202e" not in text and "\x9b" not in text
    assert "rds-\\x1b[2J session 2 (\\u202eeve): failed: \\x9b31m" in text


def test_an_events_structured_error_is_shown_when_its_reason_is_empty() -> None:
    # Events gain a structured `error` (the engine's ErrorInfo); a stand-in with the same
    # shape proves the view reads it without depending on its class.
    error = SimpleNamespace(reason="open shell: connection refused")
    event = SimpleNamespace(
        kind=Kind.HOST_UNREACHABLE,
        time=T0,
        host="rds-001",
        session_id=None,
        username=None,
        reason="",
        data={},
        error=error,
    )
    assert event_detail(cast(Event, event)) == "open shell: connection refused"
    event.reason = "logoff phase"
    assert event_detail(cast(Event, event)) == "logoff phase: open shell: connection refused"
    plan = targets(2)
    view, out = plain_view(plan, Clock())
    view.on_event(cast(Event, event))
    assert "rds-001: host unreachable: logoff phase: open shell: connection refused" in (
        out.getvalue()
    )
