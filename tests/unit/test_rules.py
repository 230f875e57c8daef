"""Selection rules: parsing with positions, matching, every protection, CLI rules."""

from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetlogoff.conditions import LogonAge
from fleetlogoff.durations import Comparison
from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.model import Doubt, Session, SessionState
from fleetlogoff.parsers import parse_qwinsta
from fleetlogoff.rules import (
    KeptFrom,
    Rule,
    evaluate_session,
    load_rules_file,
    match_session_name,
    match_user,
    parse_rules,
    rule_from_cli,
)

CORPUS = Path(__file__).parent.parent / "fixtures" / "corpus"
NOW = datetime(2026, 3, 2, 14, 0)
DISC = SessionState.DISCONNECTED
STALE = Rule("stale-disconnected", states=frozenset({DISC}), idle=Comparison(">=", 7200))


def session(**fields: object) -> Session:
    values: dict[str, object] = {
        "id": 5,
        "username": "jdoe",
        "session_name": "",
        "state": DISC,
        "idle_seconds": 3 * 3600 + 12 * 60,
        "logon_time": NOW - timedelta(days=2),
    }
    values.update(fields)
    return Session(**values)  # type: ignore[arg-type]  # test tables supply valid field types


def age(s: Session) -> LogonAge | None:
    """The exact logon age at NOW, as a host whose clock is known gives it."""
    return LogonAge.between(s.logon_time, NOW) if s.logon_time is not None else None


def judge(s: Session, rules: tuple[Rule, ...] = (STALE,), **kwargs: object) -> tuple[str, str]:
    verdict = evaluate_session(s, rules, logon_age=age(s), **kwargs)  # type: ignore[arg-type]  # keyword tables
    return verdict.action, verdict.reason


def test_target_reason_names_state_idle_and_rule() -> None:
    verdict = evaluate_session(session(), (STALE,), logon_age=age(session()))
    assert (verdict.action, verdict.rule) == ("target", "stale-disconnected")
    assert verdict.reason == "disconnected, idle 3h12m >= 2h (rule stale-disconnected)"


@pytest.mark.parametrize(
    ("fields", "kwargs", "reason"),
    [
        ({"id": 0, "username": "svc"}, {}, "services session (id 0)"),
        ({"id": 65536}, {}, "listener"),
        ({"state": SessionState.LISTEN}, {}, "listener"),
        ({"session_name": "Console"}, {}, "console session"),
        ({"current": True}, {}, "the session the command ran in"),
        ({"username": ""}, {}, "session without a user"),
        ({"username": "administrator"}, {}, "built-in administrator administrator"),
        ({"username": "CORP\\Administrator"}, {}, "built-in administrator CORP\\Administrator"),
        ({"username": "svc-logoff"}, {"connecting_user": "CORP\\svc-logoff"}, "own account"),
        ({"username": "svc-logoff"}, {"connecting_user": "svc-logoff@corp.example"}, "own account"),
        ({"username": "backup01"}, {"protected_users": ["BACKUP*"]}, "protected user backup01"),
        ({"session_name": "rdp-tcp#7"}, {"protected_sessions": ["RDP-Tcp#7"]}, "protected session"),
        ({}, {"protected_sessions": ["none"]}, "protected session (no name)"),
        ({"doubts": (Doubt("user", "user name 'j?e' contains '?'"),)}, {}, "contains '?'"),
        ({"doubts": (Doubt("state", "unknown state word 'Rozł.'"),)}, {}, "'Rozł.'"),
        ({"doubts": (Doubt("session_name", "'31c5...' is truncated"),)}, {}, "truncated"),
        ({"doubts": (Doubt("row", "header shows encoding damage"),)}, {}, "cannot be trusted"),
    ],
)
def test_each_protection_wins_over_a_matching_rule(
    fields: dict[str, object], kwargs: dict[str, object], reason: str
) -> None:
    everyone = Rule("everyone", users=("*",))
    action, text = judge(session(**fields), (everyone,), **kwargs)
    assert action == "protected"
    assert reason in text


def test_keep_when_no_rule_or_no_match() -> None:
    assert judge(session(), ()) == ("keep", "no rules configured")
    assert judge(session(idle_seconds=60)) == ("keep", "no rule matched")


@pytest.mark.parametrize(
    ("rule", "fields", "selected"),
    [
        (Rule("r", idle=Comparison(">=", 7200)), {"idle_seconds": None}, False),
        (Rule("r", idle=Comparison("<", 60)), {"idle_seconds": 0}, True),
        (Rule("r", logon_age=Comparison(">", 86400)), {}, True),
        (Rule("r", logon_age=Comparison(">", 86400)), {"logon_time": None}, False),
        (
            Rule("r", logon_age=Comparison("<", 86400)),
            {"logon_time": NOW + timedelta(hours=1)},
            False,
        ),
        (Rule("r", users=("CORP\\j*",)), {"username": "jdoe"}, False),
        (Rule("r", users=("CORP\\j*",)), {"username": "corp\\JDOE"}, True),
        (Rule("r", users=("J*",)), {"username": "CORP\\jdoe"}, True),
        (Rule("r", users=("*",), exclude_users=("jd*",)), {}, False),
        (Rule("r", session_names=("none",)), {}, True),
        (Rule("r", session_names=("",)), {"session_name": "rdp-tcp#3"}, False),
        (Rule("r", session_names=("rdp-tcp#*",)), {"session_name": "RDP-Tcp#3"}, True),
        (Rule("r", states=frozenset({SessionState.ACTIVE})), {}, False),
        (STALE, {"state": SessionState.ACTIVE}, False),
    ],
)
def test_rule_conditions(rule: Rule, fields: dict[str, object], selected: bool) -> None:
    action, _ = judge(session(**fields), (rule,))
    assert (action == "target") is selected


