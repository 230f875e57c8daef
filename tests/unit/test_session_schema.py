"""One session schema for every JSON output (docs/session-schema.md): parse, sessions and
the plan file write the same keys; a session, its doubts, a host's facts and the rules a
session was kept from survive a plan file round trip; a malformed one is refused."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetlogoff.app.sessions import sessions_documents
from fleetlogoff.collect import HostReading
from fleetlogoff.lab.zones import LabZone
from fleetlogoff.model import Connection, Doubt, Host, Session, SessionState
from fleetlogoff.parsers.facts import HostDates, HostFacts
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.json_out import (
    DocumentError,
    facts_document,
    facts_from_document,
    session_document,
    session_from_document,
    sessions_to_json,
)
from fleetlogoff.parsers.timezone import HostClock, read_time_zone
from fleetlogoff.plan_file import PlanFileError, plan_document, read_plan, write_plan
from fleetlogoff.planner import HostPlan, Plan, PlannedSession
from fleetlogoff.rules import KeptFrom
from fleetlogoff.windows import WindowStatus

DOCS = Path(__file__).resolve().parents[2] / "docs" / "session-schema.md"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SESSION = Session(
    id=2,
    username="anna",
    session_name="",
    state=SessionState.DISCONNECTED,
    state_text="Getr.",
    idle_seconds=None,
    idle_text="154262+13:45",
    logon_time=None,
    logon_text="01/12/2026 07:36",
    doubts=(
        Doubt("idle", "idle time '154262+13:45' is absurd (154262 days): unknown"),
        Doubt("logon", "ambiguous date in '01/12/2026 07:36' (day or month first?)"),
    ),
)


def zone_text() -> str:
    values = LabZone("Europe/Berlin").registry_values(NOW.timestamp())
    lines = ["", r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"]
    return "\r\n".join(lines + [f"    {n}    {t}    {d}" for n, t, d in values]) + "\r\n"


ZONE = read_time_zone(zone_text())
FACTS = HostFacts(
    HostDates(
        "host", "auto", DateFormat("dd/MM/yyyy", ("HH:mm", "H:mm"), "", ""), "", ("9/9/9 9:9",)
    ),
    HostClock("host", ZONE.name, ZONE),
)


def documented_keys() -> list[str]:
    """The keys the schema's table lists, in order."""
    table = DOCS.read_text(encoding="utf-8").split("| key | type | meaning |", 1)[1]
    return re.findall(r"^\| `(\w+)` \|", table.split("\n\n", 1)[0], re.M)


def test_the_schema_document_lists_exactly_the_keys_written() -> None:
    assert documented_keys() == list(session_document(SESSION))


def test_parse_sessions_and_plan_write_the_same_session() -> None:
    parsed = sessions_to_json([SESSION])[0]
    host = Host("rds1", ("all",), Connection("127.0.0.1", 5985))
    listed = sessions_documents([HostReading(host, "ok", sessions=(SESSION,))])[0]["sessions"]
    plan = plan_document(plan_with(PlannedSession(SESSION, "keep", None, "no rule matched")))
    planned = plan["hosts"][0]["sessions"][0]
    assert listed == [parsed]
    assert {k: planned[k] for k in parsed} == parsed
    assert set(planned) - set(parsed) == {"action", "rule", "reason", "kept_from"}


def test_a_session_round_trips() -> None:
    assert session_from_document(session_document(SESSION), "s") == SESSION


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"doubts": ["a plain string"]}, "s.doubts[0]"),
        ({"doubts": [{"field": "mood", "reason": "x"}]}, "s.doubts[0].field"),
        ({"logon_time": "2026-12-01T07:36+01:00"}, "s.logon_time"),
        ({"logon_time": "yesterday"}, "s.logon_time"),
        ({"state": "sleepy"}, "s.state"),
        ({"id": -1}, "s.id"),
        ({"idle_seconds": True}, "s.idle_seconds"),
        ({"current": "yes"}, "s.current"),
    ],
)
def test_a_malformed_session_is_refused_naming_the_field(
    change: dict[str, object], where: str
) -> None:
    with pytest.raises(DocumentError) as error:
        session_from_document({**session_document(SESSION), **change}, "s")
    assert error.value.where == where


def plan_with(planned: PlannedSession, facts: HostFacts | None = FACTS) -> Plan:
    window = WindowStatus(is_open=True, closes_at=None, opens_at=None, fits=True, text="always")
    host = HostPlan("rds1", "127.0.0.2", "ok", None, "", (planned,), window, facts)
    return Plan(NOW, "inv.yml", "sha256:aa", "rules.yml", "sha256:bb", None, (host,))


def test_facts_and_kept_from_survive_a_plan_file(tmp_path: Path) -> None:
    kept = (KeptFrom("old-logons", "logon time unreadable: ambiguous date"),)
    plan = plan_with(PlannedSession(SESSION, "keep", None, "no rule matched", kept))
    path = tmp_path / "plan.json"
    write_plan(plan, str(path))
    again = read_plan(str(path))
    assert again == plan
    local = again.hosts[0].facts.clock.local_now(NOW) if again.hosts[0].facts else None
    assert local == datetime(2026, 12, 1, 10, 0)


def test_facts_of_an_unknown_clock_and_an_inventory_order_round_trip() -> None:
    facts = HostFacts(HostDates("inventory", "dmy"), HostClock("unknown", note="no marker line"))
    document = json.loads(json.dumps(facts_document(facts, NOW)))
    assert facts_from_document(document, "f") == facts
    assert document["clock"]["utc_offset_minutes"] is None


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("dates", "source"), "guess", "hosts[0].facts.dates"),
        (("dates", "format", "time_formats"), [], "hosts[0].facts.dates.format.time_formats"),
        (("clock", "source"), "sundial", "hosts[0].facts.clock.source"),
        (
            ("clock", "windows", "standard_start"),
            [0, 10],
            "hosts[0].facts.clock.windows.standard_start",
        ),
        (("dates", "shapes"), "9/9/9", "hosts[0].facts.dates.shapes"),
    ],
)
def test_malformed_facts_refuse_the_plan(
    tmp_path: Path, path: tuple[str, ...], value: object, where: str
) -> None:
    document = plan_document(plan_with(PlannedSession(SESSION, "keep", None, "x")))
    node = document["hosts"][0]["facts"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(PlanFileError) as error:
        read_plan(str(plan_path))
    assert where in str(error.value)


def test_a_plan_without_facts_still_reads(tmp_path: Path) -> None:
    plan = plan_with(PlannedSession(replace(SESSION, doubts=()), "keep", None, "x"), facts=None)
    assert plan_document(plan)["hosts"][0]["facts"] is None
    path = tmp_path / "plan.json"
    write_plan(plan, str(path))
    assert read_plan(str(path)) == plan
