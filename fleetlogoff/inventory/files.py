"""Reading inventory sources from disk, as Ansible's InventoryManager does: each `-i` source
in order (a file, a directory of inventories, an `h1,h2,` list) into one graph, then the
group_vars/ and host_vars/ files beside each source (Ansible's host_group_vars plugin),
vault-encrypted files decrypted. The only file I/O of the inventory package; parsing is the
pure modules'. When a source is a script or a plugin configuration, which only ansible-core
can read, every source is read by ansible-inventory instead (ansible_cli.py).

Stricter than Ansible, on purpose: a file in an inventory directory that no plugin can read
is an error (Ansible warns and goes on without it), as is a vault-encrypted file no given
password opens: either may hold protections.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.input_file import read_bounded
from fleetlogoff.inventory.ansible_cli import run_ansible_inventory
from fleetlogoff.inventory.graph import InventoryGraph
from fleetlogoff.inventory.patterns import split_pattern
from fleetlogoff.inventory.resolve import (
    Inventory,
    VarFile,
    VarLayer,
    build_inventory,
    read_var_layer,
)
from fleetlogoff.inventory.sources import (
    Needs,
    is_host_list,
    load_json,
    read_host_list,
    read_inventory_json,
    read_text_source,
)
from fleetlogoff.inventory.vault import Keyring, VaultError, is_vault_text
from fleetlogoff.yamlsource import MAX_TEXT, UTF16_HINT, is_utf16, read_config_bytes

log = logging.getLogger(__name__)

# Ansible's directory rules (ansible-core 2.19: inventory/manager.py IGNORED, and
# config/base.yml INVENTORY_IGNORE_EXTS = REJECT_EXTS + .orig, .cfg, .retry).
_IGNORED_NAMES = re.compile(r"^\.|^host_vars$|^group_vars$|^vars_plugins$")
_IGNORED_SUFFIXES = (
    *(".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst"),
    *(".orig", ".cfg", ".retry"),
)
_VAR_SUFFIXES = ("", ".yml", ".yaml", ".json")  # Ansible's find_vars_files order
MAX_FILE_BYTES = MAX_TEXT  # the same bound as the YAML reader's (read_config_bytes)


def join_sources(sources: Sequence[str]) -> str:
    """How several sources are named in one string (plans keep one string): one source
    as it is, several as a JSON list."""
    return sources[0] if len(sources) == 1 else json.dumps(list(sources))


def split_sources(text: str) -> tuple[str, ...]:
    """The sources join_sources named."""
    if text.startswith('["'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return tuple(value)
    return (text,)


@dataclass
class _Loading:
    """What one load has read so far: the graph, the digest, the var-file directories."""

    keyring: Keyring
    environ: Mapping[str, str]
    graph: InventoryGraph = field(default_factory=InventoryGraph)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    digested: int = 0
    var_dirs: list[Path] = field(default_factory=list)

    def digest_bytes(self, label: str, data: bytes) -> None:
        # The first item's bytes alone: one inventory file's digest is its sha256.
        if self.digested:
            self.digest.update(f"\0{label}\0".encode())
        self.digest.update(data)
        self.digested += 1


def load_inventory(
    sources: str | Path | Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    password: str | None = None,
    keyring: Keyring | None = None,
) -> Inventory:
    """Read every source, merge them as Ansible does, and build the Inventory.

    Args:
        sources: `-i` sources in order (one, or several).
        env: environment (credentials, PATH and ANSIBLE_* for ansible-inventory).
        password: a password the caller asked for (--ask-pass), used last.
        keyring: vault passwords.

    Raises:
        ConfigError: a source cannot be read, or is not a valid inventory.
    """
    names = [str(sources)] if isinstance(sources, str | Path) else [str(s) for s in sources]
    if not names:
        raise ConfigError("inventory", 0, 0, "no inventory given (-i INVENTORY)")
    loading = _Loading(keyring if keyring is not None else Keyring(), env or {})
    try:
        for source in names:
            _read_source(source, loading)
    except _NeedsAnsible as needs:
        loading = _Loading(loading.keyring, loading.environ)
        _read_all_with_ansible(names, needs.path, loading)
    loading.graph.reconcile()
    layers = [_var_layer(directory, loading) for directory in loading.var_dirs]
    return build_inventory(
        loading.graph,
        layers,
        source=join_sources(names),
        digest=loading.digest.hexdigest(),
        env=env,
        password=password,
        keyring=loading.keyring,
    )


def load_inventory_file(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    password: str | None = None,
    keyring: Keyring | None = None,
) -> Inventory:
    """One inventory source (see load_inventory)."""
    return load_inventory([str(path)], env=env, password=password, keyring=keyring)


def _read_source(source: str, loading: _Loading) -> None:
    path = Path(source)
    if is_host_list(source) and not path.exists():
        loading.digest_bytes("host list", source.encode())
        read_host_list(source, loading.graph)
        return
    if not path.exists():
        raise ConfigError(source, 0, 0, "no such inventory file or directory")
    if path.is_dir():
        if not _read_directory(path, loading, set()):
            raise ConfigError(source, 0, 0, "no inventory file in this directory")
        loading.var_dirs.append(path)
        return
    _read_file(path, loading)
    loading.var_dirs.append(path.parent)


def _read_directory(directory: Path, loading: _Loading, seen: set[Path]) -> bool:
    """Every file of an inventory directory, sorted, subdirectories too (their own
    group_vars/ are not read: Ansible reads those beside the `-i` sources only)."""
    real = directory.resolve()
    if real in seen:
        return False  # a symlink back up the tree
    seen.add(real)
    found = False
    for entry in sorted(directory.iterdir(), key=lambda p: os.fsencode(p.name)):
        if _IGNORED_NAMES.search(entry.name) or entry.name.endswith(_IGNORED_SUFFIXES):
            continue
        if entry.is_dir():
            found = _read_directory(entry, loading, seen) or found
        elif entry.is_file():
            _read_file(entry, loading)
            found = True
    return found


class _NeedsAnsible(Exception):
    """A source only ansible-core can read (a script, a plugin configuration, TOML)."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def _read_file(path: Path, loading: _Loading) -> None:
    """One inventory file; a script or a plugin configuration stops the native reading."""
    data = read_config_bytes(path, "inventory")
    loading.digest_bytes(str(path), data)
    if data.startswith(b"#!") and os.access(path, os.X_OK):
        raise _NeedsAnsible(path)
    text = _decode(_opened(data, path, loading.keyring), path)
    needs = read_text_source(text, str(path), path.suffix, loading.graph, loading.keyring)
    if needs is Needs.ANSIBLE:
        raise _NeedsAnsible(path)


