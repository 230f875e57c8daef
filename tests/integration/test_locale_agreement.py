"""Two independent implementations agree: what the lab prints in every locale it knows,
the tool's parser reads back, field by field and without doubt (UTF-8, as the tool asks),
on every test day (the lab's clock is injected)."""

from __future__ import annotations

import pytest

from fleetlogoff.lab.contract import CommandRequest
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.locales import SessionState as LabState
from fleetlogoff.lab.sessions import Session as LabSession
from fleetlogoff.model import SessionState
from fleetlogoff.parsers import decode_output, parse_quser, parse_qwinsta
from tests.clocks import DAYS

NOW = DAYS["1st"].timestamp()
LOCALES = (
    "en-US", "en-GB", "en-AU", "en-CH", "de-DE", "fr-FR", "es-ES", "es-MX", "es-EC",
    "it-IT", "pt-BR", "ru-RU", "zh-CN", "ja-JP",
)  # fmt: skip
SESSIONS = [
    LabSession(0, "Services", state=LabState.DISCONNECTED),
    LabSession(1, "Console", "Administrator", LabState.ACTIVE, NOW - 3 * 86400, None),
    LabSession(2, "RDP-Tcp#5", "anna.müller", LabState.ACTIVE, NOW - 5 * 3600, NOW - 30),
    LabSession(3, "", "王伟", LabState.DISCONNECTED, NOW - 15 * 86400, NOW - 2 * 86400),
    LabSession(4, "RDP-Tcp#12", "jean.dupont-longname", LabState.ACTIVE, NOW - 600, NOW - 400),
    LabSession(5, "", "Дмитрий", LabState.DISCONNECTED, NOW - 7200, NOW - 3000),
    LabSession(65536, "RDP-Tcp", "", LabState.LISTEN),
]
EXPECTED = {
    1: ("Administrator", "console", SessionState.ACTIVE, 0),
    2: ("anna.müller", "rdp-tcp#5", SessionState.ACTIVE, 0),
    3: ("王伟", "", SessionState.DISCONNECTED, 2 * 86400),
    4: ("jean.dupont-longname", "rdp-tcp#12", SessionState.ACTIVE, 360),
    5: ("Дмитрий", "", SessionState.DISCONNECTED, 3000 - 3000 % 60),
}


def _run(host: SimHost, command: str) -> str:
    out = host.run(CommandRequest(command, 65001, "Administrator"))
    return decode_output(out.stdout or out.stderr, 65001)


@pytest.mark.parametrize("day", sorted(DAYS))
@pytest.mark.parametrize("locale", LOCALES)
def test_quser_of_every_lab_locale_reads_back(locale: str, day: str) -> None:
    shift = DAYS[day].timestamp() - NOW  # the same sessions, moved to that day
    sessions_then = [
        LabSession(s.id, s.name, s.user, s.state, s.logon_time + shift if s.user else 0.0,
                   None if s.last_input is None else s.last_input + shift)
        for s in SESSIONS
    ]  # fmt: skip
    host = SimHost(
        f"rds-{locale}", locale=locale, sessions=sessions_then, clock=lambda: NOW + shift
    )
    sessions = parse_quser(_run(host, "quser"))
    got = {s.id: (s.username, s.session_name, s.state, s.idle_seconds) for s in sessions}
    assert got == EXPECTED
    assert all(not s.doubts for s in sessions), [s.doubts for s in sessions]
    for parsed, lab in zip(sessions, [s for s in sessions_then if s.user], strict=True):
        wall = host.zone.local(lab.logon_time).replace(tzinfo=None, second=0, microsecond=0)
        assert parsed.logon_time == wall


@pytest.mark.parametrize("locale", LOCALES)
def test_qwinsta_of_every_lab_locale_reads_back(locale: str) -> None:
    host = SimHost(f"rds-{locale}", locale=locale, sessions=SESSIONS, clock=lambda: NOW)
    sessions = parse_qwinsta(_run(host, "qwinsta"))
    assert [s.id for s in sessions] == [s.id for s in SESSIONS]
    assert sessions[-1].state is SessionState.LISTEN
    assert all(not s.doubts for s in sessions), [s.doubts for s in sessions]
