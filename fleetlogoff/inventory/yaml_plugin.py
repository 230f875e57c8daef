"""YAML inventories, walked the way Ansible's yaml inventory plugin walks them (ansible-core
2.19, lib/ansible/plugins/inventory/yaml.py): top-level keys are groups; each group has
`hosts`, `children` and `vars`, each a mapping or a single name; host keys may carry
`:port` and ranges.

Stricter than Ansible, on purpose (it warns and skips; a skipped `vars:` may hold
protections): any other key in a group, a group or host entry that is not a mapping, and a
name that is not a string are errors with file:line:col.
"""

from __future__ import annotations

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.addresses import host_and_port
from fleetlogoff.inventory.graph import InventoryGraph, Var, is_null
from fleetlogoff.inventory.settings import read_vars
from fleetlogoff.inventory.vault import Keyring
from fleetlogoff.yamlsource import YamlMap, YamlNode, YamlScalar, describe, reject_unknown_keys

GROUP_KEYS = ("hosts", "children", "vars")
_INT_TAG = "tag:yaml.org,2002:int"


def is_plugin_config(root: YamlNode | None) -> bool:
    """A YAML file whose top level has a `plugin: NAME` key configures an inventory plugin
    (Ansible's auto plugin), it is not a YAML inventory. (A group called `plugin` is read
    as a group; Ansible can read it in neither way.)"""
    plugin = root.get("plugin") if isinstance(root, YamlMap) else None
    return isinstance(plugin, YamlScalar) and isinstance(plugin.value, str) and bool(plugin.text)


def read_yaml_inventory(
    root: YamlNode | None, source: str, graph: InventoryGraph, keyring: Keyring
) -> None:
    """Add the groups, hosts and variables of a parsed YAML inventory to `graph`.

    Raises:
        ConfigError: anything wrong, with file:line:col.
    """
    if root is None or is_null(root):
        raise ConfigError(source, 0, 0, "the inventory is empty")
    if not isinstance(root, YamlMap):
        raise root.pos.error(f"an inventory must be a mapping of groups, not {describe(root)}")
    walker = _Walker(graph, keyring)
    for key, value in root:
        walker.group(key, value)


class _Walker:
    def __init__(self, graph: InventoryGraph, keyring: Keyring) -> None:
        self.graph = graph
        self.keyring = keyring

    def group(self, key: YamlScalar, node: YamlNode) -> str:
        name = _name(key, "group")
        self.graph.add_group(name, key.pos)
        if is_null(node):
            return name
        if not isinstance(node, YamlMap):
            raise node.pos.error(
                f"group {name!r} must be a mapping with hosts/children/vars, not {describe(node)}"
            )
        reject_unknown_keys(node, GROUP_KEYS, f"group {name!r}")
        for section, value in node:  # file order: hosts keep the order the file gives
            for entry, entry_node in _section(value, f"{section.text} of group {name!r}"):
                if section.text == "vars":
                    self.graph.set_group_var(name, self._var(entry, entry_node))
                elif section.text == "children":
                    child = self.group(entry, entry_node)
                    self.graph.add_child(name, child, entry.pos)
                else:
                    self.hosts(name, entry, entry_node)
        return name

    def hosts(self, group: str, key: YamlScalar, node: YamlNode) -> None:
        pattern, port = host_and_port(_name(key, "host"))
        variables: list[Var] = []
        if not is_null(node):
            variables = list(read_vars(node, f"host {key.text!r}", self.keyring).values())
        port_var = None
        if port is not None:
            port_node = YamlScalar(port, str(port), _INT_TAG, key.pos)
            port_var = Var(YamlScalar("ansible_port", "ansible_port", key.tag, key.pos), port_node)
        for name in self.graph.add_hosts(pattern, group, port_var, key.pos):
            self.graph.hosts[name].vars.update({v.key.text: v for v in variables})

    def _var(self, key: YamlScalar, node: YamlNode) -> Var:
        return read_vars(YamlMap(((key, node),), key.pos), "vars", self.keyring)[key.text]


def _section(node: YamlNode, what: str) -> tuple[tuple[YamlScalar, YamlNode], ...]:
    """A section's entries; a single name stands for `{name: null}`, as in Ansible."""
    if is_null(node):
        return ()
    if isinstance(node, YamlScalar):
        return ((node, YamlScalar(None, "", "tag:yaml.org,2002:null", node.pos)),)
    if not isinstance(node, YamlMap):
        raise node.pos.error(
            f"{what} must be a mapping of names (`name:` on its own line), not {describe(node)}"
        )
    return node.entries


def _name(key: YamlScalar, what: str) -> str:
    if not isinstance(key.value, str):
        raise key.pos.error(
            f"a {what} name must be text, not {describe(key)} (quote it, as Ansible requires)"
        )
    return key.text