def _read_all_with_ansible(sources: Sequence[str], needing: Path, loading: _Loading) -> None:
    """Every source through one `ansible-inventory --list`: a plugin such as constructed
    sees the hosts of the sources before it, and each host's variables come merged by
    Ansible itself, group_vars/ and host_vars/ included (so no var files are added)."""
    output = run_ansible_inventory(sources, loading.keyring, loading.environ, needing=str(needing))
    loading.digest_bytes("ansible-inventory", output)
    where = f"{join_sources(list(sources))} (ansible-inventory)"
    data = load_json(output.decode("utf-8", "replace"), where)
    read_inventory_json(data, where, loading.graph, loading.keyring)


def _var_layer(directory: Path, loading: _Loading) -> VarLayer:
    """The group_vars/ and host_vars/ files of every group and host, beside one source."""
    base = directory.resolve()
    files: list[VarFile] = []
    kinds: tuple[tuple[Literal["group", "host"], Mapping[str, object]], ...] = (
        ("group", loading.graph.groups),
        ("host", loading.graph.hosts),
    )
    for kind, names in kinds:
        folder = base / f"{kind}_vars"
        if not folder.exists():
            continue
        if not folder.is_dir():
            log.warning("%s is not a directory: skipped, as Ansible does", folder)
            continue
        present = {entry.name for entry in folder.iterdir()}
        for name in names:
            for file in _var_files(folder, name, present):
                files.append(_var_file(kind, name, file, base, loading))
    return read_var_layer(files, loading.keyring)


