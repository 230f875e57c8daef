"""Host variables: the Ansible connection variables (ansible_*, ansible_winrm_*,
ansible_psrp_*) of a host resolved into a Connection, as Ansible's winrm and psrp connection
plugins read them. fleetlogoff's own fleetlogoff_* settings are settings.py's."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Literal

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.graph import Var, is_null
from fleetlogoff.model import Connection, Secret
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
# The variables each setting is read from, as the `vars:` of Ansible's winrm and psrp
# connection plugins list them (ansible-core 2.19). Ansible reads the last one of each list
# that is set (ConfigManager), so the more specific name wins. Neither plugin reads the old
# ansible_ssh_host/port/user/pass (winrm stopped in 2.6), and psrp takes its password from
# ansible_password or ansible_winrm_pass/password, never from an ansible_psrp_* name.
_COMMON = {
    "address": ("ansible_host",),
    "port": ("ansible_port",),
    "user": ("ansible_user",),
    "password": ("ansible_password", "ansible_winrm_pass", "ansible_winrm_password"),
}
_WINRM_VARS = {
    "address": ("ansible_winrm_host",),
    "port": ("ansible_winrm_port",),
    "user": ("ansible_winrm_user",),
    "path": ("ansible_winrm_path",),
    "proxy": ("ansible_winrm_proxy",),
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
    # pywinrm's Kerberos options, passed through by Ansible's winrm plugin as extras.
    "kerberos_hostname": ("ansible_winrm_kerberos_hostname_override",),
    "kerberos_service": ("ansible_winrm_service",),
    "send_cbt": ("ansible_winrm_send_cbt",),
}
_PSRP_VARS = {
    "address": ("ansible_psrp_host",),
    "port": ("ansible_psrp_port",),
    "user": ("ansible_psrp_user",),
    "path": ("ansible_psrp_path",),
    "proxy": ("ansible_psrp_proxy",),
    "jea": ("ansible_psrp_configuration_name",),
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
    "kerberos_hostname": ("ansible_psrp_negotiate_hostname_override",),
    "kerberos_service": ("ansible_psrp_negotiate_service",),
    "send_cbt": ("ansible_psrp_negotiate_send_cbt",),
}
# The SPN service each plugin asks for when the inventory names none: pywinrm's HTTP for
# winrm, WSMAN for psrp (Ansible's psrp plugin documentation).
_KERBEROS_SERVICE = {"winrm": "HTTP", "psrp": "WSMAN"}
_BOOLEANS = {"yes": True, "true": True, "on": True, "1": True} | {
    "no": False,
    "false": False,
    "off": False,
    "0": False,
}
# Connection's own defaults, where the inventory sets no value.
_DEFAULTS = Connection("", 0)
# The PowerShell session configuration every WinRM host has; any other is a JEA endpoint.
_DEFAULT_CONFIGURATION = "microsoft.powershell"


# Two template shapes are read without Jinja, because inventories write the very
# credentials fleetlogoff needs with them and each has one meaning:
# * `{{ name }}`, the value of another variable of the host: Ansible's documented way to
#   keep vaulted variables visible (`ansible_password: "{{ vault_ansible_password }}"`
#   in group_vars/all/vars.yml, `vault_ansible_password` in group_vars/all/vault.yml);
# * `{{ lookup('env', 'NAME') }}`, the controller's environment variable NAME.
# Anything else with `{{` or `{%` (filters, other lookups, text around it) stays refused.
_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ENV_LOOKUP = re.compile(
    r"\{\{\s*lookup\(\s*(['\"])(?:ansible\.builtin\.)?env\1\s*,"
    r"\s*(['\"])([A-Za-z_][A-Za-z0-9_]*)\2\s*\)\s*\}\}"
)
# A chain of references longer than this is a mistake (or a loop); it stays unread.
_MAX_HOPS = 10


def _template_text(node: YamlNode) -> str | None:
    """The text of a scalar Ansible would template (not !unsafe, not vaulted), or None."""
    if not isinstance(node, YamlScalar) or node.tag == UNSAFE_TAG or node.is_vault:
        return None
    return node.value.strip() if isinstance(node.value, str) else None


def _referenced(node: YamlNode) -> str | None:
    """The variable a `{{ name }}` value names, or None for any other value."""
    text = _template_text(node)
    match = _REFERENCE.fullmatch(text) if text is not None else None
    return match.group(1) if match else None


def _env_looked_up(node: YamlNode) -> str | None:
    """The environment variable a `{{ lookup('env', 'NAME') }}` value names, or None."""
    text = _template_text(node)
    match = _ENV_LOOKUP.fullmatch(text) if text is not None else None
    return match.group(3) if match else None


def _chain(name: str, node: YamlNode, merged: Mapping[str, Var]) -> tuple[list[str], bool]:
    """The names a chain of `{{ name }}` values passes through from `node`, and whether it
    ends at a value (not at an unset name, back at a name it passed, or past _MAX_HOPS)."""
    passed, current = [name], node
    for _ in range(_MAX_HOPS):
        target = _referenced(current)
        if target is None:
            return passed[1:], True
        if target in passed or target not in merged:
            return passed[1:], False
        passed.append(target)
        current = merged[target].node
    return passed[1:], False


def follow_references(name: str, node: YamlNode, merged: Mapping[str, Var]) -> YamlNode:
    """The node a chain of `{{ name }}` values ends at: `node` itself when it is no
    reference, or when the chain leads to no value."""
    passed, ends_at_value = _chain(name, node, merged)
    return merged[passed[-1]].node if passed and ends_at_value else node


def referenced_names(names: frozenset[str], merged: Mapping[str, Var]) -> set[str]:
    """The variables the `names` among `merged` refer to with `{{ name }}`, chains followed
    (so that a `!vault` value at the end of one is decrypted as theirs are)."""
    found: set[str] = set()
    for name in names & merged.keys():
        found.update(_chain(name, merged[name].node, merged)[0])
    return found


@functools.cache  # constant tables: built once, not for every host
def connection_var_names() -> frozenset[str]:
    """Every variable resolve_connection reads (so `!vault` values among them can be
    decrypted first, and no other)."""
    names = {"ansible_connection"}
    for table in (_COMMON, _WINRM_VARS, _PSRP_VARS):
        for group in table.values():
            names.update(group)
    return frozenset(names)


@functools.cache  # constant tables: joined once, not for every lookup of every host
def _names_last_first(plugin: str) -> dict[str, tuple[str, ...]]:
    """Each setting's variable names for a plugin, common ones first, reversed: the first
    one set is the last one given, the one that wins."""
    table = _PSRP_VARS if plugin == "psrp" else _WINRM_VARS
    return {
        what: tuple(reversed(_COMMON.get(what, ()) + table.get(what, ())))
        for what in _COMMON.keys() | table.keys()
    }


class _Vars:
    """A host's merged variables, read through one connection plugin's names."""

    def __init__(
        self, host: str, merged: Mapping[str, Var], plugin: str, env: Mapping[str, str]
    ) -> None:
        self.host = host
        self.merged = merged
        self.names = _names_last_first(plugin)
        self.env = env

    def find(self, what: str) -> tuple[str, YamlNode] | None:
        """The last of the names for `what` that is set, with its node (the value a
        `{{ name }}` or `{{ lookup('env', 'NAME') }}` stands for, where it can be read)."""
        for name in self.names.get(what, ()):
            var = self.merged.get(name)
            if var is not None:
                return name, resolve_template(name, var.node, self.merged, self.env)
        return None

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
        # ASCII digits with an optional fraction: float() would also take '٤', '1e2', 'inf'.
        number = float(value) if _SECONDS.fullmatch(value) else -1.0
        # A day is far beyond any sane WinRM timeout; larger values are typos.
        if not 0 < number <= 86400:
            raise found[1].pos.error(f"{found[0]} must be a number of seconds, not {value!r}")
        return number


def resolve_template(
    name: str, node: YamlNode, merged: Mapping[str, Var], env: Mapping[str, str]
) -> YamlNode:
    """`node`, or the value it stands for: the end of a `{{ name }}` chain, or the text of
    the environment variable a `{{ lookup('env', 'NAME') }}` reads when it is set and not
    empty (Ansible would send an empty password; here the template stays, and is refused
    with the variable's name unless FLEETLOGOFF_* or --ask-pass supplies the value)."""
    followed = follow_references(name, node, merged)
    variable = _env_looked_up(followed)
    value = env.get(variable) if variable is not None else None
    if not value or not isinstance(followed, YamlScalar):
        return followed
    # Ansible marks what a lookup returns unsafe: never templated again, even with `{{` in it.
    return YamlScalar(value, value, UNSAFE_TAG, followed.pos)


def _reject_unrenderable(host: str, name: str, node: YamlNode, hint: str) -> None:
    """Vault values and Jinja templates cannot be used: say so, never show the value."""
    if isinstance(node, YamlScalar) and node.is_vault:
        raise node.pos.error(
            f"host {host!r}: {name} is vault-encrypted and no vault password was given "
            f"(--ask-vault-pass, --vault-password-file or --vault-id){hint}"
        )
    if not _unrenderable(node):
        return
    variable, target = _env_looked_up(node), _referenced(node)
    if variable is not None:
        why = f"reads the environment variable {variable}, which is not set or empty"
    elif target is not None:
        why = f"is {{{{ {target} }}}}, which leads to no value for this host (unset, or a loop)"
    else:
        why = "is a Jinja template; fleetlogoff reads only {{ name }} and lookup('env', ...)"
    raise node.pos.error(f"host {host!r}: {name} {why}{hint}")


def resolve_connection(
    host: str, merged: Mapping[str, Var], env: Mapping[str, str], password: str | None
) -> Connection:
    """The Connection of one host from its merged variables.

    Raises:
        ConfigError: a non-WinRM connection, or a needed value that is wrong.
    """
    plugin = _plugin(host, merged, env)
    view = _Vars(host, merged, plugin, env)
    _refuse_unsupported(view)
    scheme, port = _scheme_and_port(view)
    cert_pem = view.text("cert_pem")
    operation, read = _timeouts(view)
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
        connection_timeout=view.seconds("connection_timeout") or _DEFAULTS.connection_timeout,
        operation_timeout=operation,
        read_timeout=read,
        kerberos_service=view.text("kerberos_service") or _KERBEROS_SERVICE[plugin],
        kerberos_hostname_override=view.text("kerberos_hostname") or None,
        send_cbt=_boolean(view, "send_cbt", default=True),
        path=_path(view),
    )


