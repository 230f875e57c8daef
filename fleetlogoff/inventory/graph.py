"""Groups and hosts as Ansible's InventoryData keeps them (ansible-core 2.19,
lib/ansible/inventory/{data,group,host}.py): every source plugin fills one graph, in order.

What follows Ansible: `all` and `ungrouped` exist from the start; a group's depth is its
longest distance from `all` and orders variable precedence; `ansible_group_priority` set on a
group in an inventory source is its priority, not a variable; a host's port from `name:port`
counts only where the host is first defined; the hosts of a group are its own hosts, then
its children's, breadth first (Group.get_hosts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from fleetlogoff.inventory.addresses import expand_host_range
from fleetlogoff.yamlsource import Position, YamlNode, YamlScalar

# An inventory may name at most this many hosts (ten times the largest RDS farms we know
# of): past it, a typo in a range or a generated file is far likelier than a real fleet.
MAX_HOSTS = 100_000
PRIORITY_VAR = "ansible_group_priority"
_INTEGER = re.compile(r"\s*[-+]?[0-9]{1,9}\s*")


@dataclass(frozen=True, slots=True)
class Var:
    """One variable definition: where its key is, its node, and its validated setting."""

    key: YamlScalar
    node: YamlNode
    setting: object = None


def is_null(node: YamlNode) -> bool:
    """Whether a node is YAML's null (`key:` with nothing after it)."""
    return isinstance(node, YamlScalar) and node.value is None


@dataclass(slots=True)
class Group:
    """One group: its own variables, own hosts and child groups, in the order given."""

    name: str
    vars: dict[str, Var] = field(default_factory=dict)
    hosts: dict[str, None] = field(default_factory=dict)
    children: dict[str, None] = field(default_factory=dict)
    parents: dict[str, None] = field(default_factory=dict)
    priority: int = 1


@dataclass(slots=True)
class HostEntry:
    """One host: its own variables and the groups it was put in directly."""

    name: str
    vars: dict[str, Var] = field(default_factory=dict)
    groups: dict[str, None] = field(default_factory=dict)


class InventoryGraph:
    """The groups and hosts of every source read so far."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
        self.hosts: dict[str, HostEntry] = {}
        self._link("all", "ungrouped")

    def add_group(self, name: str, pos: Position) -> Group:
        """The group called `name`, created when new."""
        if not name:
            raise pos.error("a group needs a name")
        if name not in self.groups:
            self.groups[name] = Group(name)
        return self.groups[name]

    def add_host(self, name: str, group: str, port: Var | None, pos: Position) -> HostEntry:
        """Put a host in a group; `port` (from `name:port`) counts only for a new host."""
        if not name:
            raise pos.error("a host needs a name")
        host = self.hosts.get(name)
        if host is None:
            if len(self.hosts) >= MAX_HOSTS:
                raise pos.error(f"the inventory names more than {MAX_HOSTS:,} hosts")
            host = self.hosts[name] = HostEntry(name)
            if port is not None:
                host.vars["ansible_port"] = port
        self.groups[group].hosts[name] = None
        host.groups[group] = None
        return host

    def add_hosts(self, pattern: str, group: str, port: Var | None, pos: Position) -> list[str]:
        """Add every host a range pattern names; returns their names."""
        try:
            names = expand_host_range(pattern) if "[" in pattern else [pattern]
        except ValueError as exc:
            raise pos.error(f"host range {pattern!r}: {exc}") from None
        for name in names:
            self.add_host(name, group, port, pos)
        return names

    def add_child(self, parent: str, child: str, pos: Position) -> None:
        """Make `child` a group of `parent`; a loop of groups is an error."""
        if child == parent or parent in self.descendants(child):
            raise pos.error(f"group {child!r} under {parent!r} makes a loop of child groups")
        self._link(parent, child)

    def _link(self, parent: str, child: str) -> None:
        self.groups[parent].children[child] = None
        self.groups[child].parents[parent] = None

    def set_group_var(self, group: str, var: Var) -> None:
        """Set a group variable; ansible_group_priority sets the group's priority instead."""
        if var.key.text == PRIORITY_VAR:
            self.groups[group].priority = _priority(var)
        else:
            self.groups[group].vars[var.key.text] = var

    def descendants(self, name: str) -> set[str]:
        """Every group below `name`."""
        found: set[str] = set()
        stack = [name]
        while stack:
            for child in self.groups[stack.pop()].children:
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def reconcile(self) -> None:
        """After every source: groups without a parent go under `all`, hosts in no group
        but `all` into `ungrouped`, and out of `ungrouped` when they are in another group."""
        for name, group in self.groups.items():
            if name != "all" and not group.parents:
                self._link("all", name)
        ungrouped = self.groups["ungrouped"]
        for name, host in self.hosts.items():
            others = set(host.groups) - {"all", "ungrouped"}
            if others and "ungrouped" in host.groups:
                del host.groups["ungrouped"]
                ungrouped.hosts.pop(name, None)
            elif not others:
                host.groups["ungrouped"] = None
                ungrouped.hosts[name] = None

    def depths(self) -> dict[str, int]:
        """Each group's longest distance from `all` (Ansible's Group.depth)."""
        depths: dict[str, int] = {"all": 0}
        order = self._parents_first()
        for name in order:
            parents = self.groups[name].parents
            if parents:
                depths[name] = 1 + max(depths[p] for p in parents)
            else:
                depths.setdefault(name, 0)
        return depths

    def _parents_first(self) -> list[str]:
        """Groups ordered so that every parent comes before its children."""
        pending = {name: len(group.parents) for name, group in self.groups.items()}
        ready = [name for name, count in pending.items() if count == 0]
        order: list[str] = []
        while ready:
            name = ready.pop()
            order.append(name)
            for child in self.groups[name].children:
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)
        return order

    def group_hosts(self, name: str) -> list[str]:
        """A group's hosts in Ansible's order: its own, then its children's, breadth first.

        Ansible walks each level below the first through a set, so the order of hosts that
        only a grandchild group brings is not fixed there; here it follows the file.
        """
        seen: dict[str, None] = {}
        for group in self._breadth_first(name):
            for host in self.groups[group].hosts:
                seen.setdefault(host, None)
        return list(seen)

    def _breadth_first(self, name: str) -> Iterator[str]:
        visited = {name}
        level = [name]
        while level:
            yield from level
            following: list[str] = []
            for group in level:
                for child in self.groups[group].children:
                    if child not in visited:
                        visited.add(child)
                        following.append(child)
            level = following

    def host_groups(self, name: str) -> set[str]:
        """Every group of a host: the groups it is in and all their ancestors."""
        found = set(self.hosts[name].groups)
        stack = list(found)
        while stack:
            for parent in self.groups[stack.pop()].parents:
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        found.add("all")
        return found


def _priority(var: Var) -> int:
    node = var.node
    text = node.text if isinstance(node, YamlScalar) else ""
    if isinstance(node, YamlScalar) and isinstance(node.value, bool):
        text = ""  # Ansible's int(True) is 1; a priority written `true` is a mistake
    if not _INTEGER.fullmatch(text):
        raise node.pos.error(f"{PRIORITY_VAR} must be a whole number")
    return int(text)
