"""Reading an inventory from disk: the file itself and the group_vars/ and host_vars/
directories beside it. The only file I/O of the inventory; parsing is inventory.py's."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.yaml_plugin import Inventory, VarFile, parse_inventory

log = logging.getLogger(__name__)


def load_inventory_file(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    password: str | None = None,
) -> Inventory:
    """Read and load an inventory file, with the group_vars/ and host_vars/ directories
    beside it (see parse_inventory). The digest covers all of them: a plan made before a
    group_vars edit no longer matches.

    Raises:
        ConfigError: unreadable file or invalid inventory.
    """
    path = Path(path)
    data = _read_bytes(path, "inventory")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), 0, 0, f"cannot read inventory: {exc}") from None
    checksum = hashlib.sha256(data)
    var_files = []
    for kind, name, file in _var_file_paths(path.parent):
        raw = _read_bytes(file, f"{kind}_vars file")
        checksum.update(f"\0{file.relative_to(path.parent)}\0".encode() + raw)
        if raw.lstrip().startswith(b"$ANSIBLE_VAULT"):
            log.warning("%s: vault-encrypted, not read (use FLEETLOGOFF_PASSWORD)", file)
            continue
        var_files.append(VarFile(kind, name, str(file), raw.decode("utf-8-sig", "replace")))
    return parse_inventory(
        text,
        str(path),
        env=env,
        password=password,
        digest=checksum.hexdigest(),
        var_files=var_files,
    )


_VAR_SUFFIXES = ("", ".yml", ".yaml", ".json")


def _var_file_paths(directory: Path) -> list[tuple[Literal["group", "host"], str, Path]]:
    """group_vars/NAME[.yml|.yaml|.json] or group_vars/NAME/*, the same for host_vars,
    in a stable order (Ansible reads a directory's files sorted by name)."""
    found: list[tuple[Literal["group", "host"], str, Path]] = []
    for kind in ("group", "host"):
        base = directory / f"{kind}_vars"
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                files = sorted(
                    f for f in entry.iterdir() if f.is_file() and f.suffix in _VAR_SUFFIXES
                )
                found += [(kind, entry.name, f) for f in files if not f.name.startswith(".")]
            elif entry.suffix in _VAR_SUFFIXES:
                found.append((kind, entry.name.removesuffix(entry.suffix), entry))
    return found


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), 0, 0, f"cannot read {what}: {exc.strerror}") from None
