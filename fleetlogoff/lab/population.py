"""The default simulated fleet: a deterministic, realistic mix of RDS hosts.

Each host draws from its own `random.Random(f"{seed}:{name}")`, so a scenario that
overrides one host never changes the others, and the same seed always gives the
same fleet. Times are relative to the clock at build time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.locales import SessionState, get_locale
from fleetlogoff.lab.render import QwinstaLayout
from fleetlogoff.lab.scenario import HostSpec, Scenario, SessionSpec
from fleetlogoff.lab.sessions import (
    CONSOLE_ID,
    FIRST_LISTENER_ID,
    SERVICES_ID,
    SYSTEM_CLOCK,
    Clock,
    Session,
)

# (locale, weight): en-US the most common, every simulated language present.
LOCALE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("en-US", 40),
    ("en-GB", 8),
    ("de-DE", 10),
    ("fr-FR", 7),
    ("es-ES", 5),
    ("it-IT", 5),
    ("pt-BR", 5),
    ("ru-RU", 5),
    ("zh-CN", 5),
    ("ja-JP", 4),
    ("en-AU", 2),
    ("es-MX", 2),
    ("en-CH", 2),
)
FIRST_NAMES = (
    "anna", "ben", "clara", "david", "emma", "felix", "hannah", "jonas", "laura", "lukas",
    "maria", "noah", "olivia", "paul", "sara", "tom", "yusuf", "zoe", "marco", "chloe",
)  # fmt: skip
LAST_NAMES = (
    "meier", "smith", "rossi", "dubois", "garcia", "novak", "berg", "kowalski", "silva",
    "tanaka", "nguyen", "keller", "brown", "moreau", "ricci", "schulz",
)  # fmt: skip
# Names that must exist somewhere in every fleet: non-ASCII names, a 20-character name
# (the longest a Windows user name can be), service and admin accounts.
SPECIAL_USERS = (
    "maximilian.schneider",
    "José",
    "jürgen.weiß",
    "Дмитрий",
    "王伟",
    "svc_backup",
    "Administrator",
    "j.doe",
)
# Share of hosts with no user logged on, and of hosts using the Windows 11 qwinsta layout.
EMPTY_HOST_RATE = 0.08
WIDE_LAYOUT_RATE = 0.1
CONSOLE_USER_RATE = 0.2
_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0


def host_name(index: int) -> str:
    """Name of the index-th host (1-based): rds-0001, rds-0002, ..."""
    return f"rds-{index:04d}"


def build_fleet(
    count: int, seed: int, scenario: Scenario | None = None, *, clock: Clock = SYSTEM_CLOCK
) -> list[SimHost]:
    """Build `count` simulated hosts.

    Args:
        count: number of hosts (rds-0001 ... rds-NNNN).
        seed: makes the fleet reproducible.
        scenario: per-host overrides; None for the plain default population.
        clock: the lab clock (epoch seconds); each host gets its own time zone.

    Raises:
        ValueError: count is negative.
    """
    if count < 0:
        raise ValueError(f"host count must be >= 0, got {count}")
    scenario = scenario or Scenario()
    now = clock()
    return [
        _build_host(i, seed, scenario.spec_for(host_name(i)), now, clock)
        for i in range(1, count + 1)
    ]


def _build_host(index: int, seed: int, spec: HostSpec, now: float, clock: Clock) -> SimHost:
    name = host_name(index)
    rng = random.Random(f"{seed}:{name}")
    tags = [tag for tag, _ in LOCALE_WEIGHTS]
    drawn_locale = rng.choices(tags, weights=[w for _, w in LOCALE_WEIGHTS])[0]
    drawn_layout = QwinstaLayout.WIDE if rng.random() < WIDE_LAYOUT_RATE else QwinstaLayout.CLASSIC
    locale = get_locale(spec.locale or drawn_locale)
    console_user = spec.console_user
    if console_user is None:
        console_user = "Administrator" if rng.random() < CONSOLE_USER_RATE else ""
    if spec.sessions is not None:
        users = [_session_from_spec(s, now) for s in spec.sessions]
    else:
        users = _generate_users(rng, index, now)
    return SimHost(
        name,
        locale=locale,
        sessions=_infrastructure(console_user, now, rng) + users,
        clock=clock,
        utc_offset_minutes=spec.utc_offset_minutes,
        time_zone=spec.time_zone,
        international=dict(spec.international) if spec.international is not None else None,
        international_access=spec.international_access or "ok",
        time_zone_access=spec.time_zone_access or "ok",
        layout=spec.layout or drawn_layout,
        network=spec.network,
        logoff=spec.logoff,
        dynamics=spec.dynamics or (),
        powershell=spec.powershell or "available",
    )


def _infrastructure(console_user: str, now: float, rng: random.Random) -> list[Session]:
    sessions = [Session(SERVICES_ID, "Services", "", SessionState.DISCONNECTED)]
    if console_user:
        logon = now - rng.uniform(_HOUR, 20 * _DAY)
        # A console user just back at the keyboard shows the "none" idle word.
        last_input = None if rng.random() < 0.5 else now - rng.uniform(0, 3 * _HOUR)
        sessions.append(
            Session(CONSOLE_ID, "Console", console_user, SessionState.ACTIVE, logon, last_input)
        )
    else:
        sessions.append(Session(CONSOLE_ID, "Console", "", SessionState.CONNECTED))
    sessions.append(Session(FIRST_LISTENER_ID, "RDP-Tcp", "", SessionState.LISTEN))
    return sessions


def _session_from_spec(spec: SessionSpec, now: float) -> Session:
    logon = now - spec.logon_ago_s
    last_input = None if spec.idle_s is None else now - spec.idle_s
    name = "" if spec.state is SessionState.DISCONNECTED else f"RDP-Tcp#{spec.id}"
    return Session(spec.id, name, spec.user, spec.state, logon, last_input)


def _pick_names(rng: random.Random, index: int, count: int) -> list[str]:
    names: list[str] = []
    if index <= len(SPECIAL_USERS):
        names.append(SPECIAL_USERS[index - 1])
    elif rng.random() < 0.1:
        names.append(rng.choice(SPECIAL_USERS))
    while len(names) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        candidate = f"{first[0]}.{last}" if rng.random() < 0.2 else f"{first}.{last}"
        if candidate not in names:
            names.append(candidate)
    rng.shuffle(names)
    return names


def _generate_users(rng: random.Random, index: int, now: float) -> list[Session]:
    """2-12 user sessions: active, idle-active and disconnected (minutes to days)."""
    # The first hosts always carry one SPECIAL_USERS name, so even a small fleet has them.
    if rng.random() < EMPTY_HOST_RATE and index > len(SPECIAL_USERS):
        return []
    count = rng.randint(2, 12)
    sessions: list[Session] = []
    session_id = CONSOLE_ID + 1
    connection = rng.randint(0, 40)
    for user in _pick_names(rng, index, count):
        if rng.random() < 0.15:
            session_id += 1  # a gap left by an earlier logoff
        sessions.append(_generate_session(rng, session_id, user, connection, now))
        session_id += 1
        connection += rng.randint(1, 5)
    return sessions


def _generate_session(
    rng: random.Random, session_id: int, user: str, connection: int, now: float
) -> Session:
    roll = rng.random()
    if roll < 0.35:  # working right now
        idle, state = rng.uniform(0, 10 * _MINUTE), SessionState.ACTIVE
    elif roll < 0.6:  # connected but idle for a while
        idle, state = rng.uniform(10 * _MINUTE, 10 * _HOUR), SessionState.ACTIVE
    else:  # disconnected for minutes to days
        idle, state = (
            rng.choice((rng.uniform(2 * _MINUTE, 2 * _HOUR), rng.uniform(2 * _HOUR, 6 * _DAY))),
            (SessionState.DISCONNECTED),
        )
    logon = now - idle - rng.uniform(5 * _MINUTE, 10 * _HOUR)
    name = "" if state is SessionState.DISCONNECTED else f"RDP-Tcp#{connection}"
    return Session(session_id, name, user, state, logon, now - idle)


def describe_fleet(hosts: Sequence[SimHost]) -> dict[str, int]:
    """Count hosts per locale (for logs and the benchmark)."""
    counts: dict[str, int] = {}
    for host in hosts:
        counts[host.locale.tag] = counts.get(host.locale.tag, 0) + 1
    return counts