def test_first_matching_rule_is_reported() -> None:
    rules = (Rule("never", users=("nobody",)), STALE, Rule("later", users=("*",)))
    verdict = evaluate_session(session(), rules, logon_age=age(session()))
    assert verdict.rule == "stale-disconnected"


def test_logon_age_reason() -> None:
    rule = Rule("old", logon_age=Comparison(">", 86400))
    _, reason = judge(session(), (rule,))
    assert reason == "disconnected, logged on 2d ago > 1d (rule old)"


def test_real_qwinsta_capture_protections() -> None:
    text = (CORPUS / "qwinsta-en-us-01.txt").read_text(encoding="utf-8").split("# ---\n", 1)[1]
    rules = (Rule("all-disconnected", states=frozenset({DISC})),)
    verdicts = {
        s.id: evaluate_session(s, rules, connecting_user="CORP\\jenna.field", logon_age=age(s))
        for s in parse_qwinsta(text)
    }
    assert verdicts[0].reason == "protected: services session (id 0)"
    assert verdicts[1].reason == "protected: console session"
    assert verdicts[8].reason == "protected: the session the command ran in"
    assert verdicts[9].action == "protected"  # jenna.field is the connecting account
    assert verdicts[65536].reason == "protected: listener"
    assert [i for i, v in verdicts.items() if v.action == "target"] == [2, 3, 4, 5, 6, 7]


OLD = Rule("old-logons", logon_age=Comparison(">", 86400))
LOGON_DOUBT = Doubt("logon", "ambiguous date in '01/12/2026 09:00'")
IDLE_DOUBT = Doubt("idle", "idle time '154000+03:00' is absurd")


def test_a_logon_doubt_keeps_a_row_from_logon_age_rules_only() -> None:
    doubtful = session(logon_time=None, doubts=(LOGON_DOUBT,))
    verdict = evaluate_session(doubtful, (OLD, STALE), logon_age=None)
    assert (verdict.action, verdict.rule) == ("target", "stale-disconnected")
    assert verdict.kept_from == (KeptFrom("old-logons", f"logon time unreadable: {LOGON_DOUBT}"),)


def test_a_kept_row_says_which_rules_it_was_kept_from_and_why() -> None:
    doubtful = session(logon_time=None, doubts=(LOGON_DOUBT,))
    verdict = evaluate_session(doubtful, (OLD,), logon_age=None)
    assert verdict.action == "keep"
    assert (
        verdict.reason
        == f"no rule matched; kept from rule old-logons: logon time unreadable: {LOGON_DOUBT}"
    )


def test_a_rule_failing_on_a_readable_field_keeps_nothing() -> None:
    doubtful = session(logon_time=None, doubts=(LOGON_DOUBT,), state=SessionState.ACTIVE)
    rule = Rule("old-disc", states=frozenset({DISC}), logon_age=Comparison(">", 60))
    verdict = evaluate_session(doubtful, (rule,), logon_age=None)
    assert (verdict.action, verdict.kept_from) == ("keep", ())


def test_an_idle_doubt_keeps_a_row_from_idle_rules_only() -> None:
    doubtful = session(idle_seconds=None, idle_text="154000+03:00", doubts=(IDLE_DOUBT,))
    verdict = evaluate_session(doubtful, (STALE, OLD), logon_age=age(doubtful))
    assert (verdict.action, verdict.rule) == ("target", "old-logons")
    assert [k.rule for k in verdict.kept_from] == ["stale-disconnected"]


def test_idle_longer_than_the_session_is_unknown() -> None:
    stale = session(idle_seconds=5 * 86400)  # logged on 2 days ago
    verdict = evaluate_session(stale, (STALE,), logon_age=age(stale))
    assert verdict.action == "keep"
    assert "longer than the session has existed" in verdict.reason


@pytest.mark.parametrize(
    ("low", "high", "action"),
    [(2 * 86400, 2 * 86400, "target"), (20 * 3600, 30 * 3600, "keep"), (3600, 7200, "keep")],
)
def test_a_logon_age_range_must_hold_all_along(low: int, high: int, action: str) -> None:
    verdict = evaluate_session(session(), (OLD,), logon_age=LogonAge(low, high, "zone unknown"))
    assert verdict.action == action
    if low < 86400 < high:
        assert "not certain" in verdict.reason and "zone unknown" in verdict.reason


