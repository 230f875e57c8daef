"""Ansible inventories, read as Ansible reads them: sources (YAML, INI, directories, host
lists, scripts and plugins), Ansible Vault, host variables and connections, host patterns.

The pure modules parse text into an Inventory; `files` (reading sources from disk) is the
I/O layer above them. See docs/inventory.md for what differs from Ansible on purpose."""

from __future__ import annotations

from fleetlogoff.inventory.addresses import expand_host_range
from fleetlogoff.inventory.resolve import Inventory
from fleetlogoff.inventory.sources import parse_inventory

__all__ = ["Inventory", "expand_host_range", "parse_inventory"]
