"""Inventory loading: Ansible's own examples, precedence, ranges, connections, credentials,
settings and the position of every ConfigError."""

from __future__ import annotations

import hashlib
import os
from datetime import time
from pathlib import Path

import pytest

from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.inventory import expand_host_range, parse_inventory
from fleetlogoff.inventory.files import load_inventory_file
from fleetlogoff.model import Host, Secret
from fleetlogoff.rules import Rule
from fleetlogoff.windows import MaintenanceWindow

FIXTURES = Path(__file__).parent.parent / "fixtures" / "inventories"


def load(name: str, **kwargs: object) -> tuple[Host, ...]:
    # select(): a host's connection errors surface when a run selects it
    return load_inventory_file(FIXTURES / name, **kwargs).select(None)  # type: ignore[arg-type]  # test passes env/password only


def by_name(hosts: tuple[Host, ...]) -> dict[str, Host]:
    return {h.name: h for h in hosts}


def test_ansible_docs_groups_example_loads_unchanged() -> None:
    inventory = load_inventory_file(FIXTURES / "ansible-docs-groups.yml")
    names = [h.name for h in inventory.hosts]
    assert names == [
        "mail.example.com",
        "foo.example.com",
        "bar.example.com",
        "one.example.com",
        "two.example.com",
        "three.example.com",
    ]
    assert inventory.groups["ungrouped"] == ("mail.example.com",)
    assert inventory.groups["prod"] == ("foo.example.com", "one.example.com", "two.example.com")
    hosts = by_name(inventory.hosts)
    # east is under prod, so deeper: it sorts (and overrides) after prod and webservers
    assert hosts["foo.example.com"].groups == ("all", "prod", "webservers", "east")
    assert hosts["three.example.com"].groups == ("all", "dbservers", "test", "west")


def test_digest_is_sha256_of_file_bytes() -> None:
    path = FIXTURES / "ansible-docs-groups.yml"
    inventory = load_inventory_file(path)
    assert inventory.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert inventory.source == str(path)


def test_ansible_docs_ranges() -> None:
    hosts = [h.name for h in load("ansible-docs-ranges.yml")]
    www = [h for h in hosts if h.startswith("www")]
    assert www[:3] == ["www01.example.com", "www02.example.com", "www03.example.com"]
    assert len(www) == 50  # the stride range only repeats hosts of the full range
    assert [h for h in hosts if h.startswith("db-")] == [f"db-{c}.example.com" for c in "abcdef"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("rds[01:03]", ["rds01", "rds02", "rds03"]),
        ("rds[1:3]", ["rds1", "rds2", "rds3"]),
        ("rds[01:07:3]", ["rds01", "rds04", "rds07"]),
        ("[a:c]-x", ["a-x", "b-x", "c-x"]),
        ("r[1:2]c[a:b]", ["r1ca", "r1cb", "r2ca", "r2cb"]),
        ("r[:2]", ["r0", "r1", "r2"]),
        ("plain.example", ["plain.example"]),
    ],
)
def test_expand_host_range(pattern: str, expected: list[str]) -> None:
    assert expand_host_range(pattern) == expected


@pytest.mark.parametrize("pattern", ["r[01:5]", "r[5:1]", "r[c:a]", "r[1:]", "r[1:3:0]", "r[a:3]"])
def test_bad_host_range(pattern: str) -> None:
    with pytest.raises(ValueError):
        expand_host_range(pattern)


def test_ansible_docs_windows_example() -> None:
    hosts = load("ansible-docs-windows.yml")
    assert [h.name for h in hosts] == [f"win0{i}.example.com" for i in range(1, 6)]
    conn = hosts[0].connection
    assert (conn.address, conn.port, conn.scheme, conn.transport) == (
        "win01.example.com",
        5986,
        "https",
        "ntlm",
    )
    assert conn.username == "LocalUsername"
    assert conn.password == Secret("Password")
    assert conn.cert_validation is False


def test_ansible_psrp_example_uses_env_password_for_template() -> None:
    hosts = load("ansible-docs-psrp.yml", env={"FLEETLOGOFF_PASSWORD": "from-env"})
    conn = hosts[0].connection
    assert (conn.address, conn.port, conn.scheme, conn.transport) == (
        "192.0.2.10",
        5986,
        "https",
        "kerberos",
    )
    assert conn.password == Secret("from-env")
    assert conn.ca_trust_path and conn.ca_trust_path.endswith("internal_corporate_ca.pem")
    assert conn.message_encryption == "always"
    assert (conn.connection_timeout, conn.operation_timeout, conn.read_timeout) == (15, 25, 40)