def _boolean(view: _Vars, what: str, *, default: bool) -> bool:
    """An Ansible boolean (yes/no, true/false, on/off, 1/0, any case)."""
    value = view.text(what)
    found = view.find(what)
    if value is None or found is None:
        return default
    if value.lower() not in _BOOLEANS:
        raise found[1].pos.error(f"{found[0]} must be true or false, not {value!r}")
    return _BOOLEANS[value.lower()]


# What ansible-core 2.15+ adds to ansible_winrm_connection_timeout for the read timeout.
_READ_MARGIN_S = 10.0
# URL paths are printable ASCII without spaces, queries or fragments (RFC 3986 3.3).
_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]{1,200}")
_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")


def _path(view: _Vars) -> str:
    """The WS-Management URL path: /wsman unless ansible_winrm_path or ansible_psrp_path
    says otherwise (a listener published under another path, e.g. behind a gateway)."""
    found = view.find("path")
    value = view.text("path")
    if found is None or value is None:
        return "wsman"
    path = value.strip("/")
    if not _PATH.fullmatch(path) or "//" in path:
        raise found[1].pos.error(f"{found[0]} must be a URL path such as /wsman, not {value!r}")
    return path


def _refuse_unsupported(view: _Vars) -> None:
    """Settings fleetlogoff cannot honour are errors, never silently dropped."""
    found = view.find("proxy")
    if found is not None and not is_null(found[1]) and view.text("proxy"):
        raise found[1].pos.error(
            f"host {view.host!r}: {found[0]}: fleetlogoff connects to hosts directly and "
            "does not use proxies; remove it, or leave this host out with --limit"
        )
    found = view.find("jea")
    if found is not None and (view.text("jea") or "").lower() != _DEFAULT_CONFIGURATION:
        raise found[1].pos.error(
            f"host {view.host!r}: {found[0]}: fleetlogoff runs quser and logoff in a cmd "
            "shell (WinRS), not in a PowerShell session configuration, so a JEA endpoint "
            "cannot apply; remove it, or leave this host out with --limit"
        )


