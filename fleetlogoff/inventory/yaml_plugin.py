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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.hostvars import Var, is_null, resolve_connection, validate_setting
from fleetlogoff.inventory.patterns import select_names
from fleetlogoff.model import Host
from fleetlogoff.yamlsource import (
    YamlMap,
    YamlNode,
    YamlScalar,
    describe,
    expect_map,
    parse_yaml,
    reject_unknown_keys,
)

log = logging.getLogger(__name__)

GROUP_KEYS = ("hosts", "children", "vars")
_FIRST_BRACKET = re.compile(r"^(.*?)\[([^\[\]]*)\](.*)$", re.DOTALL)


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
    unusable: Mapping[str, ConfigError] = field(default_factory=dict)

    def select(self, pattern: str | None) -> tuple[Host, ...]:
        """Hosts matching an Ansible host pattern (None: all hosts).

        Raises:
            UsageError: a part of the pattern matches no host or group.
            ConfigError: a selected host cannot be reached over WinRM as written (its
                connection variables are wrong, or it is an ssh host of a mixed inventory).
        """
        names = select_names(pattern, self.names, self.groups)
        for name in names:
            if name in self.unusable:
                raise self.unusable[name]
        by_name = {h.name: h for h in self.hosts}
        return tuple(by_name[n] for n in names)

    @property
    def names(self) -> list[str]:
        """Every host name, usable or not, in inventory order."""
        return list(self._order)

    @property
    def _order(self) -> tuple[str, ...]:
        ordered = {h.name: None for h in self.hosts} | dict.fromkeys(self.unusable)
        return tuple(ordered)


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
            if key.text == "vars" and not is_null(value):
                group.vars.update(self.read_vars(value, f"vars of group {name!r}"))
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
        host_vars = {} if is_null(value) else self.read_vars(value, f"host {key.text!r}")
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

    def read_vars(self, node: YamlNode, what: str) -> dict[str, Var]:
        data = expect_map(node, what)
        result = {}
        for key, value in data:
            result[key.text] = Var(key, value, validate_setting(key, value))
        return result


def _named(key: YamlScalar, parent: str) -> YamlScalar:
    """A scalar carrying the parent's name at the child's key position (for loop errors)."""
    return YamlScalar(parent, parent, key.tag, key.pos)


def _entries(node: YamlNode | None, what: str) -> tuple[tuple[YamlScalar, YamlNode], ...]:
    if node is None or is_null(node):
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
    var_files: Sequence[VarFile] = (),
) -> Inventory:
    """Load an inventory from YAML text.

    Args:
        text: the YAML inventory.
        source: file name for positions.
        env: environment (FLEETLOGOFF_USERNAME / FLEETLOGOFF_PASSWORD); never os.environ.
        password: a password the caller asked for (--ask-pass), used last.
        digest: sha256 of the file bytes; computed from `text` (UTF-8) when not given.
        var_files: group_vars/ and host_vars/ files beside the inventory; as in Ansible
            they override the inventory's own vars for that group or host.

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
    for var_file in var_files:
        _apply_var_file(builder, var_file)
    depths = _depths(builder.groups)
    built: list[Host] = []
    unusable: dict[str, ConfigError] = {}
    memberships: dict[str, tuple[str, ...]] = {}
    for name in builder.host_vars:
        memberships[name] = _groups_of(builder, name, depths)
        try:
            built.append(_build_host(builder, name, memberships[name], env or {}, password))
        except ConfigError as exc:
            # An existing Ansible inventory may mix ssh and WinRM hosts: a host that
            # cannot be used is an error only when a run selects it.
            unusable[name] = exc
    groups = {
        group: tuple(n for n in builder.host_vars if group in memberships[n])
        for group in builder.groups
    }
    checksum = digest or hashlib.sha256(text.encode("utf-8")).hexdigest()
    log.debug("inventory %s: %d hosts, %d groups", source, len(built), len(groups))
    return Inventory(tuple(built), groups, source, checksum, unusable)


@dataclass(frozen=True, slots=True)
class VarFile:
    """One group_vars/ or host_vars/ file: whose vars, and its YAML text."""

    kind: Literal["group", "host"]
    name: str
    source: str
    text: str


def _apply_var_file(builder: _Builder, var_file: VarFile) -> None:
    root = parse_yaml(var_file.text, var_file.source)
    if root is None or is_null(root):
        return
    found = builder.read_vars(root, f"{var_file.kind}_vars of {var_file.name!r}")
    if var_file.kind == "group" and var_file.name in builder.groups:
        builder.groups[var_file.name].vars.update(found)
    elif var_file.kind == "host" and var_file.name in builder.host_vars:
        builder.host_vars[var_file.name].update(found)
    # Files for groups or hosts this inventory does not have are ignored, as Ansible does.


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


def _groups_of(builder: _Builder, name: str, depths: Mapping[str, int]) -> tuple[str, ...]:
    """Every group of a host, in variable precedence order (all first)."""
    ancestors = _ancestors(builder, builder.host_groups[name])
    return tuple(sorted(ancestors, key=lambda g: (depths[g], g)))


def _build_host(
    builder: _Builder,
    name: str,
    groups: tuple[str, ...],
    env: Mapping[str, str],
    password: str | None,
) -> Host:
    merged: dict[str, Var] = {}
    for group in groups:  # all < parent < child; same depth: alphabetical, later wins
        merged.update(builder.groups[group].vars)
    merged.update(builder.host_vars[name])
    connection = resolve_connection(name, merged, env, password)
    settings = {k: v.setting for k, v in merged.items() if k.startswith("fleetlogoff_")}
    return Host(name, tuple(groups), connection, settings)