def test_ansible_psrp_example_without_password_says_jinja_is_not_rendered() -> None:
    with pytest.raises(ConfigError) as info:
        load("ansible-docs-psrp.yml")
    assert (info.value.line, info.value.column) == (9, 23)
    reason = info.value.reason
    assert "is {{ vault_win_password }}, which leads to no value for this host" in reason
    assert "FLEETLOGOFF_PASSWORD" in reason


def test_fleet_precedence_settings_and_connections() -> None:
    hosts = by_name(load("fleet.yml", env={"FLEETLOGOFF_PASSWORD": "pw"}))
    rds01, rds04 = hosts["rds01.corp.example"], hosts["rds04.corp.example"]
    assert rds04.groups == ("all", "rds", "rds_berlin")
    # child group replaces the parent's rules; all's rules apply to rds01
    assert [r.name for r in rds01.settings["fleetlogoff_rules"]] == ["stale-disconnected"]  # type: ignore[attr-defined]  # settings values are typed by key
    rules = rds04.settings["fleetlogoff_rules"]
    assert isinstance(rules, tuple) and isinstance(rules[0], Rule)
    assert rules[0].name == "weekend-cleanup"
    assert rds01.settings["fleetlogoff_date_order"] == "auto"
    assert rds04.settings["fleetlogoff_date_order"] == "dmy"
    assert rds04.settings["fleetlogoff_codepage"] == 850
    assert rds04.settings["fleetlogoff_timezone"] == "Europe/Berlin"
    assert rds01.settings["fleetlogoff_protected_users"] == ("backup*", "CORP\\svc-*")
    window = rds01.settings["fleetlogoff_window"]
    assert isinstance(window, tuple) and isinstance(window[0], MaintenanceWindow)
    assert (window[0].start, window[0].end) == (time(22, 0), time(5, 0))
    assert "fleetlogoff_window" not in hosts["sim-01"].settings
    assert (rds04.connection.address, rds04.connection.port) == ("127.0.0.4", 15985)
    assert (rds01.connection.scheme, rds01.connection.port) == ("http", 5985)
    assert rds01.connection.transport == "ntlm"
    assert rds01.connection.username == "CORP\\svc-logoff"
    assert hosts["sim-01"].connection.password == Secret("lab-password")


PRECEDENCE = """
all:
  vars: {v: all, w: all, x: all, y: all}
  children:
    parent:
      vars: {w: parent, x: parent, y: parent}
      children:
        child:
          vars: {x: child, y: child}
          hosts:
            h1: {y: host, ansible_port: 5985}
    b_same_depth:
      vars: {w: b}
      hosts: {h1: }
    a_same_depth:
      vars: {w: a}
      hosts: {h1: }
"""


def test_variable_precedence_follows_ansible() -> None:
    host = parse_inventory(PRECEDENCE, "p.yml").hosts[0]
    # groups sorted by (depth, name): all, a_same_depth, b_same_depth, parent, child
    assert host.groups == ("all", "a_same_depth", "b_same_depth", "parent", "child")
    assert host.connection.port == 5985


@pytest.mark.parametrize(
    ("vars_yaml", "expected"),
    [
        ("{}", ("https", 5986, "ntlm")),
        ("{ansible_port: 5985}", ("http", 5985, "ntlm")),
        ("{ansible_port: 15985}", ("https", 15985, "ntlm")),
        ("{ansible_winrm_scheme: http}", ("http", 5985, "ntlm")),
        ("{ansible_winrm_scheme: https, ansible_port: 5985}", ("https", 5985, "ntlm")),
        ("{ansible_port: 1, ansible_winrm_port: '5985'}", ("http", 5985, "ntlm")),
        ("{ansible_winrm_transport: 'kerberos, ntlm'}", ("https", 5986, "kerberos")),
        ("{ansible_winrm_transport: [negotiate]}", ("https", 5986, "negotiate")),
        ("{ansible_winrm_transport: ssl}", ("https", 5986, "basic")),
        (
            "{ansible_winrm_transport: ssl, ansible_winrm_cert_pem: c.pem}",
            ("https", 5986, "certificate"),
        ),
        ("{ansible_connection: psrp}", ("https", 5986, "negotiate")),
        ("{ansible_connection: psrp, ansible_psrp_protocol: http}", ("http", 5985, "negotiate")),
        (
            "{ansible_connection: ansible.builtin.psrp, ansible_psrp_auth: ntlm}",
            ("https", 5986, "ntlm"),
        ),
    ],
)
def test_connection_scheme_port_transport(vars_yaml: str, expected: tuple[str, int, str]) -> None:
    host = parse_inventory(f"all:\n  hosts:\n    h1: {vars_yaml}\n", "c.yml").hosts[0]
    conn = host.connection
    assert (conn.scheme, conn.port, conn.transport) == expected


