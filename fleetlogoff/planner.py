"""Decide, host by host, which sessions a run would log off and why (pure: no I/O; the
clock is an argument)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, time, timedelta
from enum import Enum
from typing import Literal

from fleetlogoff.conditions import LogonAge
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers.facts import HostFacts
from fleetlogoff.parsers.timezone import HostClock
from fleetlogoff.rules import KeptFrom, Rule, Verdict, evaluate_session
from fleetlogoff.windows import MaintenanceWindow, WindowStatus, window_status

Action = Literal["target", "protected", "keep"]
HostStatus = Literal["ok", "unreachable", "auth_failed", "error"]


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """A session and what the plan does with it.

    Attributes:
        session: the row as read.
        action: target, protected or keep.
        rule: the rule that selected it, when targeted.
        reason: a human sentence.
        kept_from: rules that could not decide because a field they read (logon time,
            idle time) was doubtful or unknown, with why.
    """

    session: Session
    action: Action
    rule: str | None
    reason: str
    kept_from: tuple[KeptFrom, ...] = ()


@dataclass(frozen=True, slots=True)
class HostPlan:
    """One host's part of the plan.

    Attributes:
        name: inventory name.
        address: where it was reached.
        status: ok, unreachable, auth_failed or error.
        error: one-line cause when not ok.
        raw: raw output kept when it could not be read.
        sessions: every session with its verdict (empty unless ok).
        window: maintenance window state when the plan was made.
        facts: how the host's dates were read and where its clock stood; apply reads
            the host again the same way.
    """

    name: str
    address: str
    status: HostStatus
    error: str | None
    raw: str
    sessions: tuple[PlannedSession, ...]
    window: WindowStatus
    facts: HostFacts | None = None

    @property
    def targets(self) -> tuple[PlannedSession, ...]:
        return tuple(s for s in self.sessions if s.action == "target")

    @property
    def protected(self) -> tuple[PlannedSession, ...]:
        return tuple(s for s in self.sessions if s.action == "protected")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which rules apply, when the command line overrides the inventory.

    Attributes:
        override: rules from --rules FILE or the ad-hoc flags; None keeps each host's
            fleetlogoff_rules.
        source: where the override came from (for the plan file).
    """

    override: tuple[Rule, ...] | None = None
    source: str = "inventory"


def host_rules(host: Host, selection: Selection) -> tuple[Rule, ...]:
    """The rules that decide for this host."""
    if selection.override is not None:
        return selection.override
    rules = host.settings.get("fleetlogoff_rules", ())
    return tuple(rules) if isinstance(rules, tuple | list) else ()


def host_clock(host: Host, facts: HostFacts | None = None) -> HostClock:
    """The host's clock: as read with its sessions, else from fleetlogoff_timezone, else
    unknown (then every logon age is trusted only across every zone)."""
    if facts is not None:
        return facts.clock
    zone = host.settings.get("fleetlogoff_timezone")
    if isinstance(zone, str):
        return HostClock("inventory", zone)
    return HostClock("unknown", note="the host's time zone was not read")


def host_local_now(host: Host, now_utc: datetime, clock: HostClock | None = None) -> datetime:
    """The host's wall clock, naive like the logon times quser prints.

    Windows prints local times without a zone, so the host's own zone decides: as read
    with its sessions, else fleetlogoff_timezone. When neither is known, UTC (callers
    that show it say so).
    """
    local = (clock or host_clock(host)).local_now(now_utc)
    return local if local is not None else now_utc.astimezone(UTC).replace(tzinfo=None)


def logon_age(clock: HostClock, session: Session, now_utc: datetime) -> LogonAge | None:
    """How long ago a session logged on, as the range the host's clock allows."""
    if session.logon_time is None:
        return None
    return _logon_age(clock, session.logon_time, _naive_utc(now_utc))


