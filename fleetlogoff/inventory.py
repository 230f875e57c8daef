"""Ansible YAML inventories: groups, host ranges, variable precedence, WinRM connections,
credentials and the validated fleetlogoff_* settings of every host.

An inventory Ansible loads, loads here unchanged, with two deliberate differences: keys
other than hosts/children/vars in a group, and unknown or duplicate fleetlogoff_* settings,
are errors (Ansible warns), because this tool ends people's sessions. See docs/inventory.md.
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetlogoff.errors import ConfigError
from fleetlogoff.model import Connection, Host, Secret
from fleetlogoff.patterns import select_names
from fleetlogoff.rules import parse_rules
from fleetlogoff.windows import parse_windows
from fleetlogoff.yamlsource import (
    UNSAFE_TAG,
    YamlList,
    YamlMap,
    YamlNode,
    YamlScalar,
    describe,
    expect_int,
    expect_map,
    expect_text,
    expect_text_list,
    parse_yaml,
    reject_unknown_keys,
)

log = logging.getLogger(__name__)

GROUP_KEYS = ("hosts", "children", "vars")
_FIRST_BRACKET = re.compile(r"^(.*?)\[([^\[\]]*)\](.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Var:
    """One variable definition: where its key is, its node, and its validated setting."""

    key: YamlScalar
    node: YamlNode
    setting: object = None


@dataclass(frozen=True, slots=True)
class Inventory:
    """A loaded inventory.

    Attributes:
        hosts: every host, in the order the file first names them.
        groups: group name → names of its hosts (children's hosts included), inventory order.
        source: the file name.
        digest: sha256 (hex) of the file's bytes, recorded in plans and the audit log.
    """

    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]]
    source: str
    digest: str

    def select(self, pattern: str | None) -> tuple[Host, ...]:
        """Hosts matching an Ansible host pattern (None: all hosts).

        Raises:
            UsageError: a part of the pattern matches no host or group.
        """
        names = select_names(pattern, [h.name for h in self.hosts], self.groups)
        by_name = {h.name: h for h in self.hosts}
        return tuple(by_name[n] for n in names)


@dataclass(slots=True)
class _Group:
    name: str
    vars: dict[str, Var] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: set[str] = field(default_factory=set)


class _Builder:
    """Walks the YAML tree the way Ansible's yaml inventory plugin does."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.groups: dict[str, _Group] = {"all": _Group("all"), "ungrouped": _Group("ungrouped")}
        self.host_vars: dict[str, dict[str, Var]] = {}
        self.host_groups: dict[str, list[str]] = {}

    def add_group(self, name: str, node: YamlNode, parent: YamlScalar | None) -> None:
        group = self.groups.setdefault(name, _Group(name))
        if parent is not None:
            self._link(parent, name)
        if isinstance(node, YamlScalar) and node.value is None:
            return
        data = expect_map(node, f"group {name!r}")
        reject_unknown_keys(data, GROUP_KEYS, f"group {name!r}")
        for key, value in data:  # file order, so hosts keep the order the file gives them
            if key.text == "vars" and not _is_null(value):
                group.vars.update(self._read_vars(value, f"vars of group {name!r}"))
            elif key.text == "children":
                for child, child_node in _entries(value, f"children of group {name!r}"):
                    self.add_group(child.text, child_node, parent=_named(child, name))
            elif key.text == "hosts":
                for host, host_node in _entries(value, f"hosts of group {name!r}"):
                    self._add_hosts(name, host, host_node)

    def _link(self, parent: YamlScalar, child: str) -> None:
        if parent.text in self._descendants(child) or parent.text == child:
            raise parent.pos.error(
                f"group {child!r} under {parent.text!r} makes a loop of child groups"
            )
        if child not in self.groups[parent.text].children:
            self.groups[parent.text].children.append(child)
        self.groups[child].parents.add(parent.text)

    def _descendants(self, name: str) -> set[str]:
        found: set[str] = set()
        stack = [name]
        while stack:
            for child in self.groups[stack.pop()].children:
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def _add_hosts(self, group: str, key: YamlScalar, value: YamlNode) -> None:
        host_vars = {} if _is_null(value) else self._read_vars(value, f"host {key.text!r}")
        pattern, port = split_port(key.text)
        try:
            names = expand_host_range(pattern)
        except ValueError as exc:
            raise key.pos.error(f"host range {key.text!r}: {exc}") from None
        if port is not None:
            port_var = Var(key, YamlScalar(port, str(port), "tag:yaml.org,2002:int", key.pos))
            host_vars = {"ansible_port": port_var, **host_vars}
        for name in names:
            self.host_vars.setdefault(name, {}).update(host_vars)
            memberships = self.host_groups.setdefault(name, [])
            if group not in memberships:
                memberships.append(group)
            if name not in self.groups[group].hosts:
                self.groups[group].hosts.append(name)

    def _read_vars(self, node: YamlNode, what: str) -> dict[str, Var]:
        data = expect_map(node, what)
        result = {}
        for key, value in data:
            result[key.text] = Var(key, value, validate_setting(key, value))
        return result


def _is_null(node: YamlNode) -> bool:
    return isinstance(node, YamlScalar) and node.value is None


def _named(key: YamlScalar, parent: str) -> YamlScalar:
    """A scalar carrying the parent's name at the child's key position (for loop errors)."""
    return YamlScalar(parent, parent, key.tag, key.pos)


def _entries(node: YamlNode | None, what: str) -> tuple[tuple[YamlScalar, YamlNode], ...]:
    if node is None or _is_null(node):
        return ()
    if not isinstance(node, YamlMap):
        raise node.pos.error(
            f"{what} must be a mapping of names (`name:` on its own line), not {describe(node)}"
        )
    return node.entries


def split_port(pattern: str) -> tuple[str, int | None]:
    """`host:5986` → (`host`, 5986); ranges and IPv6 addresses keep their colons."""
    head, sep, tail = pattern.rpartition(":")
    outside_brackets = re.sub(r"\[[^\]]*\]", "", head)
    if not sep or not tail.isdigit() or ":" in outside_brackets or not head:
        return pattern, None
    return head, int(tail)


def expand_host_range(pattern: str) -> list[str]:
    """Expand Ansible host ranges: `rds[01:03]`, `db-[a:c]`, `web[1:9:2]`, nested.

    Raises:
        ValueError: malformed range (Ansible's rules: equal-width zero-padded bounds,
            begin <= end, single letters for alphabetic ranges).
    """
    match = _FIRST_BRACKET.match(pattern)
    if match is None or ":" not in match.group(2):
        return [pattern]
    head, spec, tail = match.groups()
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError("expected [begin:end] or [begin:end:step]")
    begin, end, step = parts[0] or "0", parts[1], parts[2] if len(parts) == 3 else "1"
    if not step.isdigit() or int(step) == 0:
        raise ValueError("the step must be a positive number")
    if not end:
        raise ValueError("the range has no end")
    items = _range_items(begin, end, int(step))
    return [f"{head}{item}{rest}" for item in items for rest in expand_host_range(tail)]


def _range_items(begin: str, end: str, step: int) -> list[str]:
    if begin.isdigit() and end.isdigit():
        if int(begin) > int(end):
            raise ValueError("the begin must not be after the end")
        if begin.startswith("0") and len(begin) > 1 and len(begin) != len(end):
            raise ValueError("zero-padded bounds must have the same width")
        width = len(begin) if begin.startswith("0") else 0
        return [str(i).zfill(width) for i in range(int(begin), int(end) + 1, step)]
    letters = string.ascii_letters
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise ValueError("the begin must not be after the end")
        return list(letters[first : last + 1 : step])
    raise ValueError("bounds must be two numbers or two single letters")


def parse_inventory(
    text: str,
    source: str,
    *,
    env: Mapping[str, str] | None = None,
    password: str | None = None,
    digest: str | None = None,
) -> Inventory:
    """Load an inventory from YAML text.

    Args:
        text: the YAML inventory.
        source: file name for positions.
        env: environment (FLEETLOGOFF_USERNAME / FLEETLOGOFF_PASSWORD); never os.environ.
        password: a password the caller asked for (--ask-pass), used last.
        digest: sha256 of the file bytes; computed from `text` (UTF-8) when not given.

    Raises:
        ConfigError: anything wrong in the file, with file:line:col.
    """
    root = parse_yaml(text, source)
    if root is None:
        raise ConfigError(source, 0, 0, "the inventory is empty")
    builder = _Builder(source)
    for key, value in expect_map(root, "an inventory"):
        builder.add_group(key.text, value, parent=None)
    _attach_to_all(builder)
    depths = _depths(builder.groups)
    hosts = tuple(
        _build_host(builder, name, depths, env or {}, password) for name in builder.host_vars
    )
    groups = {name: _group_hosts(builder, name, hosts) for name in builder.groups}
    checksum = digest or hashlib.sha256(text.encode("utf-8")).hexdigest()
    log.debug("inventory %s: %d hosts, %d groups", source, len(hosts), len(groups))
    return Inventory(hosts, groups, source, checksum)


def _attach_to_all(builder: _Builder) -> None:
    """Groups without a parent belong to `all`; hosts in no group to `ungrouped`."""
    for name, group in builder.groups.items():
        if name != "all" and not group.parents:
            builder.groups["all"].children.append(name)
            group.parents.add("all")
    for name, memberships in builder.host_groups.items():
        if all(g == "all" for g in memberships):
            memberships.append("ungrouped")
            builder.groups["ungrouped"].hosts.append(name)


def _depths(groups: Mapping[str, _Group]) -> dict[str, int]:
    """Longest distance from `all` (Ansible's Group.depth: deeper groups override)."""
    depths: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in depths:
            parents = groups[name].parents
            depths[name] = 0 if not parents else 1 + max(depth(p) for p in parents)
        return depths[name]

    for name in groups:
        depth(name)
    return depths


def _ancestors(builder: _Builder, direct: list[str]) -> set[str]:
    found = set(direct) | {"all"}
    stack = list(direct)
    while stack:
        for parent in builder.groups[stack.pop()].parents:
            if parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


def _build_host(
    builder: _Builder,
    name: str,
    depths: Mapping[str, int],
    env: Mapping[str, str],
    password: str | None,
) -> Host:
    groups = sorted(_ancestors(builder, builder.host_groups[name]), key=lambda g: (depths[g], g))
    merged: dict[str, Var] = {}
    for group in groups:  # all < parent < child; same depth: alphabetical, later wins
        merged.update(builder.groups[group].vars)
    merged.update(builder.host_vars[name])
    connection = resolve_connection(name, merged, env, password)
    settings = {k: v.setting for k, v in merged.items() if k.startswith("fleetlogoff_")}
    return Host(name, tuple(groups), connection, settings)


def _group_hosts(builder: _Builder, name: str, hosts: tuple[Host, ...]) -> tuple[str, ...]:
    return tuple(h.name for h in hosts if name in h.groups)


def load_inventory_file(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    password: str | None = None,
) -> Inventory:
    """Read and load an inventory file (see parse_inventory).

    Raises:
        ConfigError: unreadable file or invalid inventory.
    """
    try:
        data = Path(path).read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), 0, 0, f"cannot read inventory: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    return parse_inventory(text, str(path), env=env, password=password, digest=digest)


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
)
# Windows code page numbers are 16-bit (e.g. 437, 850, 65001 for UTF-8).
_MAX_CODEPAGE = 65535


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
    if _is_null(node):
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
