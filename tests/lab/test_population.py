"""The default fleet: deterministic, varied, realistic, and shaped by scenarios."""

from __future__ import annotations

from collections import Counter

from fleetlogoff.lab.contract import CommandRequest, NetworkBehaviour
from fleetlogoff.lab.host import LAB_ADMIN, LAB_USER
from fleetlogoff.lab.locales import LOCALES, SessionState
from fleetlogoff.lab.population import SPECIAL_USERS, build_fleet
from fleetlogoff.lab.render import QwinstaLayout
from fleetlogoff.lab.scenario import HostSpec, Scenario, SessionSpec

START = 1_800_000_000.0


def clock() -> float:
    return START


def snapshot(count: int, seed: int) -> list[object]:
    return [
        (h.name, h.locale.tag, h.layout, h.sessions())
        for h in build_fleet(count, seed, clock=clock)
    ]


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    assert snapshot(30, 1) == snapshot(30, 1)
    assert snapshot(30, 1) != snapshot(30, 2)


def test_fleet_is_a_realistic_mix() -> None:
    hosts = build_fleet(300, 5, clock=clock)
    assert [h.name for h in hosts[:2]] == ["rds-0001", "rds-0002"]
    locales = Counter(h.locale.tag for h in hosts)
    assert locales.most_common(1)[0][0] == "en-US"
    assert {"de-DE", "fr-FR", "ru-RU", "zh-CN", "ja-JP", "pt-BR"} <= set(locales)
    user_counts = [sum(1 for s in h.sessions() if s.user and s.id > 1) for h in hosts]
    assert any(n == 0 for n in user_counts)
    assert all(n == 0 or 2 <= n <= 13 for n in user_counts)
    states = Counter(s.state for h in hosts for s in h.sessions() if s.id > 1 and s.user)
    assert states[SessionState.ACTIVE] > 100 and states[SessionState.DISCONNECTED] > 100
    idle_days = [START - s.last_input for h in hosts for s in h.sessions() if s.last_input]
    assert min(idle_days) < 60 and max(idle_days) > 86400
    assert any(h.layout is QwinstaLayout.WIDE for h in hosts)
    consoles = Counter(bool(s.user) for h in hosts for s in h.sessions() if s.id == 1)
    assert consoles[True] > 0 and consoles[False] > 0


def test_special_names_are_in_every_fleet() -> None:
    users = {s.user for h in build_fleet(len(SPECIAL_USERS), 9, clock=clock) for s in h.sessions()}
    assert set(SPECIAL_USERS) <= users
    assert any(len(name) == 20 for name in users)
    assert any(not name.isascii() for name in users)


def test_every_host_has_lab_accounts_and_answers_quser() -> None:
    for host in build_fleet(len(LOCALES), 3, clock=clock):
        assert host.accounts == (LAB_ADMIN, LAB_USER)
        result = host.run(CommandRequest("quser", None, "Administrator"))
        assert result.exit_code in (0, 1) and (result.stdout or result.stderr)


def test_scenario_overrides_only_the_matching_hosts() -> None:
    spec = HostSpec(
        locale="ru-RU",
        network=NetworkBehaviour(down=True),
        sessions=(SessionSpec(2, "Дмитрий", SessionState.DISCONNECTED, 7200, 3600),),
    )
    plain = build_fleet(5, 4, clock=clock)
    shaped = build_fleet(5, 4, Scenario(hosts=(("rds-0003", spec),)), clock=clock)
    assert [h.sessions() for i, h in enumerate(shaped) if i != 2] == [
        h.sessions() for i, h in enumerate(plain) if i != 2
    ]
    target = shaped[2]
    assert target.locale.tag == "ru-RU" and target.network.down
    users = [(s.id, s.user, s.name) for s in target.sessions() if s.id > 1 and s.user]
    assert users == [(2, "Дмитрий", "")]
