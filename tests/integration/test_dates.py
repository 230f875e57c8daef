"""Dates end to end, through real pypsrp against the lab, with the lab's clock and the
tool's clock injected on the days that break date parsers and across DST changes:
plans read every lab locale without a date doubt, logon-age rules select exactly the
sessions they should on hosts from UTC-12 to UTC+14, a date doubt never blocks a
state/idle rule, and apply reads a host as plan did (or refuses a changed one)."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli import main
from fleetlogoff.env import Environment
from fleetlogoff.lab.fleet import start_fleet
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.inventory_out import write_inventory
from fleetlogoff.lab.locales import LOCALES
from fleetlogoff.lab.locales import SessionState as LabState
from fleetlogoff.lab.population import build_fleet
from fleetlogoff.lab.scenario import HostSpec, Scenario, SessionSpec
from fleetlogoff.lab.sessions import Session as LabSession
from tests.cliutil import Result
from tests.clocks import DAYS, dst_changes

Clock = Callable[[], datetime]
RULES = """\
- name: old-logons
  logon_age: "> 1d"
- name: stale-disconnected
  states: [disconnected]
  idle: ">= 2h"
"""


def running_from(moment: datetime) -> Clock:
    """A clock that starts at `moment` and runs at real speed (apply waits on it)."""
    started = time.monotonic()
    return lambda: moment + timedelta(seconds=time.monotonic() - started)


def cli_at(argv: list[str], clock: Clock) -> Result:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdin=io.StringIO(""),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=False,
        environ={"HOME": "/nonexistent", "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]},
        clock=clock,
        ask_password=lambda prompt: "",
    )
    return Result(main(argv, env), out.getvalue(), err.getvalue())


@contextmanager
def lab_fleet(hosts: list[SimHost], tmp_path: Path) -> Iterator[Path]:
    with start_fleet(hosts, https=False, work_dir=tmp_path) as fleet:
        inventory = tmp_path / "inventory.yml"
        write_inventory(inventory, hosts, fleet.endpoints)
        yield inventory


RECENT = (
    SessionSpec(2, "early.bird", LabState.DISCONNECTED, logon_ago_s=5 * 3600, idle_s=3 * 3600),
    SessionSpec(3, "just.in", LabState.ACTIVE, logon_ago_s=40 * 60, idle_s=30),
)


def every_locale_fleet(clock: Clock, seed: int) -> list[SimHost]:
    """Two hosts of every lab locale with the population's realistic sessions, and one
    more of each whose users all logged on in the last hours (on the 1st, the 12th of
    a slash-date locale, their dates read two ways)."""
    tags = sorted(LOCALES)
    entries = [(f"rds-{i + 1:04d}", HostSpec(locale=tags[i % len(tags)])) for i in range(28)]
    entries += [
        (f"rds-{i + 29:04d}", HostSpec(locale=tag, sessions=RECENT)) for i, tag in enumerate(tags)
    ]
    scenario = Scenario(hosts=tuple(entries))
    return build_fleet(len(entries), seed, scenario, clock=lambda: clock().timestamp())


def sessions_of(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for host in document["hosts"]:
        for session in host["sessions"]:
            yield host["name"], session


MOMENTS = {
    **DAYS,
    "eu-fall-back": dst_changes("Europe/Berlin")[1] + timedelta(minutes=30),
    "us-fall-back": dst_changes("America/New_York")[1] + timedelta(minutes=30),
}


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_a_logon_age_plan_reads_every_lab_locale_without_a_date_doubt(
    moment: str, tmp_path: Path
) -> None:
    clock = running_from(MOMENTS[moment])
    hosts = every_locale_fleet(clock, seed=len(moment))
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES, encoding="utf-8")
    with lab_fleet(hosts, tmp_path) as inventory:
        result = cli_at(["plan", str(inventory), "--rules", str(rules), "--format", "json"], clock)
    assert result.status == ExitStatus.OK, result.stderr
    document = result.json()
    for host in document["hosts"]:
        assert host["status"] == "ok", host
        assert host["facts"]["dates"]["source"] in ("output", "host"), host["facts"]
        assert host["facts"]["clock"]["source"] == "host", host["facts"]
    for name, session in sessions_of(document):
        assert not [d for d in session["doubts"] if d["field"] in ("logon", "idle")], (
            name,
            session,
        )
        assert session["kept_from"] == [], (name, session)
    if moment.startswith("1st"):
        learned = [h for h in document["hosts"] if h["facts"]["dates"]["source"] == "host"]
        assert learned, "on the 1st some host prints only dates that read two ways"


@pytest.mark.parametrize("moment", sorted(DAYS))
def test_a_date_doubt_never_blocks_a_state_and_idle_rule(moment: str, tmp_path: Path) -> None:
    now = DAYS[moment]
    clock = running_from(now)
    epoch = now.timestamp()
    sessions = [
        LabSession(2, "", "stale.user", LabState.DISCONNECTED, epoch - 4 * 3600, epoch - 3 * 3600),
        LabSession(3, "RDP-Tcp#9", "busy.user", LabState.ACTIVE, epoch - 3600, epoch - 60),
    ]
    # fr-FR prints dd/MM/yyyy and this host refuses to show its format: its dates stay
    # doubtful when none of them has a day above 12 (01/12/2026 reads two ways; 12/12 and
    # 13/01 do not).
    host = SimHost(
        "rds-fr",
        locale="fr-FR",
        sessions=sessions,
        clock=lambda: clock().timestamp(),
        international_access="denied",
    )
    with lab_fleet([host], tmp_path) as inventory:
        argv = ["plan", str(inventory), "--state", "disconnected", "--idle", ">= 2h"]
        result = cli_at([*argv, "--format", "json"], clock)
    assert result.status == ExitStatus.OK, result.stderr
    (planned,) = result.json()["hosts"]
    actions = {s["username"]: s["action"] for s in planned["sessions"]}
    assert actions == {"stale.user": "target", "busy.user": "keep"}
    days = {host.zone.local(s.logon_time).date() for s in sessions}
    two_ways = all(day.day <= 12 and day.day != day.month for day in days)
    doubtful = [s for s in planned["sessions"] if s["doubts"]]
    assert bool(doubtful) is two_ways, (moment, days)
    if two_ways:
        assert "ERREUR : Accès refusé." in planned["facts"]["dates"]["note"]
    assert all(d["field"] == "logon" for s in doubtful for d in s["doubts"])
    assert all("fleetlogoff_date_order" in d["reason"] for s in doubtful for d in s["doubts"])


# Zones from UTC-12 to UTC+14; those with DST at a moment just under two days after one of
# their clock changes, so the logons around the two-day line were made before the change
# (a tool that used only today's offset would be an hour off and pick the wrong ones).
STRADDLE = timedelta(days=2) - timedelta(hours=3)
AGE_ZONES = {
    "Etc/GMT+12": ("en-US", DAYS["1st"]),
    "America/Los_Angeles": ("es-MX", dst_changes("America/Los_Angeles")[1] + STRADDLE),
    "America/New_York": ("en-US", dst_changes("America/New_York")[0] + STRADDLE),
    "Europe/Berlin": ("de-DE", dst_changes("Europe/Berlin")[1] + STRADDLE),
    "Europe/London": ("en-GB", DAYS["12th"]),
    "Asia/Tokyo": ("ja-JP", DAYS["13th"]),
    "Pacific/Auckland": ("en-AU", dst_changes("Pacific/Auckland")[0] + STRADDLE),
    "Pacific/Kiritimati": ("fr-FR", DAYS["last-day"]),
}
# Logon ages around the rule's two days: three minutes either side, well past it, recent.
AGES = {
    "just.under": timedelta(days=2) - timedelta(minutes=3),
    "just.over": timedelta(days=2) + timedelta(minutes=3),
    "well.over": timedelta(days=2, hours=5),
    "recent": timedelta(hours=5),
}


def age_host(index: int, zone: str, locale: str, now: datetime, clock: Clock) -> SimHost:
    epoch = now.timestamp()
    sessions = [
        LabSession(i + 2, "", user, LabState.DISCONNECTED, epoch - age.total_seconds(), epoch - 60)
        for i, (user, age) in enumerate(AGES.items())
    ]
    return SimHost(
        f"rds-{index}",
        locale=locale,
        sessions=sessions,
        clock=lambda: clock().timestamp(),
        time_zone=zone,
    )


@pytest.mark.parametrize("zone", sorted(AGE_ZONES))
def test_a_logon_age_rule_selects_exactly_on_the_host_clock_then_apply_agrees(
    zone: str, tmp_path: Path
) -> None:
    locale, now = AGE_ZONES[zone]
    clock = running_from(now)
    host = age_host(0, zone, locale, now, clock)
    rules = tmp_path / "rules.yml"
    rules.write_text('- {name: two-days, logon_age: "> 2d"}\n', encoding="utf-8")
    plan = tmp_path / "plan.json"
    with lab_fleet([host], tmp_path) as inventory:
        planned = cli_at(["plan", str(inventory), "--rules", str(rules), "-o", str(plan)], clock)
        assert planned.status == ExitStatus.OK, planned.stderr
        document = json.loads(plan.read_text(encoding="utf-8"))
        (host_plan,) = document["hosts"]
        targets = sorted(t["username"] for t in host_plan["targets"])
        assert targets == ["just.over", "well.over"], host_plan
        offset = host_plan["facts"]["clock"]["utc_offset_minutes"]
        assert offset == host.zone.offset_at(now.timestamp())
        applied = cli_at(
            [
                "apply",
                str(plan),
                "--yes",
                "--warn",
                "0s",
                "--audit-log",
                str(tmp_path / "audit.jsonl"),
            ],
            clock,
        )
        assert applied.status == ExitStatus.OK, applied.stderr + applied.stdout
        left = sorted(s.user for s in host.sessions() if s.user)
    assert left == ["just.under", "recent"]


def test_a_logon_in_the_repeated_hour_near_the_line_is_kept_and_says_why(tmp_path: Path) -> None:
    change = dst_changes("America/Los_Angeles")[1]  # 02:00 PDT becomes 01:00 PST
    now = change + timedelta(days=2)  # logons two days ago fall in the repeated hour
    clock = running_from(now)
    host = age_host(0, "America/Los_Angeles", "en-US", now, clock)
    with lab_fleet([host], tmp_path) as inventory:
        rules = tmp_path / "rules.yml"
        rules.write_text('- {name: two-days, logon_age: "> 2d"}\n', encoding="utf-8")
        result = cli_at(["plan", str(inventory), "--rules", str(rules), "--format", "json"], clock)
    by_user = {s["username"]: s for s in result.json()["hosts"][0]["sessions"]}
    assert [t for t, s in by_user.items() if s["action"] == "target"] == ["well.over"]
    (kept,) = by_user["just.over"]["kept_from"]
    assert kept["rule"] == "two-days" and "repeat or skip" in kept["reason"]


def test_apply_refuses_a_host_whose_date_format_changed_since_the_plan(tmp_path: Path) -> None:
    now = DAYS["1st"] + timedelta(hours=2)
    clock = running_from(now)
    epoch = now.timestamp()
    sessions = [LabSession(2, "", "old.user", LabState.DISCONNECTED, epoch - 3 * 86400, epoch - 60)]
    sessions.append(
        LabSession(3, "", "today.user", LabState.DISCONNECTED, epoch - 3600, epoch - 60)
    )
    hosts = [
        SimHost(name, locale="en-GB", sessions=list(sessions), clock=lambda: clock().timestamp())
        for name in ("rds-same", "rds-changed")
    ]
    rules = tmp_path / "rules.yml"
    rules.write_text('- {name: old, logon_age: "> 1d"}\n', encoding="utf-8")
    plan = tmp_path / "plan.json"
    with lab_fleet(hosts, tmp_path) as inventory:
        assert (
            cli_at(["plan", str(inventory), "--rules", str(rules), "-o", str(plan)], clock).status
            == 0
        )
        hosts[1].set_international({"sShortDate": "yyyy-MM-dd"})
        result = cli_at(
            ["apply", str(plan), "--yes", "--warn", "0s", "--audit-log", str(tmp_path / "a.jsonl")],
            clock,
        )
        assert result.status == ExitStatus.ERROR, result.stdout
        assert [s.user for s in hosts[0].sessions() if s.user] == ["today.user"]
        assert sorted(s.user for s in hosts[1].sessions() if s.user) == ["old.user", "today.user"]
    audit = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    refused = [
        e for e in audit if e.get("host") == "rds-changed" and "date format" in e.get("reason", "")
    ]
    assert refused, audit


def test_the_plan_records_each_host_clock_and_format(tmp_path: Path) -> None:
    now = DAYS["1st"]
    clock = running_from(now)
    epoch = now.timestamp()
    sessions = [LabSession(2, "", "anna", LabState.DISCONNECTED, epoch - 600, epoch - 60)]
    host = SimHost("rds-gb", locale="en-GB", sessions=sessions, clock=lambda: clock().timestamp())
    with lab_fleet([host], tmp_path) as inventory:
        data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        assert "fleetlogoff_timezone" not in json.dumps(data)
        result = cli_at(["plan", str(inventory), "--state", "disc", "--format", "json"], clock)
    facts = result.json()["hosts"][0]["facts"]
    assert facts["dates"]["format"] == {
        "short_date": "dd/MM/yyyy",
        "time_formats": ["HH:mm"],
        "am": "AM",
        "pm": "PM",
    }
    assert facts["clock"]["name"] == "GMT Standard Time"
    assert facts["clock"]["text"] == "GMT Standard Time (UTC+00:00, from the host)"
    assert now.tzinfo is UTC
