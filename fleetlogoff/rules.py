"""Selection rules: which sessions a run logs off, and which it must never touch.

A rule holds when all its conditions hold; a session is selected when any rule holds.
Protections come first and cannot be overridden by a rule (see `evaluate_session`).
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fleetlogoff.conditions import LogonAge, idle_condition, logon_condition
from fleetlogoff.durations import Comparison, DurationError, parse_comparison
from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.model import Session, SessionState
from fleetlogoff.yamlsource import (
    YamlList,
    YamlMap,
    YamlNode,
    YamlScalar,
    expect_map,
    expect_text,
    expect_text_list,
    parse_yaml,
    read_yaml_text,
    reject_unknown_keys,
)

log = logging.getLogger(__name__)

RULE_KEYS = ("name", "users", "exclude_users", "states", "idle", "session_names", "logon_age")
# quser/qwinsta abbreviations (corpus FORMATS.md §1.1, §2) and plain words for each state.
_STATE_ALIASES: dict[str, SessionState] = {
    "disc": SessionState.DISCONNECTED,
    "conn": SessionState.CONNECTED,
    "connq": SessionState.CONNECT_QUERY,
    "connectquery": SessionState.CONNECT_QUERY,
} | {state.value: state for state in SessionState}
# `none` is how a rule names the empty session name of disconnected sessions (FORMATS.md §2).
NO_SESSION_NAME = "none"
# Windows' built-in administrator: never logged off unless the admin removes nothing - it
# is always protected, like the account fleetlogoff itself connects as.
DEFAULT_PROTECTED_USERS = ("Administrator",)
# Session ids from 65536 up are listeners (FORMATS.md §2, qwinsta rows rdp-tcp 65536...).
_FIRST_LISTENER_ID = 65536

Action = Literal["target", "protected", "keep"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One selection rule; empty conditions are not checked.

    Attributes:
        name: shown in plans and the audit log.
        users: user globs, case-insensitive; a glob with `\\` matches `DOMAIN\\user`,
            one without matches the bare user name.
        exclude_users: user globs that make the rule not hold.
        states: session states the rule accepts.
        idle: comparison on idle time; sessions with unknown idle never match.
        session_names: session-name globs, case-insensitive; `none` or `""` match the
            empty name of disconnected sessions.
        logon_age: comparison on time since logon; sessions without a logon time never match.
    """

    name: str
    users: tuple[str, ...] = ()
    exclude_users: tuple[str, ...] = ()
    states: frozenset[SessionState] = frozenset()
    idle: Comparison | None = None
    session_names: tuple[str, ...] = ()
    logon_age: Comparison | None = None

    def check(self, session: Session, age: LogonAge | None) -> RuleCheck:
        """Whether the rule holds for `session`, and why (or what kept it from deciding).

        Args:
            session: one parsed row.
            age: how long ago the session logged on on the host's clock, None when unknown.
        """
        if self.users and not match_user(session.username, self.users):
            return _NO
        if self.exclude_users and match_user(session.username, self.exclude_users):
            return _NO
        if self.states and session.state not in self.states:
            return _NO
        if self.session_names and not match_session_name(session.session_name, self.session_names):
            return _NO
        conditions = []
        if self.idle is not None:
            conditions.append(idle_condition(self.idle, session, age))
        if self.logon_age is not None:
            conditions.append(logon_condition(self.logon_age, session, age))
        if any(condition.holds is False for condition in conditions):
            return _NO
        parts = [session.state.value] + [c.text for c in conditions if c.holds]
        blocked = [c.text for c in conditions if c.holds is None]
        if blocked:
            return RuleCheck(False, "", "; ".join(blocked))
        return RuleCheck(True, ", ".join(parts))


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule checked against one session.

    Attributes:
        holds: the rule selects the session.
        explanation: why it holds ("disconnected, idle 3h12m >= 2h").
        blocked: when every condition that could be read holds but a field the rule
            reads could not (a doubt, an unknown value): why. The session is kept from
            this rule; no other rule is affected.
    """

    holds: bool
    explanation: str = ""
    blocked: str | None = None


_NO = RuleCheck(False)


@dataclass(frozen=True, slots=True)
class KeptFrom:
    """A rule that could not decide for a session because a field it reads is unknown.

    Attributes:
        rule: the rule's name.
        reason: what could not be read ("logon time unreadable: ambiguous date ...").
    """

    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one session, and why.

    Attributes:
        action: target (log off), protected (never), keep (no rule selected it).
        rule: name of the rule that selected it, when targeted.
        reason: a human sentence for plans and the audit log.
        kept_from: rules that could not decide because a field they read could not be
            (a doubtful logon time, an unknown idle time), in rule order.
    """

    action: Action
    rule: str | None
    reason: str
    kept_from: tuple[KeptFrom, ...] = ()


def _bare_user(name: str) -> str:
    """`CORP\\jdoe` → `jdoe`; `jdoe@corp.example` → `jdoe`."""
    return name.rsplit("\\", 1)[-1].split("@", 1)[0]


