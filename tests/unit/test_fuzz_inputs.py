"""Fuzzing every text an operator hands the tool: YAML and INI inventories, group_vars
files, rules files and --limit patterns. Whatever comes in, the answer is a result or one
ConfigError/UsageError line that names the file (and never a secret): no other exception,
no hang. Bounded: modest example counts, no deadline (the machine is shared)."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.inventory.patterns import select_names
from fleetlogoff.inventory.resolve import VarFile, read_var_layer
from fleetlogoff.inventory.vault import Keyring
from fleetlogoff.rules import parse_rules

SECRET = "Zq9-fuzz-Secret"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no replay of examples saved under another version of a strategy
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

YAML_PIECES = [
    "all:",
    "  hosts:",
    "  vars:",
    "  children:",
    "    rds:",
    "      hosts:",
    "        rds01:",
    "rds[01:03]:",
    "rds[9:1]:",
    "rds[0:9999999]:",
    "'[2001:db8::1]:5986':",
    "h1:5986:",
    "    ansible_port: 5986",
    "    ansible_port: !!int x",
    f"    ansible_password: {SECRET}",
    f"    ansible_password: !!int {SECRET}",
    f"    ansible_password: !!timestamp {SECRET}",
    f"    ansible_password: !!binary {SECRET}",
    "    ansible_password: !vault |",
    "      $ANSIBLE_VAULT;1.1;AES256",
    "      6162",
    "    fleetlogoff_rules: []",
    "    fleetlogoff_rules: [{name: r, idle: 120}]",
    "    fleetlogoff_window: {start: '25:00'}",
    "    ansible_group_priority: x",
    "  - item",
    "&a [x, *a]",
    "<<: *nowhere",
    "x: &b {y: 1}",
    "z: *b",
    "plugin: amazon.aws.aws_ec2",
    "---",
    "[rds]",
    "? complex",
    "{",
    "]",
    "\t",
    "!!set",
    "ansible_connection: ssh",
    "ansible_winrm_path: '/a b'",
    "ansible_psrp_proxy: http://p",
]
INI_PIECES = [
    "[rds]",
    "[rds:vars]",
    "[rds:children]",
    "[all:vars]",
    "[bad section]",
    "[g:weird]",
    "rds01",
    "rds[01:03] x=1",
    "rds[3:1]",
    "h1:5986",
    "[2001:db8::1]:5985",
    "rds01:",
    f"h2 ansible_password={SECRET}",
    f"h3 ansible_password= {SECRET}",
    f"ansible_password {SECRET}",
    f"ansible_password={SECRET}",
    "x='unclosed",
    "a=[1, (2",
    "k=" + "[" * 50,
    "child",
    "---",
    "h3 =y",
    "# comment",
    "; comment",
    "x = 5 # c",
    "\x00",
    "ansible_port=0x10",
    "ansible_group_priority=abc",
]


def lines(pieces: list[str]) -> st.SearchStrategy[str]:
    piece = st.sampled_from(pieces) | st.text(string.printable, max_size=12)
    return st.lists(piece, max_size=14).map("\n".join)


def check_error(
    error: ConfigError | UsageError, source: str | None, secret: str | None = SECRET
) -> None:
    message = str(error)
    assert "\n" not in message.strip(), message
    assert secret is None or secret not in message, message
    if source is not None and isinstance(error, ConfigError):
        assert message.startswith(source), message


def load(text: str, source: str, suffix: str, secret: str | None = SECRET) -> None:
    try:
        inventory = parse_inventory(text, source, suffix=suffix)
        for name in inventory.names:
            try:
                inventory.select(name)
            except (ConfigError, UsageError) as error:
                check_error(error, source, secret)
    except (ConfigError, UsageError) as error:
        check_error(error, source, secret)


@FUZZ
@given(lines(YAML_PIECES))
def test_yaml_inventories(text: str) -> None:
    load(text, "fuzz.yml", ".yml")


NAMES = st.sampled_from(
    [
        "rds01",
        "rds[01:03]",
        "rds[1:2]-[a:b]",
        "h:5986",
        "[2001:db8::1]:5985",
        "fe80::1",
        "a b",
        "rds[3:1]",
        "x[1:",
        "ümlaut",
        "rds01.corp.example",
        "-",
        "all",
        "ungrouped",
    ]
) | st.text(string.ascii_letters + "-.[]:0123456789", min_size=1, max_size=10)
VAR_NAMES = st.sampled_from(
    [
        "ansible_host",
        "ansible_port",
        "ansible_user",
        "ansible_password",
        "ansible_connection",
        "ansible_winrm_transport",
        "ansible_winrm_scheme",
        "ansible_winrm_connection_timeout",
        "ansible_winrm_read_timeout_sec",
        "ansible_psrp_protocol",
        "ansible_winrm_path",
        "ansible_group_priority",
        "fleetlogoff_codepage",
        "fleetlogoff_timezone",
        "fleetlogoff_date_order",
        "fleetlogoff_protected_users",
        "fleetlogoff_http_transport",
    ]
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 70000),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "winrm",
            "psrp",
            "ssh",
            "ntlm",
            "http",
            "https",
            "Europe/Zurich",
            "{{ x }}",
            "mdy",
            "[ntlm, kerberos]",
            "/wsman",
        ]
    ),
    st.lists(st.sampled_from(["ntlm", "x"]), max_size=3),
)
# Credentials carry the marker in every shape; no message may ever show it.
CREDENTIAL_NAMES = ("ansible_password", "ansible_user", "ansible_winrm_password")
SECRETS = st.sampled_from([SECRET, [SECRET], {SECRET: SECRET}, f"{{{{ {SECRET} }}}}", None])
VARS = st.dictionaries(VAR_NAMES, VALUES, max_size=5) | st.dictionaries(
    st.sampled_from(CREDENTIAL_NAMES), SECRETS, min_size=1, max_size=2
)
GROUP = st.fixed_dictionaries(
    {}, optional={"hosts": st.dictionaries(NAMES, st.none() | VARS, max_size=4), "vars": VARS}
)
INVENTORY = st.dictionaries(NAMES, st.none() | GROUP, min_size=1, max_size=4)


def _secret_only_in_credentials(data: object, key: str = "") -> bool:
    """Hypothesis may move the marker anywhere; only credentials must never show it."""
    if isinstance(data, dict):
        return all(_secret_only_in_credentials(v, str(k)) for k, v in data.items()) and all(
            SECRET not in str(k) for k in data
        )
    if isinstance(data, list):
        return all(_secret_only_in_credentials(v, key) for v in data)
    return SECRET not in str(data) or key in CREDENTIAL_NAMES


@FUZZ
@given(INVENTORY)
def test_structured_yaml_inventories(data: dict[str, object]) -> None:
    import yaml

    secret = SECRET if _secret_only_in_credentials(data) else None
    load(yaml.safe_dump(data, allow_unicode=True), "fuzz.yml", ".yml", secret)


@FUZZ
@given(lines(INI_PIECES))
def test_ini_inventories(text: str) -> None:
    load(text, "fuzz.ini", ".ini")


@FUZZ
@given(st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")))
def test_any_text_as_an_inventory(text: str) -> None:
    load(text, "noise", "")


@FUZZ
@given(lines(YAML_PIECES))
def test_group_vars_files(text: str) -> None:
    try:
        read_var_layer([VarFile("group", "rds", "group_vars/rds.yml", text)], Keyring())
    except (ConfigError, UsageError) as error:
        check_error(error, "group_vars/rds.yml")


RULE_PIECES = [
    "rules:",
    "- name: r",
    "  states: [disc]",
    "  idle: '>= 2h'",
    "  idle: 120",
    "  idle: '>= 0'",
    "  users: ['*']",
    "  logon_age: '> 3d'",
    "  logon_age: '9999999w'",
    "  idle: '>> 2h'",
    "  idle: 1:30",
    "  session_names: [none]",
    "  exclude_users: x",
    "- name: r",
    "  bogus: 1",
    "  idle: !!int 5",
    "&x [*x]",
    "{",
    "  idle: '\u0663h'",
]


@FUZZ
@given(lines(RULE_PIECES))
def test_rules_files(text: str) -> None:
    try:
        parse_rules(text, "rules.yml")
    except (ConfigError, UsageError) as error:
        check_error(error, "rules.yml")


HOSTS = ["rds01", "rds02", "web1.corp", "fe80::1", "db[1]"]
GROUPS = {"all": HOSTS, "rds": ["rds01", "rds02"], "web": ["web1.corp"], "ungrouped": []}
PATTERN_CHARS = "rdsweb01*?.[]:,&!~@ ()\\|^$-"


@FUZZ
@given(st.text(PATTERN_CHARS, max_size=16))
def test_limit_patterns_select_or_refuse_never_widen(pattern: str) -> None:
    try:
        chosen = select_names(pattern, HOSTS, GROUPS)
    except UsageError as error:
        check_error(error, None)
        return
    assert chosen and set(chosen) <= set(HOSTS)
    bare = pattern.replace(",", "").replace(":", "").strip()
    assert bare, "a pattern of separators only must be refused"
    if len(chosen) == len(HOSTS):
        # every host: only through a part that names them all
        assert (
            any(c in pattern for c in "*?[~")
            or "all" in pattern
            or "!" in pattern
            or (set(HOSTS) <= set(pattern.replace(":", ",").split(",")))
        )


@pytest.mark.parametrize("pattern", ["", " ", ",", " , ", ":", "::,", "rds]", "[", "&", "!"])
def test_the_patterns_ansible_widens_are_refused(pattern: str) -> None:
    with pytest.raises(UsageError):
        select_names(pattern, HOSTS, GROUPS)


@settings(max_examples=40, deadline=None, database=None)
@given(lines(YAML_PIECES) | lines(INI_PIECES))
def test_the_cli_answers_64_and_one_line(text: str) -> None:
    import tempfile
    from pathlib import Path

    from fleetlogoff.app.status import ExitStatus
    from tests.cliutil import run_cli

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hosts"
        path.write_text(text, encoding="utf-8")
        # a limit that names no host: a valid inventory also stops before any connection
        result = run_cli(["plan", "-i", str(path), "--limit", "no-such-host-zz"])
    assert result.status == ExitStatus.USAGE, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("fleetlogoff: error: ")
    assert "Traceback" not in result.stderr and SECRET not in result.stderr
