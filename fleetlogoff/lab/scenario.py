"""Lab scenarios: per-host (or host-glob) overrides of the default population.

The YAML format is documented in docs/lab-scenarios.md; the same thing can be built in
Python from `Scenario`, `HostSpec` and `SessionSpec` (tests do). Unknown keys, wrong
types and bad durations are errors naming file:line:col.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from fleetlogoff.lab.commands import LogoffBehaviour
from fleetlogoff.lab.contract import NetworkBehaviour
from fleetlogoff.lab.dynamics import DynamicRule, Trigger
from fleetlogoff.lab.locales import LOCALES, SessionState, UnknownLocaleError, get_locale
from fleetlogoff.lab.render import QwinstaLayout


class ScenarioError(Exception):
    """A scenario file is wrong; the message is one line starting `file:line:col:`."""


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """An explicit user session.

    Attributes:
        id: session id (2 upward; 1 is the console).
        user: user name.
        state: ACTIVE, DISCONNECTED or CONNECTED.
        logon_ago_s: seconds between the logon and the lab start.
        idle_s: seconds since the last input at lab start; None prints the "none" word.
    """

    id: int
    user: str
    state: SessionState = SessionState.ACTIVE
    logon_ago_s: float = 3600.0
    idle_s: float | None = 0.0


@dataclass(frozen=True, slots=True)
class HostSpec:
    """Overrides for one host; None fields keep the default population's choice.

    Attributes:
        locale: culture tag (see locales.LOCALES).
        layout: qwinsta layout.
        utc_offset_minutes: a fixed UTC offset for the host (no daylight saving time).
        time_zone: the host's IANA time zone (daylight saving time as tzdata has it).
        international: regional values of the connecting account that differ from the
            locale's ((name, value) pairs; None removes the value).
        international_access: "ok", "missing" or "denied" for `reg query` of the
            International key.
        time_zone_access: the same for the TimeZoneInformation key.
        network: endpoint misbehaviour (replaces the whole NetworkBehaviour).
        logoff: logoff.exe misbehaviour.
        console_user: user at the console ("" for an empty console).
        sessions: explicit user sessions (replace the generated ones).
        dynamics: opt-in session dynamics.
        powershell: available, missing or blocked (powershell.exe on the host).
    """

    locale: str | None = None
    layout: QwinstaLayout | None = None
    utc_offset_minutes: int | None = None
    time_zone: str | None = None
    international: tuple[tuple[str, str | None], ...] | None = None
    international_access: str | None = None
    time_zone_access: str | None = None
    network: NetworkBehaviour | None = None
    logoff: LogoffBehaviour | None = None
    console_user: str | None = None
    sessions: tuple[SessionSpec, ...] | None = None
    dynamics: tuple[DynamicRule, ...] | None = None
    powershell: str | None = None

    def merged(self, other: HostSpec) -> HostSpec:
        """Return this spec with every field `other` sets taking precedence."""
        changes = {f.name: getattr(other, f.name) for f in fields(other)}
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True, slots=True)
class Scenario:
    """Defaults for every host plus (glob, HostSpec) entries applied in order."""

    defaults: HostSpec = HostSpec()
    hosts: tuple[tuple[str, HostSpec], ...] = ()

    def spec_for(self, host_name: str) -> HostSpec:
        """Return the merged spec for a host (defaults, then each matching entry)."""
        spec = self.defaults
        for pattern, entry in self.hosts:
            if fnmatch.fnmatchcase(host_name.lower(), pattern.lower()):
                spec = spec.merged(entry)
        return spec


def load_scenario(path: str) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises:
        ScenarioError: the file cannot be read or is invalid (message names file:line:col).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario file: {exc}") from exc
    return parse_scenario(text, path)


def parse_scenario(text: str, source: str) -> Scenario:
    """Parse scenario YAML text; `source` names it in error messages.

    Raises:
        ScenarioError: invalid YAML, unknown key, wrong type, bad duration or value.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ScenarioError(f"{where}: {problem}") from exc
    if root is None:
        return Scenario()
    reader = _Reader(source)
    top = reader.mapping(root, "scenario", {"defaults", "hosts"})
    defaults = reader.host_spec(top["defaults"]) if "defaults" in top else HostSpec()
    hosts: list[tuple[str, HostSpec]] = []
    if "hosts" in top:
        for key_node, value in reader.pairs(top["hosts"], "hosts"):
            hosts.append((reader.string(key_node, "host pattern"), reader.host_spec(value)))
    return Scenario(defaults, tuple(hosts))


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_HOST_KEYS = {
    "locale", "layout", "utc_offset_minutes", "time_zone", "international", "time_zone_key",
    "network", "logoff", "console_user", "sessions", "dynamics", "powershell",
}  # fmt: skip
_POWERSHELL = ("available", "missing", "blocked")
_ACCESS = ("missing", "denied")
_NETWORK_KEYS = {"down", "black_hole", "latency", "reset_rate", "error_rate", "auth_fails"}
_LOGOFF_KEYS = {"hang", "error_code", "delay", "stuck"}
_SESSION_KEYS = {"id", "user", "state", "logon", "idle"}
_STATES = {
    "active": SessionState.ACTIVE,
    "disconnected": SessionState.DISCONNECTED,
    "connected": SessionState.CONNECTED,
}
_TRIGGER_KEYS = {t.value: t for t in Trigger}