def _plugin(host: str, merged: Mapping[str, Var], env: Mapping[str, str]) -> str:
    var = merged.get("ansible_connection")
    if var is None:
        return "winrm"
    node = resolve_template("ansible_connection", var.node, merged, env)
    _reject_unrenderable(host, "ansible_connection", node, hint="")
    value = expect_text(node, "ansible_connection").strip()
    plugin = _CONNECTIONS.get(value.lower())
    if plugin is None:
        raise node.pos.error(
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
    _reject_unrenderable(view.host, name, node, hint=f"; or set {env_name}")
    text = expect_text(node, f"host {view.host!r}: {name}")
    if isinstance(node, YamlScalar) and not isinstance(node.value, str) and str(node.value) != text:
        # `ansible_password: 012345` is the YAML 1.1 integer 5349, which Ansible would send
        # as "5349": a lockout waiting to happen. Never quote the value itself.
        raise node.pos.error(
            f"host {view.host!r}: {name} is not text in YAML ({type(node.value).__name__}), "
            "so Ansible would send another value than the one written: quote it"
        )
    return text


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
    defaults = _DEFAULTS
    both = view.seconds("both_timeouts")
    if both is not None:
        # ansible-core 2.15+ winrm: connection_timeout sets operation_timeout_sec = N and
        # read_timeout_sec = N + 10, over any value given for those two.
        return both, both + _READ_MARGIN_S
    operation = view.seconds("operation_timeout") or defaults.operation_timeout
    read = view.seconds("read_timeout") or defaults.read_timeout
    if read <= operation:
        found = view.find("read_timeout") or view.find("operation_timeout")
        where = found[1].pos if found else None
        reason = f"host {view.host!r}: read timeout {read:g}s must exceed operation {operation:g}s"
        raise where.error(reason) if where else ConfigError("", 0, 0, reason)
    return operation, read
