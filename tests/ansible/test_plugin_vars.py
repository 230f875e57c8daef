"""The variables fleetlogoff reads for each connection setting are the `vars:` that the
installed ansible-core's winrm and psrp connection plugins document, in the same order
(the last one set wins in both). Read from the plugins' own DOCUMENTATION, so a new
ansible-core that changes a list fails here."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlogoff.inventory import hostvars

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(
        importlib.util.find_spec("ansible") is None, reason="needs ansible-core (.[bench])"
    ),
]

# fleetlogoff's setting → the plugin option that holds the same thing.
WINRM = {
    "address": "remote_addr",
    "user": "remote_user",
    "password": "remote_password",
    "port": "port",
    "scheme": "scheme",
    "path": "path",
    "transport": "transport",
    "both_timeouts": "connection_timeout",
}
PSRP = {
    "address": "remote_addr",
    "user": "remote_user",
    "password": "remote_password",
    "port": "port",
    "scheme": "protocol",
    "path": "path",
    "transport": "auth",
    "validation": "cert_validation",
    "ca": "ca_cert",
    "cert_pem": "certificate_pem",
    "cert_key_pem": "certificate_key_pem",
    "encryption": "message_encryption",
    "connection_timeout": "connection_timeout",
    "read_timeout": "read_timeout",
    "operation_timeout": "operation_timeout",
    "proxy": "proxy",
    "jea": "configuration_name",
}


def plugin_options(name: str) -> dict[str, Any]:
    spec = importlib.util.find_spec("ansible")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).parent / "plugins" / "connection" / f"{name}.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            value = ast.literal_eval(node.value)
            options: dict[str, Any] = yaml.safe_load(value)["options"]
            return options
    raise AssertionError(f"no DOCUMENTATION in {source}")


@pytest.mark.parametrize(
    ("plugin", "table", "mapping"),
    [("winrm", hostvars._WINRM_VARS, WINRM), ("psrp", hostvars._PSRP_VARS, PSRP)],
)
def test_the_names_read_are_the_plugins_vars(
    plugin: str, table: dict[str, tuple[str, ...]], mapping: dict[str, str]
) -> None:
    options = plugin_options(plugin)
    for setting, option in mapping.items():
        documented = [v["name"] for v in options[option].get("vars", [])]
        documented = [name for name in documented if name != "inventory_hostname"]
        ours = list(hostvars._COMMON.get(setting, ())) + list(table.get(setting, ()))
        assert ours == documented, f"{plugin} {option}"


def test_winrm_pass_through_variables_fleetlogoff_reads_exist_in_pywinrm_terms() -> None:
    # The winrm plugin hands every ansible_winrm_<arg> that pywinrm's Protocol takes to
    # pywinrm; fleetlogoff reads these ones under the same names.
    for name in (
        "ansible_winrm_server_cert_validation",
        "ansible_winrm_ca_trust_path",
        "ansible_winrm_cert_pem",
        "ansible_winrm_cert_key_pem",
        "ansible_winrm_message_encryption",
        "ansible_winrm_operation_timeout_sec",
        "ansible_winrm_read_timeout_sec",
        "ansible_winrm_proxy",
    ):
        assert name in hostvars.connection_var_names()
    winrm = pytest.importorskip("winrm.protocol")
    import inspect

    arguments = inspect.signature(winrm.Protocol.__init__).parameters
    for name in ("server_cert_validation", "ca_trust_path", "cert_pem", "cert_key_pem"):
        assert name in arguments
    for name in ("message_encryption", "operation_timeout_sec", "read_timeout_sec", "proxy"):
        assert name in arguments