class _Reader:
    """Typed access to YAML nodes with file:line:col errors."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._loader = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, reason: str) -> ScenarioError:
        mark = node.start_mark
        return ScenarioError(f"{self.source}:{mark.line + 1}:{mark.column + 1}: {reason}")

    def value(self, node: yaml.Node) -> Any:
        return self._loader.construct_object(node, deep=True)

    def pairs(self, node: yaml.Node, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        seen: set[str] = set()
        for key, _ in node.value:
            name = self.string(key, f"key in {what}")
            if name in seen:
                raise self.fail(key, f"duplicate key {name!r} in {what}")
            seen.add(name)
        return list(node.value)

    def mapping(self, node: yaml.Node, what: str, allowed: set[str]) -> dict[str, yaml.Node]:
        result: dict[str, yaml.Node] = {}
        for key, value in self.pairs(node, what):
            name = self.string(key, f"key in {what}")
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(key, f"unknown key {name!r} in {what} (allowed: {known})")
            result[name] = value
        return result

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def typed(self, node: yaml.Node, what: str, kinds: tuple[type, ...], label: str) -> Any:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise self.fail(node, f"{what} must be {label}")
        return value

    def string(self, node: yaml.Node, what: str) -> str:
        return str(self.typed(node, what, (str,), "a string"))

    def boolean(self, node: yaml.Node, what: str) -> bool:
        return bool(self.typed(node, what, (bool,), "true or false"))

    def integer(self, node: yaml.Node, what: str) -> int:
        return int(self.typed(node, what, (int,), "an integer"))

    def fraction(self, node: yaml.Node, what: str) -> float:
        value = float(self.typed(node, what, (int, float), "a number"))
        if not 0.0 <= value <= 1.0:
            raise self.fail(node, f"{what} must be between 0 and 1")
        return value

    def duration(self, node: yaml.Node, what: str) -> float:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a duration such as 30s")
        text = str(node.value).strip()
        if not _DURATION.fullmatch(text):
            raise self.fail(
                node, f"{what}: bad duration {text!r} (use e.g. 250ms, 30s, 5m, 2h, 1d, 1h30m)"
            )
        return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))

    def host_spec(self, node: yaml.Node) -> HostSpec:
        keys = self.mapping(node, "host entry", _HOST_KEYS)
        spec = HostSpec()
        if "locale" in keys:
            spec = replace(spec, locale=self.locale(keys["locale"]))
        if "layout" in keys:
            spec = replace(spec, layout=self.layout(keys["layout"]))
        if "utc_offset_minutes" in keys:
            spec = replace(
                spec,
                utc_offset_minutes=self.integer(keys["utc_offset_minutes"], "utc_offset_minutes"),
            )
        if "time_zone" in keys:
            spec = replace(spec, time_zone=self.time_zone(keys["time_zone"]))
        if "international" in keys:
            spec = self.international(keys["international"], spec)
        if "time_zone_key" in keys:
            spec = replace(
                spec, time_zone_access=self.access(keys["time_zone_key"], "time_zone_key")
            )
        if "network" in keys:
            spec = replace(spec, network=self.network(keys["network"]))
        if "logoff" in keys:
            spec = replace(spec, logoff=self.logoff(keys["logoff"]))
        if "console_user" in keys:
            spec = replace(spec, console_user=self.string(keys["console_user"], "console_user"))
        if "sessions" in keys:
            items = self.sequence(keys["sessions"], "sessions")
            spec = replace(spec, sessions=tuple(self.session(item) for item in items))
        if "dynamics" in keys:
            items = self.sequence(keys["dynamics"], "dynamics")
            spec = replace(spec, dynamics=tuple(self.dynamic(item) for item in items))
        if "powershell" in keys:
            word = self.string(keys["powershell"], "powershell")
            if word not in _POWERSHELL:
                raise self.fail(
                    keys["powershell"], f"powershell must be one of {', '.join(_POWERSHELL)}"
                )
            spec = replace(spec, powershell=word)
        return spec

    def locale(self, node: yaml.Node) -> str:
        try:
            return get_locale(self.string(node, "locale")).tag
        except UnknownLocaleError:
            raise self.fail(node, f"unknown locale (known: {', '.join(LOCALES)})") from None

    def time_zone(self, node: yaml.Node) -> str:
        name = self.string(node, "time_zone")
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(node, f"unknown time zone {name!r} (an IANA name)") from None
        return name

    def access(self, node: yaml.Node, what: str) -> str:
        word = self.string(node, what)
        if word not in _ACCESS:
            raise self.fail(node, f"{what} must be a mapping of values, or one of {_ACCESS}")
        return word

    def international(self, node: yaml.Node, spec: HostSpec) -> HostSpec:
        if isinstance(node, yaml.ScalarNode):
            return replace(spec, international_access=self.access(node, "international"))
        values: list[tuple[str, str | None]] = []
        for key, value in self.pairs(node, "international"):
            name = self.string(key, "international value name")
            is_null = isinstance(value, yaml.ScalarNode) and self.value(value) is None
            values.append((name, None if is_null else self.string(value, name)))
        return replace(spec, international=tuple(values))

    def layout(self, node: yaml.Node) -> QwinstaLayout:
        text = self.string(node, "layout")
        try:
            return QwinstaLayout(text)
        except ValueError:
            raise self.fail(node, "layout must be 'classic' or 'wide'") from None

    def network(self, node: yaml.Node) -> NetworkBehaviour:
        keys = self.mapping(node, "network", _NETWORK_KEYS)
        return NetworkBehaviour(
            down="down" in keys and self.boolean(keys["down"], "down"),
            black_hole="black_hole" in keys and self.boolean(keys["black_hole"], "black_hole"),
            latency_s=self.duration(keys["latency"], "latency") if "latency" in keys else 0.0,
            reset_rate=self.fraction(keys["reset_rate"], "reset_rate")
            if "reset_rate" in keys
            else 0.0,
            error_rate=self.fraction(keys["error_rate"], "error_rate")
            if "error_rate" in keys
            else 0.0,
            auth_fails="auth_fails" in keys and self.boolean(keys["auth_fails"], "auth_fails"),
        )

    def logoff(self, node: yaml.Node) -> LogoffBehaviour:
        keys = self.mapping(node, "logoff", _LOGOFF_KEYS)
        code = self.integer(keys["error_code"], "error_code") if "error_code" in keys else None
        if code is not None and code <= 0:
            raise self.fail(keys["error_code"], "error_code must be a positive Windows error code")
        return LogoffBehaviour(
            hang="hang" in keys and self.boolean(keys["hang"], "hang"),
            error_code=code,
            delay_s=self.duration(keys["delay"], "delay") if "delay" in keys else 0.0,
            stuck="stuck" in keys and self.boolean(keys["stuck"], "stuck"),
        )

    def session(self, node: yaml.Node) -> SessionSpec:
        keys = self.mapping(node, "session", _SESSION_KEYS)
        for required in ("id", "user"):
            if required not in keys:
                raise self.fail(node, f"session needs {required!r}")
        session_id = self.integer(keys["id"], "id")
        if not 2 <= session_id < 65536:
            raise self.fail(
                keys["id"], "id must be between 2 and 65535 (0, 1 and 65536+ are reserved)"
            )
        state = SessionState.ACTIVE
        if "state" in keys:
            word = self.string(keys["state"], "state")
            if word not in _STATES:
                raise self.fail(keys["state"], f"state must be one of {', '.join(_STATES)}")
            state = _STATES[word]
        idle: float | None = 0.0
        if "idle" in keys:
            none = isinstance(keys["idle"], yaml.ScalarNode) and keys["idle"].value == "none"
            idle = None if none else self.duration(keys["idle"], "idle")
        logon = self.duration(keys["logon"], "logon") if "logon" in keys else 3600.0
        return SessionSpec(session_id, self.string(keys["user"], "user"), state, logon, idle)

    def dynamic(self, node: yaml.Node) -> DynamicRule:
        keys = self.mapping(node, "dynamic rule", set(_TRIGGER_KEYS) | {"user", "session"})
        triggers = [name for name in keys if name in _TRIGGER_KEYS]
        if len(triggers) != 1:
            raise self.fail(node, f"a dynamic rule needs exactly one of {', '.join(_TRIGGER_KEYS)}")
        trigger = _TRIGGER_KEYS[triggers[0]]
        if trigger is Trigger.LOGS_OFF_BEFORE_COMMAND:
            after = float(self.integer(keys[triggers[0]], triggers[0]))
            if after < 1:
                raise self.fail(keys[triggers[0]], f"{triggers[0]} must be a command number >= 1")
        else:
            after = self.duration(keys[triggers[0]], triggers[0])
        who = self.string(keys["user"], "user") if "user" in keys else ""
        session_id = self.integer(keys["session"], "session") if "session" in keys else None
        return DynamicRule(trigger, after, who, session_id)