def _naive_utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _logon_age(clock: HostClock, logon: datetime, now: datetime) -> LogonAge:
    """logon_age's work, `now` naive UTC (worked out once per host, not per session)."""
    offsets = clock.offsets_at(logon)
    if len(offsets) == 1:  # almost every session: one age, nothing to explain
        age = int((now - (logon - timedelta(minutes=offsets[0]))).total_seconds())
        return LogonAge(age, age, "")
    ages = [int((now - (logon - timedelta(minutes=o))).total_seconds()) for o in offsets]
    why = ""
    if len(set(ages)) > 1:
        why = clock.note or (
            "the host's time zone is unknown"
            if clock.source == "unknown"
            else "the local time falls in the hour the clocks repeat or skip"
        )
    return LogonAge(min(ages), max(ages), why)


def reads_logon_age(rules: Sequence[Rule]) -> bool:
    """Whether a rule reads how long ago a session logged on: its logon-age condition
    does, and so does its idle condition (an idle time longer than the session is
    doubted). Rules that read neither never look at it."""
    return any(rule.logon_age is not None or rule.idle is not None for rule in rules)


def plan_sessions(
    host: Host,
    sessions: Sequence[Session],
    selection: Selection,
    now_utc: datetime,
    facts: HostFacts | None = None,
) -> tuple[PlannedSession, ...]:
    """Judge every session of one host, logon ages on the host's own clock."""
    rules = host_rules(host, selection)
    protected_users = _strings(host.settings.get("fleetlogoff_protected_users"))
    protected_sessions = _strings(host.settings.get("fleetlogoff_protected_sessions"))
    # Working out a logon age is most of judging a session: only when a rule reads it.
    clock = host_clock(host, facts).checked(now_utc) if reads_logon_age(rules) else None
    now = _naive_utc(now_utc)
    planned = []
    for session in sessions:
        age = None
        if clock is not None and session.logon_time is not None:
            age = _logon_age(clock, session.logon_time, now)
        verdict: Verdict = evaluate_session(
            session,
            rules,
            protected_users=protected_users,
            protected_sessions=protected_sessions,
            connecting_user=host.connection.username,
            logon_age=age,
        )
        planned.append(
            PlannedSession(session, verdict.action, verdict.rule, verdict.reason, verdict.kept_from)
        )
    return tuple(planned)


def host_window(host: Host, now_utc: datetime, needed: timedelta) -> WindowStatus:
    """The host's maintenance window state now, for a run that needs `needed` time."""
    windows = host.settings.get("fleetlogoff_window", ())
    typed: tuple[MaintenanceWindow, ...] = (
        tuple(windows) if isinstance(windows, tuple | list) else ()
    )
    return window_status(typed, now_utc, needed)