# Every session is checked against the same globs, and the same user names come back on
# host after host: their folded forms and compiled globs are worked out once each (pure
# functions, bounded caches).
@functools.lru_cache(maxsize=8192)
def _folded_user(name: str) -> tuple[str, str]:
    """The name casefolded, whole and bare (`CORP\\JDoe` → `corp\\jdoe`, `jdoe`)."""
    return name.casefold(), _bare_user(name).casefold()


@functools.lru_cache(maxsize=1024)
def _user_glob(glob: str) -> tuple[bool, Callable[[str], re.Match[str] | None]]:
    """Whether a user glob reads the whole DOMAIN\\user name, and its case-insensitive
    matcher (fnmatch.fnmatchcase's own translation, of the casefolded glob)."""
    return "\\" in glob, re.compile(fnmatch.translate(glob.casefold())).match


def match_user(username: str, globs: Iterable[str]) -> bool:
    """Whether `username` matches any glob (case-insensitive, DOMAIN-aware)."""
    full, bare = _folded_user(username)
    for glob in globs:
        reads_full, match = _user_glob(glob)
        if match(full if reads_full else bare) is not None:
            return True
    return False


def match_session_name(name: str, globs: Iterable[str]) -> bool:
    """Whether a session name matches any glob (case-insensitive; `none` matches "")."""
    folded = name.casefold()
    for glob in globs:
        if glob.casefold() == NO_SESSION_NAME or glob == "":
            if folded == "":
                return True
        elif fnmatch.fnmatchcase(folded, glob.casefold()):
            return True
    return False


def parse_state(word: str) -> SessionState:
    """A state name or alias (`disc`, `disconnected`, `Active`...).

    Raises:
        ValueError: unknown word (message lists the accepted names).
    """
    state = _STATE_ALIASES.get(word.strip().casefold().replace("-", "_"))
    if state is None:
        known = ", ".join(sorted(_STATE_ALIASES))
        raise ValueError(f"unknown session state {word!r} (expected one of: {known})")
    return state


def parse_rules(data: YamlNode | str | None, source: str) -> tuple[Rule, ...]:
    """Validate rules from YAML: a list of mappings (or a mapping with one key `rules`).

    Args:
        data: a node from yamlsource, or YAML text.
        source: file name for error positions when `data` is text.

    Raises:
        ConfigError: unknown keys, wrong types, bad durations or states, duplicate names,
            rules without conditions - each with file:line:col.
    """
    node = parse_yaml(data, source) if isinstance(data, str) else data
    if node is None:
        raise ConfigError(source, 0, 0, "no rules defined")
    if isinstance(node, YamlMap):
        reject_unknown_keys(node, ("rules",), "a rules file")
        node = node.get("rules") or node
    if not isinstance(node, YamlList):
        raise node.pos.error("rules must be a list of mappings")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for item in node.items:
        rule = _parse_rule(expect_map(item, "a rule"))
        if rule.name in seen:
            raise item.pos.error(f"duplicate rule name {rule.name!r} (line {seen[rule.name]})")
        seen[rule.name] = item.pos.line
        rules.append(rule)
    return tuple(rules)


def _parse_rule(node: YamlMap) -> Rule:
    reject_unknown_keys(node, RULE_KEYS, "a rule")
    name_node = node.get("name")
    if name_node is None:
        raise node.pos.error("a rule needs a `name`")
    rule = Rule(
        name=expect_text(name_node, "rule name"),
        users=_text_list(node, "users"),
        exclude_users=_text_list(node, "exclude_users"),
        states=frozenset(_yaml_states(node)),
        idle=_yaml_comparison(node, "idle"),
        session_names=_text_list(node, "session_names"),
        logon_age=_yaml_comparison(node, "logon_age"),
    )
    if not _has_condition(rule):
        raise node.pos.error(
            f"rule {rule.name!r} has no condition and would select every session; "
            "add `users: ['*']` if that is really meant"
        )
    return rule


def _has_condition(rule: Rule) -> bool:
    return bool(rule.users or rule.states or rule.session_names or rule.idle or rule.logon_age)


def _text_list(node: YamlMap, key: str) -> tuple[str, ...]:
    value = node.get(key)
    if value is None:
        return ()
    if isinstance(value, YamlScalar) and value.value is None:
        raise value.pos.error(f"`{key}` is empty; remove it or give a list")
    return expect_text_list(value, f"`{key}`")


def _yaml_states(node: YamlMap) -> list[SessionState]:
    value = node.get("states")
    if value is None:
        return []
    items = value.items if isinstance(value, YamlList) else (value,)
    states = []
    for item in items:
        try:
            states.append(parse_state(expect_text(item, "`states` entry")))
        except ValueError as exc:
            raise item.pos.error(str(exc)) from None
    return states


