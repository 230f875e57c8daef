"""The plan document round-trips, and a malformed one is refused naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetlogoff.model import Session, SessionState
from fleetlogoff.plan_file import (
    InventoryNotPlanError,
    PlanFileError,
    plan_document,
    read_plan,
    write_plan,
)
from fleetlogoff.planner import HostPlan, Plan, PlannedSession
from fleetlogoff.windows import WindowStatus

SESSION = Session(
    id=4,
    username="stale.user",
    session_name="",
    state=SessionState.DISCONNECTED,
    idle_seconds=7200,
    logon_time=datetime(2026, 11, 23, 8, 15),
    logon_text="11/23/2026 8:15 AM",
)
PLAN = Plan(
    created=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    inventory_source="inv.yml",
    inventory_digest="sha256:aa",
    rules_source="command-line",
    rules_digest="sha256:bb",
    limit=None,
    hosts=(
        HostPlan(
            name="rds01",
            address="127.0.0.2",
            status="ok",
            error=None,
            raw="",
            sessions=(PlannedSession(SESSION, "target", "stale", "disconnected, idle 2h"),),
            window=WindowStatus(
                is_open=True, closes_at=None, opens_at=None, fits=True, text="always open"
            ),
        ),
    ),
    rules_spec={"rules_file": None, "users": [], "states": ["disc"], "idle": ">= 2h"},
)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(PLAN, str(path))
    again = read_plan(str(path))
    assert again == PLAN
    target = json.loads(path.read_text())["hosts"][0]["targets"][0]
    assert target["logon_time"] == "2026-11-23T08:15" and target["rule"] == "stale"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.update(format_version=99), "format_version 99 is not 2"),
        (lambda d: d.update(format_version=1), "format_version 1 is not 2"),
        (lambda d: d.update(format_version=True), "format_version True"),
        (lambda d: d.update(format_version="2"), "format_version '2'"),
        (lambda d: d.update(created="2026-11-24T09:00:00"), "created: timestamp .* no time zone"),
        (lambda d: d["hosts"][0]["window"].update(open="yes"), "window.open: expected true"),
        (lambda d: d["hosts"][0]["window"].update(opens_at="2026-11-24T09:00"), "no time zone"),
        (lambda d: d["hosts"][0]["targets"].clear(), "targets: not the sessions"),
        (lambda d: d["hosts"].append(d["hosts"][0]), "a host appears twice"),
        (lambda d: d["rules"]["spec"].update(evil=1), "unknown field 'evil'"),
        (lambda d: d["rules"]["spec"].update(users="ann"), "rules.spec.users"),
        (lambda d: d["rules"].pop("spec"), "rules.spec: expected an object"),
        (lambda d: d["hosts"][0]["sessions"][0].update(id="4"), "hosts[0].sessions[0].id"),
        (lambda d: d["hosts"][0].update(status="great"), "unknown status"),
        (lambda d: d.update(created="yesterday"), "created"),
        (lambda d: d["inventory"].pop("digest"), "inventory.digest"),
    ],
)
def test_malformed_plans_are_refused(tmp_path: Path, mutate: object, needle: str) -> None:
    document = plan_document(PLAN)
    mutate(document)  # type: ignore[operator]  # the parametrized lambdas take the dict
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PlanFileError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        read_plan(str(path))


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{ nope")
    with pytest.raises(PlanFileError, match="not JSON"):
        read_plan(str(path))


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b'{"format_version": 2, "x": "\xff"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not a plan"),
        (b'{"format_version": NaN}', "NaN is not a number"),
        (b"", "not JSON"),
    ],
)
def test_files_that_are_not_plans_are_refused(tmp_path: Path, data: bytes, needle: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(data)
    with pytest.raises(PlanFileError, match=needle):
        read_plan(str(path))


@pytest.mark.parametrize(
    "document",
    [
        {"all": {"hosts": {"rds01": {"ansible_host": "127.0.0.2"}}}},
        {"rds": {"hosts": {"rds01": None}}, "ungrouped": None},
        {"all": {"children": {"rds": {"hosts": {"rds01": {}}}}, "vars": {"ansible_port": 5985}}},
    ],
)
def test_a_json_inventory_is_told_apart(tmp_path: Path, document: object) -> None:
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InventoryNotPlanError, match="in the shape of an inventory"):
        read_plan(str(path))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("format_version"),  # a plan without its version is still a plan
        lambda d: d.clear(),  # {} is neither: refused as a plan
        lambda d: d.update(format_version={"all": {}}),
    ],
)
def test_only_an_inventory_shape_is_taken_for_one(tmp_path: Path, mutate: object) -> None:
    document = plan_document(PLAN)
    mutate(document)  # type: ignore[operator]  # the parametrized lambdas take the dict
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PlanFileError, match="format_version") as caught:
        read_plan(str(path))
    assert not isinstance(caught.value, InventoryNotPlanError)


def test_the_written_plan_is_canonical(tmp_path: Path) -> None:
    """Keys sorted: the same plan is the same bytes (and digest) in every process."""
    path = tmp_path / "plan.json"
    write_plan(PLAN, str(path))
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    assert document["format_version"] == 2
