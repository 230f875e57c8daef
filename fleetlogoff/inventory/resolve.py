"""From the graph of every source to the hosts of a run: each host's variables merged in
Ansible's precedence (VariableManager.get_vars with the default VARIABLE_PRECEDENCE), its
connection resolved, its fleetlogoff_* settings collected.

Precedence, lowest first: the inventory's own `all` vars; its other group vars, groups
ordered by depth, then ansible_group_priority, then name; group_vars/all files; other
group_vars files (same order); the inventory's host vars; host_vars files. So a
group_vars file beats every group var written in an inventory, a child group's included.
With several sources, files are taken source by source, in the order given.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.graph import InventoryGraph, Var
from fleetlogoff.inventory.hostvars import (
    connection_var_names,
    referenced_names,
    resolve_connection,
)
from fleetlogoff.inventory.patterns import select_names
from fleetlogoff.inventory.settings import read_vars
from fleetlogoff.inventory.vault import Keyring, open_value
from fleetlogoff.model import Host
from fleetlogoff.yamlsource import YamlList, YamlMap, YamlNode, parse_yaml

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inventory:
    """A loaded inventory.

    Attributes:
        hosts: every usable host, in Ansible's order of the `all` group.
        groups: group name → its hosts (children's included), in Ansible's order.
        source: the source (one path), or the sources as a JSON list (see sources.py).
        digest: sha256 (hex) of every file read, recorded in plans and the audit log.
        unusable: hosts whose connection variables cannot be used, with the error that
            a run selecting them gets.
    """

    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]]
    source: str
    digest: str
    unusable: Mapping[str, ConfigError] = field(default_factory=dict)
    _graph: InventoryGraph | None = field(default=None, repr=False, compare=False)
    _layers: Sequence[VarLayer] = field(default=(), repr=False, compare=False)

    def select(self, pattern: str | Sequence[str] | None) -> tuple[Host, ...]:
        """Hosts matching an Ansible host pattern (None: all hosts), in `all` order; a
        sequence is a pattern's parts already split (a limit file's lines).

        Raises:
            UsageError: the pattern is malformed or a part of it matches nothing.
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
        """Every host name, usable or not, in Ansible's order of `all`."""
        return list(self.groups.get("all", ()))

    def variables(self, name: str) -> dict[str, Var]:
        """Every variable of a host, merged in Ansible's precedence (as
        `ansible-inventory --list` shows them), `!vault` values still encrypted."""
        if self._graph is None or name not in self._graph.hosts:
            raise KeyError(name)
        order = _precedence_order(self._graph)
        groups = sorted(self._graph.host_groups(name), key=order.__getitem__)
        return _merged_vars(self._graph, self._layers, name, groups)


@dataclass(frozen=True, slots=True)
class VarFile:
    """One group_vars/ or host_vars/ file: whose vars, and its YAML (or JSON) text."""

    kind: Literal["group", "host"]
    name: str
    source: str
    text: str


@dataclass(frozen=True, slots=True)
class VarLayer:
    """The group_vars/ and host_vars/ variables beside one inventory source."""

    groups: Mapping[str, Mapping[str, Var]]
    hosts: Mapping[str, Mapping[str, Var]]


def read_var_layer(files: Sequence[VarFile], keyring: Keyring) -> VarLayer:
    """Parse the var files of one source; a name's files merge in the order given.

    Raises:
        ConfigError: a file that is not a mapping of variables, or a bad setting in it.
    """
    layer: dict[str, dict[str, dict[str, Var]]] = {"group": {}, "host": {}}
    for var_file in files:
        root = parse_yaml(var_file.text, var_file.source)
        if root is None or _empty(root):
            continue  # Ansible ignores empty files (any value that is false, in fact)
        found = read_vars(root, f"{var_file.kind}_vars of {var_file.name!r}", keyring)
        layer[var_file.kind].setdefault(var_file.name, {}).update(found)
    return VarLayer(layer["group"], layer["host"])


