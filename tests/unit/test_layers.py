"""The house's shape, enforced: imports point downward only, the pure core does no I/O,
pypsrp and rich each have one home, and the lab is independent of the tool."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fleetlogoff"

# Lower rank = lower layer. A module may import tool modules of its own rank or below.
RANKS = {
    "model": 0,
    "errors": 0,
    "events": 0,
    "visible": 0,
    "json_text": 0,
    "yamlsource": 1,
    "input_file": 1,
    "durations": 1,
    "hostread": 2,
    "inventory": 1,
    # The inventory package's I/O: reading sources from disk, vault secrets, ansible-inventory.
    "inventory.files": 2,
    "inventory.ansible_cli": 2,
    "inventory.vault_secrets": 2,
    "rules": 1,
    "conditions": 1,
    "windows": 1,
    "parsers": 1,
    "planner": 1,
    "env": 2,
    "transport": 2,
    "collect": 2,
    "auth_guard": 2,
    "concurrency": 2,
    "executor": 2,
    "output_file": 2,
    "plan_file": 2,
    "audit": 2,
    "runlock": 2,
    "guard": 2,
    "guard_script": 1,
    "logoff_select": 1,
    "recap": 2,
    "messages": 1,
    "ui": 2,
    "app": 3,
    "demo": 4,
    "cli": 4,
    "__main__": 5,
    "__init__": 0,
}
PURE_CORE_BANNED = (
    "pypsrp",
    "requests",
    "rich",
    "socket",
    "subprocess",
    "asyncio",
    "concurrent",
    "threading",
    "http",
    "urllib",
)
LAB_IMPORTERS = {"cli", "demo"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _ranked(parts: list[str]) -> str:
    """The most specific ranked name: `inventory.files` when ranked, else `inventory`."""
    if len(parts) > 1 and f"{parts[0]}.{parts[1]}" in RANKS:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def _top(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return _ranked([part.removesuffix(".py") for part in relative.parts])


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _tool_part(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "fleetlogoff" or len(parts) == 1:
        return "__init__" if parts == ["fleetlogoff"] else None
    return _ranked(parts[1:])


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layers(path: Path) -> None:
    top = _top(path)
    for name in _imports(path):
        part = _tool_part(name)
        if top == "lab":
            assert part in (None, "lab", "__init__"), f"the lab imports the tool: {name}"
            continue
        if part == "lab":
            assert top in LAB_IMPORTERS, f"{top} reaches into the lab: {name}"
            continue
        if part is not None:
            assert part in RANKS, f"unranked module {part}: add it to RANKS"
            assert RANKS[part] <= RANKS[top], f"{top} imports upward: {name}"
        if RANKS.get(top, 9) == 1:
            root = name.split(".")[0]
            assert root not in PURE_CORE_BANNED, f"pure core {top} imports {name}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pypsrp_and_rich_have_one_home(path: Path) -> None:
    relative = path.relative_to(PACKAGE).as_posix()
    roots = {name.split(".")[0] for name in _imports(path)}
    if "pypsrp" in roots:
        assert relative == "transport/winrm.py"
    if "rich" in roots:
        assert relative.startswith("ui/")
