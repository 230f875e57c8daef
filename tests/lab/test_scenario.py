"""Scenario files: the documented example loads, and mistakes name file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetlogoff.lab.contract import NetworkBehaviour
from fleetlogoff.lab.dynamics import Trigger
from fleetlogoff.lab.locales import SessionState
from fleetlogoff.lab.render import QwinstaLayout
from fleetlogoff.lab.scenario import (
    HostSpec,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "scenario-example.yml"


def test_example_scenario_loads_with_every_feature() -> None:
    scenario = load_scenario(str(EXAMPLE))
    first = scenario.spec_for("rds-0001")
    assert first.locale == "de-DE" and first.utc_offset_minutes == 120
    assert first.sessions is not None and first.sessions[1].state is SessionState.DISCONNECTED
    assert first.sessions[1].idle_s == 86400 + 7200
    assert first.sessions[2].idle_s is None
    assert first.dynamics is not None
    assert [r.trigger for r in first.dynamics] == [
        Trigger.LOGS_OFF,
        Trigger.RECONNECTS,
        Trigger.ACTIVE_AFTER_MESSAGE,
        Trigger.REUSE_FREED_ID,
    ]
    second = scenario.spec_for("rds-0002")
    assert second.locale == "ja-JP" and second.layout is QwinstaLayout.WIDE
    assert second.logoff is not None and second.logoff.hang
    assert scenario.spec_for("rds-0004").network == NetworkBehaviour(
        latency_s=0.15, reset_rate=0.1, error_rate=0.05
    )
    assert scenario.spec_for("rds-0008").sessions == ()
    assert scenario.spec_for("rds-0042") == HostSpec(layout=QwinstaLayout.CLASSIC)


def test_example_is_embedded_in_the_docs() -> None:
    docs = (EXAMPLE.parents[1] / "docs" / "lab-scenarios.md").read_text(encoding="utf-8")
    assert EXAMPLE.read_text(encoding="utf-8") in docs


def test_later_entries_override_earlier_ones() -> None:
    scenario = parse_scenario(
        "hosts:\n  'rds-*':\n    locale: fr-FR\n  rds-0002:\n    locale: ru-ru\n", "s.yml"
    )
    assert scenario.spec_for("rds-0001").locale == "fr-FR"
    assert scenario.spec_for("RDS-0002").locale == "ru-RU"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("hosts:\n  rds-0001:\n    locael: de-DE\n", "s.yml:3:5", "unknown key 'locael'"),
        ("bogus: 1\n", "s.yml:1:1", "unknown key 'bogus'"),
        ("hosts:\n  rds-0001:\n    locale: xx-XX\n", "s.yml:3:13", "unknown locale"),
        ("hosts:\n  rds-0001:\n    network: {latency: 5}\n", "s.yml:3:24", "bad duration"),
        ("hosts:\n  rds-0001:\n    network: {latency: 5 parsecs}\n", "s.yml:3:24", "bad duration"),
        ("hosts:\n  rds-0001:\n    network: {down: yes please}\n", "s.yml:3:21", "true or false"),
        ("hosts:\n  rds-0001:\n    network: {reset_rate: 2}\n", "s.yml:3:27", "between 0 and 1"),
        ("hosts:\n  rds-0001:\n    sessions: {id: 2}\n", "s.yml:3:15", "must be a list"),
        ("hosts:\n  rds-0001:\n    sessions:\n      - {user: a}\n", "s.yml:4:9", "needs 'id'"),
        (
            "hosts:\n  rds-0001:\n    sessions:\n      - {id: 1, user: a}\n",
            "s.yml:4:14",
            "between 2",
        ),
        (
            "hosts:\n  rds-0001:\n    sessions:\n      - {id: 2, user: a, state: asleep}\n",
            "s.yml:4:33",
            "state",
        ),
        ("hosts:\n  rds-0001:\n    dynamics:\n      - {user: a}\n", "s.yml:4:9", "exactly one"),
        ("hosts:\n  rds-0001:\n    logoff: {error_code: '5'}\n", "s.yml:3:26", "an integer"),
        ("hosts:\n  rds-0001: {}\n  rds-0001: {}\n", "s.yml:3:3", "duplicate key"),
        ("hosts:\n  rds-0001:\n    layout: fancy\n", "s.yml:3:13", "classic"),
        ("hosts: [\n", "s.yml:2:1", ""),
    ],
)
def test_mistakes_are_one_line_errors_with_position(text: str, where: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.yml")
    message = str(info.value)
    assert message.startswith(where + ": ") and words in message and "\n" not in message


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(str(tmp_path / "missing.yml"))


def test_empty_file_is_an_empty_scenario() -> None:
    assert parse_scenario("", "s.yml") == Scenario()


def test_durations_with_several_units() -> None:
    scenario = parse_scenario("defaults:\n  logoff: {delay: 1h30m}\n", "s.yml")
    assert scenario.defaults.logoff is not None and scenario.defaults.logoff.delay_s == 5400
