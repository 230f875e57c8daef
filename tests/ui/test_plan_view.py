"""The plan view: a line per target grouped by host, every unread host with its cause,
what stays as counts by reason, one summary; bounded length; never wrapped off a
terminal; fitted to a terminal's width on one."""

from __future__ import annotations

import io
import re

from rich.cells import cell_len
from rich.console import Console

from fleetlogoff.planner import Plan
from fleetlogoff.ui import make_console
from fleetlogoff.ui.lines import PlainSink
from fleetlogoff.ui.plan_view import render_plan
from fleetlogoff.windows import WindowStatus

from .planutil import NOW, fleet, host, kept, plan, protected, target


def render(the_plan: Plan, *, show_all: bool = False) -> list[str]:
    out = io.StringIO()
    console = make_console(out, color=False)
    render_plan(console, the_plan, show_all=show_all)
    return out.getvalue().splitlines()


def test_a_large_fleet_prints_targets_problems_and_a_few_dozen_lines() -> None:
    big = fleet(1000, failed_every=50)
    lines = render(big)
    targets = big.target_count
    failed = len(big.failed_hosts)
    assert len(lines) <= targets + failed + 40
    assert sum(1 for line in lines if re.match(r"  rds-\d{4} +\d+ ", line)) == targets
    for h in big.failed_hosts:
        assert any(line.split()[:3] == [h.name, "unreachable", "connection"] for line in lines)
    assert all(line == line.rstrip() for line in lines)


def test_what_stays_is_counted_by_reason_with_hosts() -> None:
    lines = render(fleet(30))
    joined = "\n".join(lines)
    assert re.search(r"protected +30 +30 +console session$", joined, re.M)
    assert re.search(r"protected +30 +30 +built-in administrator Administrator$", joined, re.M)
    # one reason per user would be 30 lines: the user's own name is masked instead
    assert re.search(r"protected +30 +30 +protected user <user>$", joined, re.M)
    assert re.search(r"keep +30 +30 +no rule matched$", joined, re.M)
    assert "Plan: 40 session(s) to log off on 20 of 30 host(s) (by rule: stale 20, old 20)." in (
        lines
    )
    assert "Hosts: 30 ok. Sessions read: 160 (40 to log off, 90 protected, 30 kept)." in lines


def test_all_lists_every_session_that_stays_with_its_reason() -> None:
    lines = render(fleet(3), show_all=True)
    assert lines[1].split()[-1] == "REASON" and lines[2].endswith("disconnected (rule stale)")
    assert sum(1 for line in lines if "protected user user2" in line) == 1
    assert sum(1 for line in lines if re.match(r"  rds-000\d +\d+ ", line)) == 3 * 4 + 2 * 2


def test_many_distinct_reasons_are_capped_with_a_count_of_the_rest() -> None:
    rows = tuple(protected(i + 2, f"u{i}", f"protected: odd reason number {i}") for i in range(30))
    lines = render(plan(host("rds-1", rows)))
    assert sum(1 for line in lines if "odd reason number" in line) == 20
    assert "  and 10 session(s) for 10 other reason(s)" in lines


def test_no_line_wraps_without_a_terminal() -> None:
    long_user = "a.very.long.user.name." * 10
    lines = render(plan(host("rds-1", (target(2, long_user),))))
    assert any(long_user in line for line in lines)


def test_a_terminal_gets_lines_cut_to_its_width() -> None:
    out = io.StringIO()
    console = Console(file=out, width=60, force_terminal=True, color_system=None)
    the_plan = plan(
        host("rds-with-a-rather-long-name.corp.example", (target(2, "u" * 50, rule="r" * 40),)),
        host("rds-2", status="error", error="cannot read quser output: " + "x" * 200),
    )
    render_plan(console, the_plan)
    lines = out.getvalue().splitlines()
    assert lines and all(cell_len(line) <= 60 for line in lines)
    assert any("…" in line for line in lines)


def test_hostile_texts_are_escaped() -> None:
    evil = "eve\x1b]0;owned\x07\u202etxt.exe"
    the_plan = plan(
        host("rds-1", (target(2, evil), protected(3, evil, f"protected: protected user {evil}"))),
        host("rds-2", status="error", error="quser: \x1b[2J garbage"),
    )
    text = "\n".join(render(the_plan, show_all=True))
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "eve\\x1b]0;owned\\x07\\u202etxt.exe" in text
    assert "quser: \\x1b[2J garbage" in text


def test_nothing_to_do_says_so_in_a_few_lines() -> None:
    lines = render(plan(*(host(f"rds-{i}", (kept(2, "u"),)) for i in range(500))))
    assert lines[0] == "No sessions to log off."
    assert len(lines) < 15


def test_closed_windows_are_counted_with_the_first_opening() -> None:
    opens = NOW.replace(hour=22)
    closed = WindowStatus(False, None, opens, False, "closed, opens in 12h30m")
    lines = render(
        plan(host("rds-1", (target(2, "u"),), window=closed), host("rds-2", (target(2, "v"),)))
    )
    line = next(line for line in lines if line.startswith("Maintenance windows:"))
    assert "1 of 2 host(s)" in line and "1 closed" in line
    assert opens.astimezone().strftime("%H:%M") in line


def test_plain_sink_writes_no_trailing_spaces() -> None:
    out = io.StringIO()
    PlainSink(out).line("a  ", ("b   ", "bold"))
    assert out.getvalue() == "a  b\n"