def test_a_logon_in_the_future_proves_nothing() -> None:
    verdict = evaluate_session(session(), (OLD,), logon_age=LogonAge(-600, -600))
    assert verdict.action == "keep" and "in the future" in verdict.reason


def test_match_helpers() -> None:
    assert match_user("CORP\\Jane", ["jane"])
    assert not match_user("Jane", ["OTHER\\jane"])
    assert match_session_name("", ["NONE"])
    assert not match_session_name("console", ["none"])


NAME_PARTS = st.sampled_from(
    [
        "CORP\\",
        "corp\\",
        "@corp.example",
        "Ann",
        "aNN",
        "ß",
        "SS",
        "*",
        "?",
        "[a-c]",
        "[!x]",
        "\\",
        "@",
        "-",
        "İ",
        "k",
    ]
)


@given(
    st.lists(NAME_PARTS, max_size=5).map("".join),
    st.lists(st.lists(NAME_PARTS, max_size=4).map("".join), max_size=3),
)
def test_match_user_is_fnmatch_of_the_folded_name(username: str, globs: list[str]) -> None:
    # The reference: fnmatch itself, called for every glob as match_user first did.
    full = username.casefold()
    bare = username.rsplit("\\", 1)[-1].split("@", 1)[0].casefold()
    expected = any(
        fnmatch.fnmatchcase(full if "\\" in glob else bare, glob.casefold()) for glob in globs
    )
    assert match_user(username, globs) is expected
    assert match_user(username, tuple(globs)) is expected  # again, from the caches


RULES_YAML = """\
- name: stale-disconnected
  states: [disc, Disconnected]
  idle: ">= 2h"
- name: old-temps
  users: ["CORP\\\\temp-*"]
  exclude_users: temp-keep
  logon_age: 3d
  session_names: [none, "rdp-tcp#*"]
"""


def test_parse_rules() -> None:
    rules = parse_rules(RULES_YAML, "r.yml")
    assert rules[0] == STALE
    assert rules[1] == Rule(
        "old-temps",
        users=("CORP\\temp-*",),
        exclude_users=("temp-keep",),
        logon_age=Comparison(">=", 3 * 86400),
        session_names=("none", "rdp-tcp#*"),
    )
    assert parse_rules("rules:\n" + RULES_YAML, "r.yml") == rules


def test_unquoted_time_like_idle_is_read_as_written() -> None:
    # YAML 1.1 reads 1:30 as the integer 90; the rule reader must see the text "1:30".
    with pytest.raises(ConfigError, match="'1:30'"):
        parse_rules("- {name: r, idle: 1:30}\n", "r.yml")


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("- name: r\n  user: [a]\n", 2, 3, "unknown key 'user' in a rule"),
        ("- name: r\n  states: [sleeping]\n", 2, 12, "unknown session state 'sleeping'"),
        ("- name: r\n  idle: soon\n", 2, 9, "`idle`"),
        ("- name: r\n  logon_age: '>> 1d'\n", 2, 14, "`logon_age`"),
        ("- name: r\n  users: {a: b}\n", 2, 10, "must be a list"),
        ("- name: r\n  users:\n", 2, 9, "`users` is empty"),
        ("- name: r\n", 1, 3, "no condition"),
        ("- states: [disc]\n", 1, 3, "needs a `name`"),
        ("- {name: r, users: [a]}\n- {name: r, users: [b]}\n", 2, 3, "duplicate rule name"),
        ("- name: r\n  name: s\n", 2, 3, "duplicate key 'name'"),
        ("name: r\n", 1, 1, "unknown key 'name' in a rules file"),
        ("- just text\n", 1, 3, "a rule must be a mapping"),
        ("", 0, 0, "no rules"),
    ],
)
def test_rule_errors_have_positions(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(text, "rules.yml")
    assert (info.value.line, info.value.column) == (line, column)
    assert words in info.value.reason


def test_load_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES_YAML, encoding="utf-8")
    assert load_rules_file(path)[0] == STALE
    with pytest.raises(ConfigError, match="cannot read rules file"):
        load_rules_file(tmp_path / "missing.yml")


def test_rule_from_cli() -> None:
    rule = rule_from_cli(users=["a*,b*", "c"], states=["disc"], idle="2h", sessions=["none"])
    assert rule == Rule(
        "command-line",
        users=("a*", "b*", "c"),
        states=frozenset({DISC}),
        idle=Comparison(">=", 7200),
        session_names=("none",),
    )


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"states": ["dsic"]}, "--state"),
        ({"idle": "2 parsecs"}, "--idle"),
        ({"idle": "-1h"}, "--idle"),
        ({}, "at least one of"),
        ({"users": [","]}, "at least one of"),
    ],
)
def test_rule_from_cli_errors_name_the_flag(kwargs: dict[str, object], flag: str) -> None:
    with pytest.raises(UsageError) as info:
        rule_from_cli(**kwargs)  # type: ignore[arg-type]  # keyword table
    assert flag in str(info.value)