def _yaml_comparison(node: YamlMap, key: str) -> Comparison | None:
    value = node.get(key)
    if value is None:
        return None
    # The text as written: `1:30` would be YAML 1.1's integer 90 (sexagesimal).
    text = expect_text(value, f"`{key}`")
    try:
        return parse_comparison(text)
    except DurationError as exc:
        raise value.pos.error(f"`{key}`: {exc}") from None


def load_rules_file(path: str | Path) -> tuple[Rule, ...]:
    """Read and validate a rules file (see parse_rules).

    Raises:
        ConfigError: unreadable file or invalid rules.
    """
    return parse_rules(read_yaml_text(path, "rules file"), str(path))


def rule_from_cli(
    users: Sequence[str] = (),
    states: Sequence[str] = (),
    idle: str | None = None,
    sessions: Sequence[str] = (),
) -> Rule:
    """The rule named "command-line" from --user/--state/--idle/--session flags.

    Flags are repeatable and may hold comma-separated values (Windows user and session
    names cannot contain commas). All given conditions must hold.

    Raises:
        UsageError: a bad value, naming its flag; or no condition at all.
    """
    state_set = set()
    for word in _split_flag(states):
        try:
            state_set.add(parse_state(word))
        except ValueError as exc:
            raise UsageError(f"--state: {exc}") from None
    comparison = None
    if idle is not None:
        try:
            comparison = parse_comparison(idle)
        except DurationError as exc:
            raise UsageError(f"--idle: {exc}") from None
    rule = Rule(
        name="command-line",
        users=_split_flag(users),
        states=frozenset(state_set),
        idle=comparison,
        session_names=_split_flag(sessions),
    )
    if not _has_condition(rule):
        raise UsageError("give at least one of --user, --state, --idle, --session")
    return rule


def _split_flag(values: Sequence[str]) -> tuple[str, ...]:
    parts = (p.strip() for value in values for p in value.split(","))
    return tuple(p for p in parts if p)


def evaluate_session(
    session: Session,
    rules: Sequence[Rule],
    *,
    protected_users: Sequence[str] = (),
    protected_sessions: Sequence[str] = (),
    connecting_user: str | None = None,
    logon_age: LogonAge | None = None,
) -> Verdict:
    """Decide what happens to one session.

    Protections are checked first and no rule overrides them: rows with a doubt about who
    or what they are (user, id, state, session name), session 0 (services), listeners,
    the console, the session the command ran in, rows without a user, Administrator, the
    account fleetlogoff connects as, `protected_users` globs and `protected_sessions`
    globs. Then the first rule that holds targets the session. A doubt about idle or
    logon time keeps the session out of the rules that read that field, and nothing else.

    Args:
        session: one parsed row.
        rules: the host's rules, in order.
        protected_users: extra user globs (fleetlogoff_protected_users).
        protected_sessions: session-name globs (fleetlogoff_protected_sessions).
        connecting_user: the account fleetlogoff logs on as (DOMAIN\\user, user@domain or user).
        logon_age: how long ago the session logged on, on the host's clock; None when
            unknown (rules on logon age then keep the session).
    """
    protection = _protection(session, protected_users, protected_sessions, connecting_user)
    if protection is not None:
        return Verdict("protected", None, f"protected: {protection}")
    kept: list[KeptFrom] = []
    for rule in rules:
        check = rule.check(session, logon_age)
        if check.holds:
            return Verdict(
                "target", rule.name, f"{check.explanation} (rule {rule.name})", tuple(kept)
            )
        if check.blocked is not None:
            kept.append(KeptFrom(rule.name, check.blocked))
    reason = "no rule matched" if rules else "no rules configured"
    for item in kept:
        reason += f"; kept from rule {item.rule}: {item.reason}"
    return Verdict("keep", None, reason, tuple(kept))


def _protection(
    session: Session,
    protected_users: Sequence[str],
    protected_sessions: Sequence[str],
    connecting_user: str | None,
) -> str | None:
    """Why `session` must never be logged off, or None."""
    doubts = session.identity_doubts if session.doubts else ()
    if doubts:
        return "row cannot be trusted: " + "; ".join(doubt.reason for doubt in doubts)
    if session.id == 0:
        return "services session (id 0)"
    if session.id >= _FIRST_LISTENER_ID or session.state is SessionState.LISTEN:
        return "listener"
    if session.session_name.casefold() == "console":
        return "console session"
    if session.current:
        return "the session the command ran in"
    if not session.username.strip():
        return "session without a user"
    if match_user(session.username, DEFAULT_PROTECTED_USERS):
        return f"built-in administrator {session.username}"
    if connecting_user and _folded_user(session.username)[1] == _folded_user(connecting_user)[1]:
        return f"fleetlogoff's own account {session.username}"
    if match_user(session.username, protected_users):
        return f"protected user {session.username}"
    if protected_sessions and match_session_name(session.session_name, protected_sessions):
        return f"protected session {session.session_name or '(no name)'}"
    return None
