"""Inventory values as plain data, the way `ansible-inventory --list` prints them (shared by
the unit tests and the parity comparison with ansible-core)."""

from __future__ import annotations

import datetime
from typing import Any

from fleetlogoff.inventory.resolve import Inventory
from fleetlogoff.yamlsource import YamlList, YamlMap, YamlNode


def plain(node: YamlNode) -> Any:
    """A node as ansible-inventory's JSON shows the value (vault and unsafe markers too)."""
    if isinstance(node, YamlMap):
        return {k.text: plain(v) for k, v in node}
    if isinstance(node, YamlList):
        return [plain(item) for item in node.items]
    if node.tag == "!vault":
        return {"__ansible_vault": node.text}
    if node.tag == "!unsafe":
        return {"__ansible_unsafe": node.text}
    if isinstance(node.value, datetime.datetime | datetime.date):
        return node.value.isoformat()
    if isinstance(node.value, bytes):
        return node.value.decode("utf-8", "replace")
    return node.value


def values(inventory: Inventory, host: str) -> dict[str, Any]:
    """Every variable of a host, merged, as plain data."""
    return {k: plain(v.node) for k, v in inventory.variables(host).items()}
