"""INI inventories, read with the semantics of Ansible's ini inventory plugin (ansible-core
2.19, lib/ansible/plugins/inventory/ini.py):

* Lines before the first section are hosts of `ungrouped`; `[g]` lists hosts,
  `[g:vars]` sets variables, `[g:children]` names child groups, which may be declared
  further down (an undeclared one is an error at the end, as in Ansible).
* A host line is split like a shell line (quotes, backslashes, `#` comments):
  `name[:port] key=value ...`. A `[g:vars]` line is `key = value`, the rest of the line.
* Values are typed as Python literals where they are one (`5986` an int, `True` a bool,
  `[1, 2]` a list, `'x'` a string), else kept as text, exactly as Ansible types them.
* Lines starting with `#` or `;` are comments.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from dataclasses import dataclass

from fleetlogoff.inventory.addresses import host_and_port
from fleetlogoff.inventory.graph import InventoryGraph, Var
from fleetlogoff.inventory.settings import read_vars
from fleetlogoff.inventory.vault import Keyring
from fleetlogoff.yamlsource import (
    Position,
    YamlList,
    YamlMap,
    YamlNode,
    YamlScalar,
    from_plain,
)

_SECTION = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?")
_GROUP_NAME = re.compile(r"([^:\]\s]+)\s*(?:#.*)?")
_COMMENT = ("#", ";")
_TAG = "tag:yaml.org,2002:"
# Python literals nest; past this many brackets a value is far from any real inventory
# (and ast would spend its recursion on it). Such a value stays text, as in Ansible.
_MAX_LITERAL = 64 * 1024


@dataclass(slots=True)
class _Pending:
    """A group named in a [parent:children] or [group:vars] before it was declared."""

    pos: Position
    state: str
    parents: list[str]


def looks_like_ini(text: str) -> bool:
    """Whether the first meaningful line is an INI section header."""
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in _COMMENT:
            return _SECTION.fullmatch(line) is not None
    return False


def read_ini_inventory(text: str, source: str, graph: InventoryGraph, keyring: Keyring) -> None:
    """Add the groups, hosts and variables of an INI inventory to `graph`.

    Raises:
        ConfigError: anything Ansible's ini plugin refuses, with file:line:col.
    """
    reader = _Reader(source, graph, keyring)
    for number, raw in enumerate(text.splitlines(), start=1):
        reader.line(raw, number)
    reader.finish()


class _Reader:
    def __init__(self, source: str, graph: InventoryGraph, keyring: Keyring) -> None:
        self.source = source
        self.graph = graph
        self.keyring = keyring
        self.group = "ungrouped"
        self.state = "hosts"
        self.pending: dict[str, _Pending] = {}

    def line(self, raw: str, number: int) -> None:
        line = raw.strip()
        if not line or line[0] in _COMMENT:
            return
        pos = Position(self.source, number, len(raw) - len(raw.lstrip()) + 1)
        section = _SECTION.fullmatch(line)
        if section is not None:
            self._section(section.group(1), section.group(2) or "hosts", pos)
        elif line.startswith("[") and line.endswith("]"):
            raise pos.error(f"invalid section {line!r}: no spaces or other characters allowed")
        elif self.state == "hosts":
            self._hosts(raw, pos)
        elif self.state == "vars":
            self._var(raw, pos)
        else:
            self._child(line, pos)

    def _section(self, name: str, state: str, pos: Position) -> None:
        if state not in ("hosts", "children", "vars"):
            raise pos.error(f"section [{name}:{state}] has an unknown type {state!r}")
        self.group, self.state = name, state
        if name not in self.graph.groups:
            # [g] and [g:children] declare a group; [g:vars] alone does not.
            if state == "vars" and name not in self.pending:
                self.pending[name] = _Pending(pos, state, [])
            self.graph.add_group(name, pos)
        pending = self.pending.get(name)
        if pending is not None and state != "vars":
            if pending.state == "children":
                self._declare(name, pos)
            else:
                del self.pending[name]

    def _declare(self, name: str, pos: Position) -> None:
        """A group named earlier as a child is now declared: link it to its parents."""
        pending = self.pending.pop(name)
        for parent in pending.parents:
            self.graph.add_child(parent, name, pos)
            waiting = self.pending.get(parent)
            if waiting is not None and waiting.state == "children":
                self._declare(parent, pos)

    def _hosts(self, raw: str, pos: Position) -> None:
        try:
            tokens = shlex.split(raw, comments=True)
        except ValueError as exc:
            raise pos.error(f"cannot split the host line: {exc}") from None
        if not tokens:
            return
        pattern = tokens[0]
        name, port = host_and_port(pattern)
        if pattern.strip().endswith(":") and port is None:
            raise pos.error(f"host {pattern!r} ends in ':', which is reserved for a port")
        if name.strip() == "---":
            raise pos.error("a host named '---': this looks like a YAML file")
        entries = []
        for number, token in enumerate(tokens[1:], start=2):
            key, sep, value = token.partition("=")
            if not sep:
                # Never quote the token: `ansible_password= x` makes the password one.
                raise pos.error(f"expected key=value after the host name (word {number})")
            key_pos = Position(self.source, pos.line, _column(raw, key + "=", pos.column))
            entries.append((_key(key, key_pos), typed_value(value, key_pos)))
        variables = read_vars(YamlMap(tuple(entries), pos), f"host {name!r}", self.keyring)
        port_var = None
        if port is not None:
            port_node = YamlScalar(port, str(port), _TAG + "int", pos)
            port_var = Var(_key("ansible_port", pos), port_node)
        for host in self.graph.add_hosts(name, self.group, port_var, pos):
            self.graph.hosts[host].vars.update(variables)

    def _var(self, raw: str, pos: Position) -> None:
        key, sep, value = raw.strip().partition("=")
        if not sep:
            raise pos.error(f"expected key=value in [{self.group}:vars] (no '=' on this line)")
        value_pos = Position(self.source, pos.line, raw.find("=") + 2)
        entry = (_key(key.strip(), pos), typed_value(value.strip(), value_pos))
        variables = read_vars(YamlMap((entry,), pos), f"vars of {self.group!r}", self.keyring)
        for var in variables.values():
            self.graph.set_group_var(self.group, var)

    def _child(self, line: str, pos: Position) -> None:
        match = _GROUP_NAME.fullmatch(line)
        if match is None or "=" in line:
            raise pos.error(f"expected one group name a line in [{self.group}:children]")
        child = match.group(1)
        if child in self.graph.groups:
            self.graph.add_child(self.group, child, pos)
        elif child in self.pending:
            self.pending[child].parents.append(self.group)
        else:
            self.pending[child] = _Pending(pos, "children", [self.group])

    def finish(self) -> None:
        for name, pending in self.pending.items():
            if pending.state == "vars":
                raise pending.pos.error(f"section [{name}:vars] is for a group never declared")
            raise pending.pos.error(
                f"section [{pending.parents[-1]}:children] names {name!r}, a group never declared"
            )


def _column(raw: str, text: str, fallback: int) -> int:
    """Where `text` starts in the raw line (1-based), or the fallback when quoting
    changed it; the host name is skipped so `h1 h1=...` points at the variable."""
    start = raw.find(" ", raw.find(raw.lstrip()[:1]))
    found = raw.find(text, max(start, 0))
    return found + 1 if found >= 0 else fallback


def _key(text: str, pos: Position) -> YamlScalar:
    if not text:
        raise pos.error("a variable needs a name before '='")
    return YamlScalar(text, text, _TAG + "str", pos)


def typed_value(text: str, pos: Position) -> YamlNode:
    """A value typed as Ansible's ini plugin types it: a Python literal when it is one
    (lists become lists, tuples and sets too; bytes become text), else the text."""
    value: object = text
    if len(text) <= _MAX_LITERAL:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes in strings warn
                value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = text
    return _node(value, pos)


def _node(value: object, pos: Position) -> YamlNode:
    """Ansible's coercion of a literal: `...` and complex numbers back to text, bytes
    decoded, tuples and sets as lists."""
    if value is ...:
        value = "..."
    elif isinstance(value, complex):
        value = str(value)
    elif isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, list | tuple | set | frozenset):
        return YamlList(tuple(_node(item, pos) for item in value), pos)
    if isinstance(value, dict):
        entries = tuple((_scalar(str(k), pos), _node(v, pos)) for k, v in value.items())
        return YamlMap(entries, pos)
    return from_plain(value, pos)


def _scalar(text: str, pos: Position) -> YamlScalar:
    return YamlScalar(text, text, _TAG + "str", pos)
