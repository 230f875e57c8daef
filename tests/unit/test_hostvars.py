"""Connection variables read as ansible-core 2.19's winrm and psrp plugins read them, and
settings that cannot be honoured refused, never ignored."""

from __future__ import annotations

import pytest

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.inventory.hostvars import connection_var_names
from fleetlogoff.model import Connection, Secret


def connection(host_vars: str) -> Connection:
    text = f"all:\n  hosts:\n    h1: {{{host_vars}}}\n"
    return parse_inventory(text, "c.yml").select(None)[0].connection


def refused(host_vars: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        connection(host_vars)
    return info.value


@pytest.mark.parametrize(
    ("host_vars", "password"),
    [
        ("ansible_password: a", "a"),
        ("ansible_password: a, ansible_winrm_pass: b", "b"),
        ("ansible_winrm_pass: b, ansible_winrm_password: c", "c"),
        # psrp reads the same three names, never an ansible_psrp_* one
        ("ansible_connection: psrp, ansible_winrm_password: c", "c"),
        ("ansible_connection: psrp, ansible_password: a, ansible_psrp_password: p", "a"),
        ("ansible_connection: psrp, ansible_psrp_pass: p", None),
        # winrm stopped reading the ssh names in Ansible 2.6
        ("ansible_ssh_pass: s", None),
    ],
)
def test_password_variables(host_vars: str, password: str | None) -> None:
    conn = connection(host_vars)
    assert conn.password == (Secret(password) if password else None)


def test_ansible_ssh_host_port_and_user_are_ignored_as_by_winrm() -> None:
    conn = connection("ansible_ssh_host: 192.0.2.5, ansible_ssh_port: 2222, ansible_ssh_user: u")
    assert (conn.address, conn.port, conn.username) == ("h1", 5986, None)


@pytest.mark.parametrize(
    ("host_vars", "operation", "read"),
    [
        ("ansible_winrm_connection_timeout: 60", 60, 70),
        ("ansible_winrm_connection_timeout: 5, ansible_winrm_read_timeout_sec: 99", 5, 15),
        ("ansible_winrm_operation_timeout_sec: 30, ansible_winrm_read_timeout_sec: 40", 30, 40),
        ("ansible_connection: psrp, ansible_psrp_operation_timeout: 25", 25, 30),
    ],
)
def test_timeouts(host_vars: str, operation: float, read: float) -> None:
    conn = connection(host_vars)
    assert (conn.operation_timeout, conn.read_timeout) == (operation, read)


@pytest.mark.parametrize(
    ("host_vars", "path"),
    [
        ("", "wsman"),
        ("ansible_winrm_path: /wsman-gw", "wsman-gw"),
        ("ansible_winrm_path: /rds/wsman/", "rds/wsman"),
        ("ansible_connection: psrp, ansible_psrp_path: custom", "custom"),
        ("ansible_psrp_path: custom", "wsman"),  # winrm does not read psrp's name
    ],
)
def test_the_wsman_path_is_honoured(host_vars: str, path: str) -> None:
    assert connection(host_vars).path == path


@pytest.mark.parametrize("value", ["'/a b'", "'/x?y=1'", "'/x#f'", "'//'", "''"])
def test_a_path_that_is_no_url_path_is_refused(value: str) -> None:
    assert "must be a URL path" in refused(f"ansible_winrm_path: {value}").reason


@pytest.mark.parametrize(
    "host_vars",
    [
        "ansible_winrm_proxy: http://proxy.corp.example:3128",
        "ansible_connection: psrp, ansible_psrp_proxy: socks5h://proxy:1080",
    ],
)
def test_a_proxy_is_refused_with_what_to_do(host_vars: str) -> None:
    error = refused(host_vars)
    assert "does not use proxies; remove it, or leave this host out with --limit" in error.reason


def test_a_null_proxy_or_ignore_proxy_asks_for_what_fleetlogoff_does_anyway() -> None:
    assert connection("ansible_winrm_proxy: ~").address == "h1"
    assert connection("ansible_connection: psrp, ansible_psrp_ignore_proxy: true").address == "h1"


def test_a_jea_endpoint_is_refused_the_default_configuration_is_not() -> None:
    error = refused("ansible_connection: psrp, ansible_psrp_configuration_name: RDS.Operators")
    assert "JEA endpoint cannot apply" in error.reason
    default = "ansible_connection: psrp, ansible_psrp_configuration_name: Microsoft.PowerShell"
    assert connection(default).transport == "negotiate"


@pytest.mark.parametrize(
    ("value", "kind"),
    [("0123456", "int"), ("yes", "bool"), ("1.50", "float"), ("0x1F", "int"), ("1_000", "int")],
)
def test_a_credential_yaml_would_change_is_refused_without_showing_it(
    value: str, kind: str
) -> None:
    error = refused(f"ansible_user: u, ansible_password: {value}")
    assert f"ansible_password is not text in YAML ({kind})" in error.reason
    assert "quote it" in error.reason and value not in str(error)


def test_a_credential_yaml_reads_unchanged_is_accepted() -> None:
    assert connection("ansible_password: 12345").password == Secret("12345")
    assert connection("ansible_password: '0123456'").password == Secret("0123456")


def test_every_name_read_is_listed_for_vault_opening() -> None:
    names = connection_var_names()
    assert {"ansible_connection", "ansible_password", "ansible_winrm_password"} <= names
    assert {"ansible_psrp_path", "ansible_winrm_path", "ansible_psrp_configuration_name"} <= names
    assert "ansible_ssh_pass" not in names and "ansible_psrp_password" not in names


@pytest.mark.parametrize(
    "host_vars",
    [
        "ansible_port: '\u00b2'",  # a digit to str.isdigit(), not to int(): was a traceback
        "ansible_port: '\u0664'",  # ARABIC-INDIC DIGIT FOUR: int() would read port 4
        "ansible_winrm_read_timeout_sec: '1e2'",
        "ansible_winrm_read_timeout_sec: '\u0664\u0660'",
        "ansible_winrm_read_timeout_sec: .inf",
    ],
)
def test_numbers_are_ascii_digits(host_vars: str) -> None:
    assert refused(host_vars).reason