def test_winrm_connection_timeout_sets_operation_and_read() -> None:
    # ansible-core 2.15+: operation_timeout_sec = N and read_timeout_sec = N + 10, over
    # any value given for those two
    text = (
        "all:\n  hosts:\n    h1: {ansible_winrm_connection_timeout: 40,"
        " ansible_winrm_read_timeout_sec: 45, ansible_winrm_operation_timeout_sec: 44}\n"
    )
    conn = parse_inventory(text, "t.yml").hosts[0].connection
    assert (conn.operation_timeout, conn.read_timeout) == (40, 50)


@pytest.mark.parametrize(
    ("inventory_vars", "env", "asked", "expected_user", "expected_password"),
    [
        ("{ansible_user: u, ansible_password: p}", {"FLEETLOGOFF_PASSWORD": "e"}, "a", "u", "p"),
        ("{ansible_user: u, ansible_winrm_password: p2, ansible_password: p}", {}, None, "u", "p2"),
        ("{}", {"FLEETLOGOFF_USERNAME": "eu", "FLEETLOGOFF_PASSWORD": "e"}, "a", "eu", "e"),
        ("{}", {"FLEETLOGOFF_PASSWORD": ""}, "asked", None, "asked"),
        ("{}", {}, None, None, None),
        ("{ansible_password: '{{ vault_pw }}'}", {}, "asked", None, "asked"),
    ],
)
def test_credential_sources(
    inventory_vars: str,
    env: dict[str, str],
    asked: str | None,
    expected_user: str | None,
    expected_password: str | None,
) -> None:
    text = f"all:\n  hosts:\n    h1: {inventory_vars}\n"
    conn = parse_inventory(text, "c.yml", env=env, password=asked).hosts[0].connection
    assert conn.username == expected_user
    assert (conn.password.reveal() if conn.password else None) == expected_password


@pytest.mark.parametrize(
    ("host_vars", "env", "expected"),
    [
        ("{ansible_password: '{{ pw }}', pw: 'p1'}", {}, "p1"),
        ("{ansible_password: '{{ a }}', a: '{{ b }}', b: 'p2'}", {}, "p2"),
        ("{ansible_password: \"{{ lookup('env', 'WINPASS') }}\"}", {"WINPASS": "p3"}, "p3"),
        # what a lookup returns is never templated again (Ansible marks it unsafe)
        ("{ansible_password: \"{{ lookup('env', 'WINPASS') }}\"}", {"WINPASS": "p{{x}}"}, "p{{x}}"),
        (
            '{ansible_password: \'{{ lookup("ansible.builtin.env","WINPASS") }}\'}',
            {"WINPASS": "p4"},
            "p4",
        ),
        (
            "{ansible_password: '{{ pw }}', pw: \"{{lookup('env','WINPASS')}}\"}",
            {"WINPASS": "p5"},
            "p5",
        ),
        # an unset or empty variable: FLEETLOGOFF_PASSWORD supplies the password instead
        (
            "{ansible_password: \"{{ lookup('env', 'WINPASS') }}\"}",
            {"WINPASS": "", "FLEETLOGOFF_PASSWORD": "e"},
            "e",
        ),
        # !unsafe is Ansible's "never template this": the text itself
        ("{ansible_password: !unsafe '{{ pw }}', pw: x}", {}, "{{ pw }}"),
    ],
)
def test_plain_references_and_env_lookups_are_read(
    host_vars: str, env: dict[str, str], expected: str
) -> None:
    text = f"all:\n  hosts:\n    h1: {host_vars}\n"
    connection = parse_inventory(text, "t.yml", env=env).hosts[0].connection
    assert connection.password == Secret(expected)