def _empty(root: YamlNode) -> bool:
    if isinstance(root, YamlMap):
        return not root.entries
    if isinstance(root, YamlList):
        return not root.items
    return not root.value


def build_inventory(
    graph: InventoryGraph,
    layers: Sequence[VarLayer] = (),
    *,
    source: str,
    digest: str,
    env: Mapping[str, str] | None = None,
    password: str | None = None,
    keyring: Keyring | None = None,
) -> Inventory:
    """The Inventory of a reconciled graph and the var files of its sources.

    Args:
        graph: every source read, reconciled.
        layers: the var files of each source, in source order.
        source: how the inventory is named in plans and messages.
        digest: sha256 of every file read.
        env: environment (FLEETLOGOFF_USERNAME / FLEETLOGOFF_PASSWORD); never os.environ.
        password: a password the caller asked for (--ask-pass), used last.
        keyring: vault passwords for `!vault` connection variables.
    """
    keyring = keyring if keyring is not None else Keyring()
    order = _precedence_order(graph)
    built: list[Host] = []
    unusable: dict[str, ConfigError] = {}
    groups = {name: tuple(graph.group_hosts(name)) for name in graph.groups}
    for name in groups["all"]:
        host_groups = sorted(graph.host_groups(name), key=order.__getitem__)
        merged = _merged_vars(graph, layers, name, host_groups)
        try:
            built.append(
                _build_host(name, tuple(host_groups), merged, env or {}, password, keyring)
            )
        except ConfigError as exc:
            # An existing Ansible inventory may mix ssh and WinRM hosts: a host that
            # cannot be used is an error only when a run selects it.
            unusable[name] = exc
    _warn_shared_names(graph)
    log.debug("inventory %s: %d hosts, %d groups", source, len(built), len(groups))
    return Inventory(tuple(built), groups, source, digest, unusable, graph, tuple(layers))


def _precedence_order(graph: InventoryGraph) -> dict[str, int]:
    """Each group's rank in variable precedence: `all` first, then by (depth, priority,
    name), as Ansible's sort_groups orders them; later ranks win."""
    depths = graph.depths()
    ranked = sorted(graph.groups, key=lambda g: (depths[g], graph.groups[g].priority, g))
    ranked.remove("all")
    return {name: rank for rank, name in enumerate(["all", *ranked])}


def _merged_vars(
    graph: InventoryGraph, layers: Sequence[VarLayer], host: str, groups: list[str]
) -> dict[str, Var]:
    merged: dict[str, Var] = {}
    for group in groups:  # `all` first: all_inventory, then groups_inventory
        merged.update(graph.groups[group].vars)
    for layer in layers:  # all_plugins_inventory
        merged.update(layer.groups.get("all", {}))
    for layer in layers:  # groups_plugins_inventory
        for group in groups[1:]:
            merged.update(layer.groups.get(group, {}))
    merged.update(graph.hosts[host].vars)
    for layer in layers:  # host_vars files
        merged.update(layer.hosts.get(host, {}))
    return merged


def _build_host(
    name: str,
    groups: tuple[str, ...],
    merged: dict[str, Var],
    env: Mapping[str, str],
    password: str | None,
    keyring: Keyring,
) -> Host:
    names = connection_var_names()
    for var_name in (names & merged.keys()) | referenced_names(names, merged):
        var = merged[var_name]
        opened = open_value(var.node, keyring, f"host {name!r}: {var_name}")
        if opened is not var.node:
            merged[var_name] = Var(var.key, opened, var.setting)
    connection = resolve_connection(name, merged, env, password)
    settings = {k: v.setting for k, v in merged.items() if k.startswith("fleetlogoff_")}
    return Host(name, groups, connection, settings)


def _warn_shared_names(graph: InventoryGraph) -> None:
    for name in graph.groups.keys() & graph.hosts.keys():
        # Ansible warns too; a plain `--limit NAME` means the host, `&NAME`/`!NAME` the group.
        log.warning("inventory: %r is both a host and a group", name)


def text_digest(text: str) -> str:
    """sha256 (hex) of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
