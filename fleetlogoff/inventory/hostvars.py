"""Host variables: fleetlogoff_* settings validated into typed values, and the Ansible
connection variables (ansible_*, ansible_winrm_*, ansible_psrp_*) resolved into a Connection.

Split from inventory.py, which builds groups and hosts; this module knows what the
variables mean."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetlogoff.errors import ConfigError
from fleetlogoff.model import Connection, Host, Secret
from fleetlogoff.rules import parse_rules
from fleetlogoff.windows import parse_windows
from fleetlogoff.yamlsource import (
    UNSAFE_TAG,
    YamlList,
    YamlNode,
    YamlScalar,
    expect_int,
    expect_text,
    expect_text_list,
)

log = logging.getLogger(__name__)


def is_null(node: YamlNode) -> bool:
    return isinstance(node, YamlScalar) and node.value is None


@dataclass(frozen=True, slots=True)
class Var:
    """One variable definition: where its key is, its node, and its validated setting."""

    key: YamlScalar
    node: YamlNode
    setting: object = None


# ---- fleetlogoff_* settings -------------------------------------------------------------

DATE_ORDERS = ("auto", "mdy", "dmy", "ymd")
SETTINGS = (
    "fleetlogoff_rules",
    "fleetlogoff_protected_users",
    "fleetlogoff_protected_sessions",
    "fleetlogoff_date_order",
    "fleetlogoff_window",
    "fleetlogoff_codepage",
    "fleetlogoff_timezone",
    "fleetlogoff_http_transport",
)
HTTP_TRANSPORTS = ("lean", "pypsrp")
UTF8_CODEPAGE = 65001
# Windows code page numbers are 16-bit (e.g. 437, 850, 65001 for UTF-8).
_MAX_CODEPAGE = 65535


def host_codepage(host: Host) -> int:
    """The code page the host's shell runs in: UTF-8 unless fleetlogoff_codepage says
    otherwise (asking for 65001 spares guessing the host's OEM code page)."""
    codepage = host.settings.get("fleetlogoff_codepage", UTF8_CODEPAGE)
    return codepage if isinstance(codepage, int) else UTF8_CODEPAGE


def validate_setting(key: YamlScalar, node: YamlNode) -> object:
    """The typed value of a fleetlogoff_* variable (None for any other variable).

    Raises:
        ConfigError: unknown fleetlogoff_* name, null or wrong value, with its position.
    """
    name = key.text
    if not name.startswith("fleetlogoff_"):
        return None
    if name not in SETTINGS:
        raise key.pos.error(f"unknown setting {name!r} (known: {', '.join(SETTINGS)})")
    if is_null(node):
        raise key.pos.error(f"{name} is empty; give a value (or [] for an empty list)")
    if name == "fleetlogoff_rules":
        return parse_rules(node, key.pos.source)
    if name == "fleetlogoff_window":
        return parse_windows(node, key.pos.source)
    if name in ("fleetlogoff_protected_users", "fleetlogoff_protected_sessions"):
        return expect_text_list(node, name)
    if name == "fleetlogoff_codepage":
        return expect_int(node, name, 1, _MAX_CODEPAGE)
    text = expect_text(node, name).strip()
    if name == "fleetlogoff_http_transport":
        if text.lower() not in HTTP_TRANSPORTS:
            raise node.pos.error(f"{name} must be lean or pypsrp, not {text!r}")
        return text.lower()
    if name == "fleetlogoff_date_order":
        if text.lower() not in DATE_ORDERS:
            raise node.pos.error(f"{name} must be one of {', '.join(DATE_ORDERS)}, not {text!r}")
        return text.lower()
    try:  # fleetlogoff_timezone
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.pos.error(f"{name}: unknown time zone {text!r} (use an IANA name)") from None
    return text


# ---- connection variables ------------------------------------------------------------

USERNAME_ENV = "FLEETLOGOFF_USERNAME"
PASSWORD_ENV = "FLEETLOGOFF_PASSWORD"
# WinRM's registered ports (MS-WSMV 2.1: 5985 HTTP, 5986 HTTPS).
HTTP_PORT = 5985
HTTPS_PORT = 5986
_CONNECTIONS = {"winrm": "winrm", "ansible.builtin.winrm": "winrm"} | {
    "psrp": "psrp",
    "ansible.builtin.psrp": "psrp",
}
# pywinrm transport names → pypsrp auth names; plaintext/ssl are pywinrm's Basic auth.
_TRANSPORTS = {
    "ntlm": "ntlm",
    "negotiate": "negotiate",
    "kerberos": "kerberos",
    "basic": "basic",
    "plaintext": "basic",
    "ssl": "basic",
    "certificate": "certificate",
    "credssp": "credssp",
}
_ENCRYPTION = ("auto", "always", "never")
# Ansible reads the last variable of each list that is set (ConfigManager), so the more
# specific name wins; ansible_ssh_* are Ansible's old names for the same settings.
_COMMON = {
    "address": ("ansible_ssh_host", "ansible_host"),
    "port": ("ansible_ssh_port", "ansible_port"),
    "user": ("ansible_ssh_user", "ansible_user"),
    "password": ("ansible_ssh_pass", "ansible_password"),
}
_WINRM_VARS = {
    "address": ("ansible_winrm_host",),
    "port": ("ansible_winrm_port",),
    "user": ("ansible_winrm_user",),
    "password": ("ansible_winrm_pass", "ansible_winrm_password"),
    "scheme": ("ansible_winrm_scheme",),
    "transport": ("ansible_winrm_transport",),
    "validation": ("ansible_winrm_server_cert_validation",),
    "ca": ("ansible_winrm_ca_trust_path",),
    "cert_pem": ("ansible_winrm_cert_pem",),
    "cert_key_pem": ("ansible_winrm_cert_key_pem",),
    "encryption": ("ansible_winrm_message_encryption",),
    "both_timeouts": ("ansible_winrm_connection_timeout",),
    "operation_timeout": ("ansible_winrm_operation_timeout_sec",),
    "read_timeout": ("ansible_winrm_read_timeout_sec",),
}
_PSRP_VARS = {
    "address": ("ansible_psrp_host",),
    "port": ("ansible_psrp_port",),
    "user": ("ansible_psrp_user",),
    "password": ("ansible_psrp_pass", "ansible_psrp_password"),
    "scheme": ("ansible_psrp_protocol",),
    "transport": ("ansible_psrp_auth",),
    "validation": ("ansible_psrp_cert_validation",),
    "ca": ("ansible_psrp_cert_trust_path", "ansible_psrp_ca_cert"),
    "cert_pem": ("ansible_psrp_certificate_pem",),
    "cert_key_pem": ("ansible_psrp_certificate_key_pem",),
    "encryption": ("ansible_psrp_message_encryption",),
    "connection_timeout": ("ansible_psrp_connection_timeout",),
    "operation_timeout": ("ansible_psrp_operation_timeout",),
    "read_timeout": ("ansible_psrp_read_timeout",),
}


class _Vars:
    """A host's merged variables, read through one connection plugin's names."""

    def __init__(self, host: str, merged: Mapping[str, Var], names: Mapping[str, tuple[str, ...]]):
        self.host = host
        self.merged = merged
        self.names = names

    def find(self, what: str) -> tuple[str, YamlNode] | None:
        """The last of the names for `what` that is set, with its node."""
        found = None
        for name in _COMMON.get(what, ()) + self.names.get(what, ()):
            if name in self.merged:
                found = (name, self.merged[name].node)
        return found

    def text(self, what: str, choices: tuple[str, ...] = ()) -> str | None:
        found = self.find(what)
        if found is None:
            return None
        name, node = found
        _reject_unrenderable(self.host, name, node, hint="")
        value = expect_text(node, f"host {self.host!r}: {name}").strip()
        if choices and value.lower() not in choices:
            raise node.pos.error(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value.lower() if choices else value

    def seconds(self, what: str) -> float | None:
        value = self.text(what)
        found = self.find(what)
        if value is None or found is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        # A day is far beyond any sane WinRM timeout; larger values are typos.
        if not 0 < number <= 86400:
            raise found[1].pos.error(f"{found[0]} must be a number of seconds, not {value!r}")
        return number


def _reject_unrenderable(host: str, name: str, node: YamlNode, hint: str) -> None:
    """Vault values and Jinja templates cannot be used: say so, never show the value."""
    where = f"host {host!r}: {name}"
    if isinstance(node, YamlScalar) and node.is_vault:
        raise node.pos.error(f"{where} is vault-encrypted; vault values are not supported{hint}")
    if _unrenderable(node):
        raise node.pos.error(f"{where} is a Jinja template; fleetlogoff does not render it{hint}")


def resolve_connection(
    host: str, merged: Mapping[str, Var], env: Mapping[str, str], password: str | None
) -> Connection:
    """The Connection of one host from its merged variables.

    Raises:
        ConfigError: a non-WinRM connection, or a needed value that is wrong.
    """
    plugin = _plugin(host, merged)
    view = _Vars(host, merged, _PSRP_VARS if plugin == "psrp" else _WINRM_VARS)
    scheme, port = _scheme_and_port(view)
    cert_pem = view.text("cert_pem")
    operation, read = _timeouts(view)
    defaults = Connection(host, port)
    return Connection(
        address=view.text("address") or host,
        port=port,
        scheme=scheme,
        transport=_transport(view, plugin, cert_pem),
        username=_credential(view, "user", env.get(USERNAME_ENV) or None, USERNAME_ENV),
        password=_password(view, env, password),
        cert_validation=view.text("validation", ("validate", "ignore")) != "ignore",
        ca_trust_path=view.text("ca"),
        cert_pem=cert_pem,
        cert_key_pem=view.text("cert_key_pem"),
        message_encryption=_encryption(view),
        connection_timeout=view.seconds("connection_timeout") or defaults.connection_timeout,
        operation_timeout=operation,
        read_timeout=read,
    )


def _plugin(host: str, merged: Mapping[str, Var]) -> str:
    var = merged.get("ansible_connection")
    if var is None:
        return "winrm"
    _reject_unrenderable(host, "ansible_connection", var.node, hint="")
    value = expect_text(var.node, "ansible_connection").strip()
    plugin = _CONNECTIONS.get(value.lower())
    if plugin is None:
        raise var.node.pos.error(
            f"host {host!r}: ansible_connection {value!r} is not supported: "
            "fleetlogoff only speaks WinRM (winrm or psrp)"
        )
    return plugin


def _scheme_and_port(view: _Vars) -> tuple[Literal["http", "https"], int]:
    """Ansible's rule: scheme is https unless the port is 5985; the port follows the scheme."""
    port = None
    found = view.find("port")
    if found is not None:
        _reject_unrenderable(view.host, found[0], found[1], hint="")
        port = expect_int(found[1], f"host {view.host!r}: {found[0]}", 1, 65535)
    scheme = view.text("scheme", ("http", "https"))
    if scheme is None:
        scheme = "http" if port == HTTP_PORT else "https"
    if port is None:
        port = HTTPS_PORT if scheme == "https" else HTTP_PORT
    return ("http" if scheme == "http" else "https"), port


def _transport(view: _Vars, plugin: str, cert_pem: str | None) -> str:
    found = view.find("transport")
    if found is None:
        # pypsrp's and Ansible psrp's default is negotiate; for winrm, NTLM (message
        # encryption over HTTP, no Kerberos setup) rather than pywinrm's Basic.
        return "negotiate" if plugin == "psrp" else "ntlm"
    name, node = found
    _reject_unrenderable(view.host, name, node, hint="")
    if isinstance(node, YamlList):
        words = list(expect_text_list(node, name))
    else:
        words = expect_text(node, name).split(",")
    for word in (w.strip().lower() for w in words if w.strip()):
        if word not in _TRANSPORTS:
            raise node.pos.error(
                f"{name}: unknown transport {word!r} (expected one of: {', '.join(_TRANSPORTS)})"
            )
        # The first one listed wins; pywinrm's "ssl" means a client certificate when one is set.
        return "certificate" if word == "ssl" and cert_pem else _TRANSPORTS[word]
    raise node.pos.error(f"{name} names no transport")


def _credential(view: _Vars, what: str, fallback: str | None, env_name: str) -> str | None:
    found = view.find(what)
    if found is None:
        return fallback
    name, node = found
    if fallback is not None and _unrenderable(node):
        return fallback
    _reject_unrenderable(view.host, name, node, hint=f"; set {env_name} instead")
    return expect_text(node, f"host {view.host!r}: {name}")


def _password(view: _Vars, env: Mapping[str, str], asked: str | None) -> Secret | None:
    value = _credential(view, "password", env.get(PASSWORD_ENV) or asked, PASSWORD_ENV)
    return None if value is None else Secret(value)


def _unrenderable(node: YamlNode) -> bool:
    if not isinstance(node, YamlScalar) or node.tag == UNSAFE_TAG:
        return False
    text = node.value if isinstance(node.value, str) else ""
    return node.is_vault or "{{" in text or "{%" in text


def _encryption(view: _Vars) -> Literal["auto", "always", "never"]:
    value = view.text("encryption", _ENCRYPTION)
    return "always" if value == "always" else "never" if value == "never" else "auto"


def _timeouts(view: _Vars) -> tuple[float, float]:
    """Operation and read timeouts; pypsrp needs read > operation (pypsrp README)."""
    defaults = Connection("", 0)
    both = view.seconds("both_timeouts")
    # Ansible's winrm plugin sets operation = connection_timeout, read = that + 1.
    operation = view.seconds("operation_timeout") or both or defaults.operation_timeout
    read = view.seconds("read_timeout") or (both + 1 if both else defaults.read_timeout)
    if read <= operation:
        found = view.find("read_timeout") or view.find("operation_timeout")
        where = found[1].pos if found else None
        reason = f"host {view.host!r}: read timeout {read:g}s must exceed operation {operation:g}s"
        raise where.error(reason) if where else ConfigError("", 0, 0, reason)
    return operation, read