def test_references_read_the_hosts_own_value_and_convert_like_the_variable() -> None:
    text = (
        "all:\n  vars:\n    ansible_port: '{{ winrm_port }}'\n    winrm_port: 5985\n"
        "  hosts:\n    h1:\n    h2: {winrm_port: '5986'}\n"
    )
    h1, h2 = parse_inventory(text, "t.yml").hosts
    assert (h1.connection.port, h1.connection.scheme) == (5985, "http")
    assert (h2.connection.port, h2.connection.scheme) == (5986, "https")


def test_password_never_shows_in_repr_str_or_errors() -> None:
    text = (
        "all:\n  hosts:\n    h1:\n      ansible_password: hunter2-secret\n      ansible_port: x\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_inventory(text, "s.yml").select(None)
    assert "hunter2" not in str(info.value)
    good = text.replace("ansible_port: x", "ansible_port: 5985")
    inventory = parse_inventory(good, "s.yml")
    assert "hunter2" not in repr(inventory) and "hunter2" not in str(inventory.hosts[0])
    assert inventory.hosts[0].connection.password == Secret("hunter2-secret")


ERRORS = [
    # (yaml, line, column, words expected in the reason)
    ("all:\n  hosts:\n    h1:\n    h1:\n", 4, 5, "duplicate key 'h1'"),
    ("all:\n  vars:\n    fleetlogoff_rule: []\n", 3, 5, "unknown setting 'fleetlogoff_rule'"),
    ("all:\n  host:\n    h1:\n", 2, 3, "unknown key 'host' in group 'all'"),
    ("all:\n  hosts: [h1, h2]\n", 2, 10, "must be a mapping of names"),
    ("all:\n  hosts:\n    h1: {ansible_connection: ssh}\n", 3, 30, "only speaks WinRM"),
    ("all:\n  hosts:\n    h1: {ansible_port: 70000}\n", 3, 24, "between 1 and 65535"),
    (
        "all:\n  hosts:\n    h1: {ansible_host: '{{ ip }}'}\n",
        3,
        24,
        "is {{ ip }}, which leads to no value",
    ),
    ("all:\n  hosts:\n    h1: {ansible_host: '{{ ip }}.corp'}\n", 3, 24, "Jinja template"),
    ("all:\n  hosts:\n    h1: {ansible_host: '{{ ip | lower }}'}\n", 3, 24, "reads only"),
    (
        "all:\n  hosts:\n    h1: {ansible_host: '{{ a }}', a: '{{ b }}'}\n",
        3,
        24,
        "is {{ a }}, which leads to no value for this host",
    ),
    (
        "all:\n  hosts:\n    h1: {ansible_host: '{{ a }}', a: '{{ b }}', b: '{{ a }}'}\n",
        3,
        24,
        "is {{ a }}, which leads to no value for this host (unset, or a loop)",
    ),
    (
        "all:\n  hosts:\n    h1: {ansible_port: \"{{ lookup('env', 'WINRM_PORT') }}\"}\n",
        3,
        24,
        "reads the environment variable WINRM_PORT, which is not set",
    ),
    (
        "all:\n  hosts:\n    h1: {ansible_winrm_transport: ntml}\n",
        3,
        35,
        "unknown transport 'ntml'",
    ),
    ("all:\n  hosts:\n    h1: {ansible_winrm_server_cert_validation: no}\n", 3, 48, "ignore"),
    ("all:\n  hosts:\n    h1: {ansible_winrm_message_encryption: sometimes}\n", 3, 44, "auto"),
    ("all:\n  vars:\n    fleetlogoff_date_order: mdyy\n", 3, 29, "must be one of auto"),
    ("all:\n  vars:\n    fleetlogoff_codepage: yes\n", 3, 27, "whole number"),
    ("all:\n  vars:\n    fleetlogoff_timezone: Mars/Base\n", 3, 27, "unknown time zone"),
    ("all:\n  vars:\n    fleetlogoff_protected_users:\n", 3, 5, "is empty"),
    ("all:\n  vars:\n    fleetlogoff_rules:\n      - name: r\n        idle: 2x\n", 5, 15, "idle"),
    ("all:\n  vars:\n    fleetlogoff_rules:\n      - {name: r, state: [disc]}\n", 4, 19, "'state'"),
    (
        "all:\n  vars:\n    fleetlogoff_window: [{start: '25:00', end: '01:00', tz: UTC}]\n",
        3,
        34,
        "HH:MM",
    ),
    ("all:\n  children:\n    a:\n      children:\n        a:\n", 5, 9, "loop"),
    ("all:\n  hosts:\n    rds[05:1]:\n", 3, 5, "host range"),
    ("all:\n  hosts:\n    h1: {ansible_winrm_read_timeout_sec: 10}\n", 3, 42, "must exceed"),
    ("all:\n  hosts:\n    h1: [\n", 4, 1, "invalid YAML"),
    ("- just\n- a list\n", 1, 1, "must be a mapping"),
]


@pytest.mark.parametrize(("text", "line", "column", "words"), ERRORS)
def test_config_error_positions(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_inventory(text, "bad.yml").select(None)
    assert (info.value.source, info.value.line, info.value.column) == ("bad.yml", line, column)
    assert words in info.value.reason
    assert str(info.value).startswith(f"bad.yml:{line}:{column}: ")


def test_vault_password_without_fallback_names_env_var() -> None:
    text = (
        "all:\n  hosts:\n    h1:\n      ansible_password: !vault |\n"
        "        $ANSIBLE_VAULT;1.1;AES256\n        6162\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_inventory(text, "v.yml").select(None)
    assert (info.value.line, info.value.column) == (4, 25)
    assert "vault-encrypted and no vault password was given" in info.value.reason
    assert "FLEETLOGOFF_PASSWORD" in info.value.reason


def test_unknown_ansible_vars_and_unsafe_values_are_accepted() -> None:
    text = (
        "all:\n  vars:\n    ansible_become_method: runas\n    note: '{{ x }}'\n"
        "  hosts:\n    h1:\n      ansible_password: !unsafe 'p{{w'\n      ansible_port: 5985\n"
    )
    host = parse_inventory(text, "u.yml").hosts[0]
    assert host.connection.password == Secret("p{{w")


def test_host_port_suffix_and_merge_keys() -> None:
    text = (
        "all:\n  vars:\n    base: &base {ansible_winrm_scheme: http}\n"
        "  hosts:\n    h1:5999:\n      <<: *base\n      ansible_host: 127.0.0.9\n"
    )
    conn = parse_inventory(text, "m.yml").hosts[0].connection
    assert (conn.address, conn.port, conn.scheme) == ("127.0.0.9", 5999, "http")


def test_empty_inventory_is_an_error() -> None:
    with pytest.raises(ConfigError, match="empty"):
        parse_inventory("# nothing\n", "e.yml")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such inventory file"):
        load_inventory_file(tmp_path / "missing.yml")
    (tmp_path / "locked.yml").write_text("all:\n", encoding="utf-8")
    (tmp_path / "locked.yml").chmod(0)
    if os.access(tmp_path / "locked.yml", os.R_OK):
        return  # root reads anything
    with pytest.raises(ConfigError, match="cannot read inventory"):
        load_inventory_file(tmp_path / "locked.yml")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (None, 6),
        ("webservers", 2),
        ("prod:&webservers", 1),
        ("all:!east", 3),
        ("ungrouped", 1),
    ],
)
def test_select(pattern: str | None, expected: int) -> None:
    inventory = load_inventory_file(FIXTURES / "ansible-docs-groups.yml")
    assert len(inventory.select(pattern)) == expected


def test_select_nothing_names_the_pattern() -> None:
    inventory = load_inventory_file(FIXTURES / "ansible-docs-groups.yml")
    with pytest.raises(UsageError, match="'nosuch'"):
        inventory.select("webservers:nosuch")


MIXED = """
all:
  children:
    linux:
      vars: {ansible_connection: ssh}
      hosts:
        web01:
    rds:
      vars: {ansible_user: admin, ansible_password: pw}
      hosts:
        rds01:
        rds02:
"""


def test_a_mixed_inventory_loads_and_only_selecting_an_ssh_host_is_an_error() -> None:
    inventory = parse_inventory(MIXED, "site.yml")
    assert [h.name for h in inventory.select("rds")] == ["rds01", "rds02"]
    assert [h.name for h in inventory.select("all:!linux")] == ["rds01", "rds02"]
    assert inventory.groups["linux"] == ("web01",)
    with pytest.raises(ConfigError, match="only speaks WinRM") as info:
        inventory.select(None)
    assert (info.value.source, info.value.line) == ("site.yml", 5)  # the ssh vars line


def test_group_vars_and_host_vars_beside_the_inventory_apply_as_in_ansible(
    tmp_path: Path,
) -> None:
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    rds:\n      vars: {ansible_user: inline}\n"
        "      hosts:\n        rds01:\n        rds02:\n",
        encoding="utf-8",
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("ansible_password: from-group-vars\n")
    (tmp_path / "group_vars" / "rds").mkdir()
    (tmp_path / "group_vars" / "rds" / "10-conn.yaml").write_text("ansible_user: svc\n")
    (tmp_path / "group_vars" / "unknown.yml").write_text("ansible_user: ignored\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "rds02.yml").write_text(
        "ansible_host: 10.0.0.2\nfleetlogoff_date_order: dmy\n"
    )
    inventory = load_inventory_file(tmp_path / "hosts.yml")
    one, two = inventory.select(None)
    assert (one.connection.username, two.connection.username) == ("svc", "svc")
    assert one.connection.password == Secret("from-group-vars")
    assert (two.connection.address, two.settings["fleetlogoff_date_order"]) == ("10.0.0.2", "dmy")
    before = inventory.digest
    (tmp_path / "host_vars" / "rds02.yml").write_text("ansible_host: 10.0.0.3\n")
    assert load_inventory_file(tmp_path / "hosts.yml").digest != before


def test_an_error_in_a_group_vars_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    rds01:\n", encoding="utf-8")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("fleetlogoff_colour: blue\n")
    with pytest.raises(ConfigError) as info:
        load_inventory_file(tmp_path / "hosts.yml")
    assert info.value.source.endswith("group_vars/all.yml") and info.value.line == 1


def test_hosts_and_children_given_as_one_name() -> None:
    inventory = parse_inventory("parent:\n  children: kid\nkid:\n  hosts: rds01\n", "s.yml")
    assert inventory.groups["parent"] == ("rds01",)


def test_a_port_counts_where_the_host_is_first_defined() -> None:
    text = (
        "a:\n  hosts:\n    rds01:5986:\n"
        "b:\n  hosts:\n    rds01:5985:\n    rds02:5985: {ansible_port: 5999}\n"
    )
    one, two = parse_inventory(text, "p.yml").select(None)
    assert (one.connection.port, two.connection.port) == (5986, 5999)


def test_group_priority_orders_groups_of_the_same_depth() -> None:
    text = (
        "a_group:\n  vars: {ansible_user: a, ansible_group_priority: 10}\n  hosts: {h1: }\n"
        "b_group:\n  vars: {ansible_user: b}\n  hosts: {h1: }\n"
        "c_group:\n  vars: {ansible_user: c, ansible_group_priority: '3'}\n  hosts: {h1: }\n"
    )
    host = parse_inventory(text, "prio.yml").select(None)[0]
    assert host.connection.username == "a"  # priority 10 is applied last
    assert host.groups == ("all", "b_group", "c_group", "a_group")
    bad = "g:\n  vars: {ansible_group_priority: high}\n  hosts: {h1: }\n"
    with pytest.raises(ConfigError, match="ansible_group_priority must be a whole number"):
        parse_inventory(bad, "prio.yml")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("rds:\n  hosts:\n    1234:\n", "a host name must be text, not an int"),
        ("yes:\n  hosts: {h1: }\n", "a group name must be text, not true/false"),
        ("rds:\n  hosts: [rds01]\n", "hosts of group 'rds' must be a mapping of names"),
        ("rds: just-a-string\n", "group 'rds' must be a mapping"),
    ],
)
def test_what_ansible_cannot_read_either_is_one_line(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_inventory(text, "bad.yml")


def test_hosts_come_in_ansibles_order_of_all() -> None:
    text = (
        "all:\n  children:\n    parent:\n      children:\n        kid:\n          hosts: {k1: }\n"
        "      hosts: {p1: }\n  hosts:\n    top: \n"
    )
    inventory = parse_inventory(text, "o.yml")
    # all's own hosts, then its children's, breadth first: own hosts before a child's
    assert inventory.names == ["top", "p1", "k1"]
    assert inventory.groups["parent"] == ("p1", "k1")