def _var_files(folder: Path, name: str, present: set[str]) -> list[Path]:
    """Ansible's find_vars_files: the first of NAME, NAME.yml, NAME.yaml, NAME.json that
    exists; a directory (looked for first) gives all its files, sorted, subfolders too."""
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        return []  # never a path outside group_vars/ (Ansible skips only names from /)
    for suffix in _VAR_SUFFIXES:
        if f"{name}{suffix}" not in present:
            continue
        candidate = folder / f"{name}{suffix}"
        if candidate.is_dir():
            return _directory_var_files(candidate)
        if candidate.exists():
            return [candidate]
    return []


def _directory_var_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        # os.path.splitext, as Ansible: 'vars.' has the extension '.' (Path.suffix: none)
        extension = os.path.splitext(entry.name)[1]
        if entry.is_dir() and not extension:
            found += _directory_var_files(entry)
        elif entry.is_file() and extension in _VAR_SUFFIXES:
            found.append(entry)
    return found


def _var_file(
    kind: Literal["group", "host"], name: str, file: Path, base: Path, loading: _Loading
) -> VarFile:
    raw = read_config_bytes(file, f"{kind}_vars file")
    loading.digest_bytes(str(file.relative_to(base)), raw)
    text = _decode(_opened(raw, file, loading.keyring), file)
    return VarFile(kind, name, str(file), text)


def _opened(data: bytes, path: Path, keyring: Keyring) -> bytes:
    """A vault-encrypted file's plaintext; an error when no password opens it."""
    if not is_vault_text(data):
        return data
    try:
        return keyring.decrypt(data.decode("ascii", "replace"))
    except VaultError as exc:
        raise ConfigError(str(path), 0, 0, f"vault-encrypted file: {exc.reason}") from None


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 text; like Ansible's ini plugin, undecodable comment lines are blanked."""
    if is_utf16(data):
        raise ConfigError(str(path), 1, 1, f"this file is {UTF16_HINT}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lines = []
    for number, line in enumerate(data.removeprefix(b"\xef\xbb\xbf").splitlines(), start=1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            if line.lstrip()[:1] not in (b"#", b";"):
                raise ConfigError(str(path), number, 1, "this line is not UTF-8 text") from None
            lines.append("")
    return "\n".join(lines)


# A limit file lists hosts (a .retry file, one name a line): 1 MiB is some 50,000 names.
MAX_LIMIT_FILE = 2**20


def expand_limit(pattern: str | None) -> str | list[str] | None:
    """A --limit with its `@FILE` parts replaced by the patterns the files hold, one a
    line (Ansible's subset()); a limit without `@` is returned as it is.

    Raises:
        UsageError: a malformed pattern, or a file that names no pattern.
        ConfigError: a limit file that cannot be read.
    """
    if pattern is None or "@" not in pattern:
        return pattern
    parts: list[str] = []
    for part in split_pattern(pattern):
        parts += _limit_file(part[1:]) if part.startswith("@") else [part]
    return parts


def _limit_file(name: str) -> list[str]:
    path = Path(name)
    if path.is_dir():
        raise ConfigError(name, 0, 0, "a --limit @FILE must be a file, not a directory")
    try:
        data = read_bounded(path, MAX_LIMIT_FILE)
    except OSError as exc:
        raise ConfigError(name, 0, 0, f"cannot read the --limit file: {exc.strerror}") from None
    if len(data) > MAX_LIMIT_FILE:
        raise ConfigError(name, 0, 0, "the --limit file is larger than 1 MiB")
    text = _decode(data, path)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise UsageError(f"--limit @{name}: the file names no host pattern")
    return lines