def plan_host(
    host: Host,
    status: HostStatus,
    sessions: Sequence[Session],
    *,
    error: str | None,
    raw: str,
    selection: Selection,
    now_utc: datetime,
    needed: timedelta = timedelta(0),
    facts: HostFacts | None = None,
) -> HostPlan:
    """One host's plan from what collection read."""
    planned = plan_sessions(host, sessions, selection, now_utc, facts) if status == "ok" else ()
    return HostPlan(
        name=host.name,
        address=host.connection.address,
        status=status,
        error=error,
        raw=raw if status != "ok" else "",
        sessions=planned,
        window=host_window(host, now_utc, needed),
        facts=facts,
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole dry run: what apply will do, and what it was based on.

    Attributes:
        created: when it was made (UTC, aware).
        inventory_source: inventory path.
        inventory_digest: sha256 of the inventory file.
        rules_source: "inventory", a rules file path, or "command-line".
        rules_digest: sha256 of the rules and protections in effect for every host.
        limit: the --limit pattern, if any.
        hosts: one HostPlan per selected host, inventory order.
        rules_spec: how the selection was given (rules file, ad-hoc flags), so apply can
            rebuild it, re-check the digest and re-evaluate the rules before acting.
    """

    created: datetime
    inventory_source: str
    inventory_digest: str
    rules_source: str
    rules_digest: str
    limit: str | None
    hosts: tuple[HostPlan, ...]
    rules_spec: Mapping[str, object] = field(default_factory=dict)

    @property
    def target_count(self) -> int:
        return sum(len(h.targets) for h in self.hosts)

    @property
    def failed_hosts(self) -> tuple[HostPlan, ...]:
        return tuple(h for h in self.hosts if h.status != "ok")


# Bumped whenever what the rules digest covers, or how, changes: a plan with another
# version is refused as made by another fleetlogoff, never as "rules changed".
RULES_DIGEST_VERSION = 2


def rules_digest(hosts: Sequence[Host], selection: Selection) -> str:
    """A digest of every decision input but the sessions: rules and protections per host.

    apply refuses a plan whose digest no longer matches, so an edited rule cannot ride on
    an old approval. The digest is of a canonical form (canonical_form: sets sorted,
    enums by value, no repr()), so every process computes the same one whatever its
    hash seed.
    """
    # Hosts share their rule tuples (group vars, --rules): describe each tuple once.
    described: dict[int, object] = {}

    def describe(rules: tuple[Rule, ...]) -> object:
        if id(rules) not in described:
            described[id(rules)] = canonical_form(rules)
        return described[id(rules)]

    effective = {
        host.name: [
            describe(host_rules(host, selection)),
            list(_strings(host.settings.get("fleetlogoff_protected_users"))),
            list(_strings(host.settings.get("fleetlogoff_protected_sessions"))),
            host.connection.username,
        ]
        for host in hosts
    }
    document = {"digest_version": RULES_DIGEST_VERSION, "hosts": effective}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def canonical_form(value: object) -> object:
    """A JSON value that describes `value` the same way in every process.

    Dataclasses become objects named by their type, sets sorted lists, enums their value,
    durations seconds. Anything else is refused rather than described by repr(), whose
    text for a set follows the process's string hash seed.

    Raises:
        TypeError: a value with no canonical form.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return canonical_form(value.value)
    if isinstance(value, float):
        return repr(value)  # float repr is exact and seed-independent
    if isinstance(value, frozenset | set):
        items = [canonical_form(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, tuple | list):
        return [canonical_form(v) for v in value]
    if isinstance(value, Mapping):
        return {
            str(k): canonical_form(v) for k, v in sorted(value.items(), key=lambda i: str(i[0]))
        }
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime | time):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        described = {f.name: canonical_form(getattr(value, f.name)) for f in fields(value)}
        return {"type": type(value).__name__, **described}
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, tuple | list):
        return tuple(str(v) for v in value)
    return ()


RecheckStatus = Literal["proceed", "spared", "changed", "gone"]


@dataclass(frozen=True, slots=True)
class Recheck:
    """A planned target checked against the host's sessions right before acting.

    Attributes:
        status: proceed (same session, rules still select it), spared (same session,
            rules no longer select it), changed (the id now holds another session), gone.
        session: the current session with that id, if any.
        reason: human explanation.
    """

    status: RecheckStatus
    session: Session | None
    reason: str


def same_session(planned: Session, current: Session) -> bool:
    """Identity of a session across time: id, user and logon time as printed.

    Windows reuses session ids as soon as they are free, so the id alone may name
    somebody else's session by the time apply runs. The logon text is compared as
    printed, so the check never depends on how a date was interpreted.
    """
    return (
        planned.id == current.id
        and planned.username.casefold() == current.username.casefold()
        and " ".join(planned.logon_text.split()) == " ".join(current.logon_text.split())
    )


def recheck_target(
    host: Host,
    planned: Session,
    current: Sequence[Session],
    selection: Selection,
    now_utc: datetime,
    facts: HostFacts | None = None,
) -> Recheck:
    """Decide whether a planned target may still be logged off (logon age on the clock
    the plan recorded for the host)."""
    by_id = {s.id: s for s in current}
    found = by_id.get(planned.id)
    if found is None:
        return Recheck("gone", None, "session is gone (user logged off or was logged off)")
    if not same_session(planned, found):
        who = found.username or "nobody"
        return Recheck(
            "changed",
            found,
            f"changed since plan: id {found.id} is now {who}, logon {found.logon_text or '-'}",
        )
    verdict = plan_sessions(host, [found], selection, now_utc, facts)[0]
    if verdict.action != "target":
        return Recheck("spared", found, f"no longer selected: {verdict.reason}")
    return Recheck("proceed", found, verdict.reason)
