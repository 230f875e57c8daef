"""fleetlogoff's reading of an inventory next to ansible-core's, on the parity corpus
(tests/fixtures/parity: one directory per case, its case.json says where the shape comes
from, the `-i` sources, the --limit patterns to try, a lab vault password, and, for the
differences kept on purpose, why).

A view of an inventory is what both tools can be asked: every host in the order of `all`,
each host's groups, each host's variables merged (`ansible-inventory --list`), the hosts
each pattern selects (`ansible all --list-hosts --limit P`), or the error that refused it.
`python -m tests.ansible.parity` prints the comparison of every case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetlogoff.errors import FleetLogoffError
from fleetlogoff.inventory.files import expand_limit, load_inventory
from fleetlogoff.inventory.graph import Var
from fleetlogoff.inventory.hostvars import resolve_connection
from fleetlogoff.inventory.patterns import select_names
from fleetlogoff.inventory.resolve import Inventory
from fleetlogoff.inventory.sources import json_node
from fleetlogoff.inventory.vault import Keyring, VaultSecret, open_value
from fleetlogoff.model import Connection
from fleetlogoff.yamlsource import Position, YamlScalar
from tests.inventoryutil import plain

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Case:
    """One corpus case."""

    name: str
    folder: Path
    sources: tuple[str, ...]
    patterns: tuple[str, ...]
    vault_password: str | None
    deliberate: str | None
    origin: str
    needs_ansible: bool = False


@dataclass
class View:
    """What a tool makes of an inventory."""

    error: str | None = None
    order: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    hostvars: dict[str, Any] = field(default_factory=dict)
    patterns: dict[str, list[str] | None] = field(default_factory=dict)
    connections: dict[str, str] = field(default_factory=dict)


def cases() -> list[Case]:
    """Every case of the corpus, by name."""
    return [load_case(folder) for folder in sorted(CORPUS.iterdir()) if folder.is_dir()]


def load_case(folder: Path) -> Case:
    meta = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    sources = meta.get("sources") or [_default_source(folder)]
    resolved = tuple(s if "," in s else str(folder / s) for s in sources)
    return Case(
        folder.name,
        folder,
        resolved,
        tuple(meta.get("patterns", ())),
        meta.get("vault_password"),
        meta.get("deliberate"),
        meta.get("origin", ""),
        bool(meta.get("needs_ansible", False)),
    )


def _default_source(folder: Path) -> str:
    files = [
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.name not in ("case.json", GOLDEN) and not p.name.startswith(".")
    ]
    if len(files) != 1:
        raise ValueError(f"{folder.name}: name the sources in case.json ({files})")
    return files[0]


# ---- fleetlogoff's view -----------------------------------------------------------------


def keyring(case: Case) -> Keyring:
    """The lab vault password of a case, if it has one."""
    if case.vault_password is None:
        return Keyring()
    return Keyring([VaultSecret("default", case.vault_password.encode())])


def our_view(case: Case) -> View:
    try:
        inventory = load_inventory(list(case.sources), env={}, keyring=keyring(case))
    except FleetLogoffError as exc:
        return View(error=str(exc))
    view = View(order=inventory.names)
    for host in inventory.hosts:
        view.groups[host.name] = sorted(set(host.groups) - {"all"})
    for name in inventory.unusable:
        view.groups[name] = sorted(_groups_of(inventory, name))
    for name in inventory.names:
        view.hostvars[name] = {k: plain(v.node) for k, v in inventory.variables(name).items()}
        view.connections[name] = _connection_text(inventory, name)
    for pattern in case.patterns:
        try:
            view.patterns[pattern] = _select(inventory, pattern)
        except FleetLogoffError:
            view.patterns[pattern] = None
    return view


def _select(inventory: Inventory, pattern: str) -> list[str]:
    return list(select_names(expand_limit(pattern), inventory.names, inventory.groups))


def _groups_of(inventory: Inventory, host: str) -> set[str]:
    return {g for g, members in inventory.groups.items() if host in members and g != "all"}


def _connection_text(inventory: Inventory, name: str) -> str:
    if name in inventory.unusable:
        return f"unusable: {inventory.unusable[name].reason}"
    host = next(h for h in inventory.hosts if h.name == name)
    return connection_text(host.connection)


# ---- ansible-core's view ----------------------------------------------------------------


def have_ansible() -> bool:
    return (BIN / "ansible-inventory").exists() and (BIN / "ansible").exists()


def ansible_view(case: Case) -> View:
    with tempfile.TemporaryDirectory() as folder:
        extra: list[str] = []
        if case.vault_password:
            secret = Path(folder) / "vault-password"
            secret.write_text(case.vault_password + "\n", encoding="utf-8")
            extra = ["--vault-password-file", str(secret)]
        sources = [arg for s in case.sources for arg in ("-i", s)]
        listed = _ansible(["ansible-inventory", *sources, "--list", *extra])
        if listed.returncode != 0:
            return View(error=_last_error(listed.stderr))
        data = json.loads(listed.stdout)
        view = View(order=_list_hosts(sources, extra, None) or [])
        view.hostvars = dict(data["_meta"]["hostvars"])
        for host in view.order:
            view.hostvars.setdefault(host, {})
        view.groups = _host_groups(data, view.order)
        for pattern in case.patterns:
            view.patterns[pattern] = _list_hosts(sources, extra, pattern)
        for host in view.order:
            view.connections[host] = _connection_from(host, view.hostvars[host], keyring(case))
        return view


def _ansible(command: list[str], seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", PYTHONHASHSEED=seed, ANSIBLE_LOCALHOST_WARNING="0")
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "0"
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _list_hosts(sources: list[str], extra: list[str], pattern: str | None) -> list[str] | None:
    limit = ["--limit", pattern] if pattern is not None else []
    done = _ansible(["ansible", "all", *sources, *extra, "--list-hosts", *limit])
    if done.returncode != 0:
        return None
    lines = done.stdout.splitlines()
    if not any(line.strip().startswith("hosts (") for line in lines):
        return None
    return [line.strip() for line in lines if line.startswith("    ")]


def _host_groups(data: Mapping[str, Any], hosts: list[str]) -> dict[str, list[str]]:
    parents: dict[str, set[str]] = {}
    members: dict[str, set[str]] = {h: set() for h in hosts}
    for group, body in data.items():
        if group == "_meta":
            continue
        for host in body.get("hosts", []):
            members.setdefault(host, set()).add(group)
        for child in body.get("children", []):
            parents.setdefault(child, set()).add(group)
    result = {}
    for host, direct in members.items():
        found = set(direct)
        stack = list(direct)
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        result[host] = sorted(found - {"all"})
    return result


def ansible_vars(variables: Mapping[str, Any], secrets: Keyring) -> dict[str, Var]:
    """ansible-inventory's JSON variables as the nodes fleetlogoff's resolver reads, vault
    values opened with the case's password."""
    pos = Position("ansible-inventory", 0, 0)
    return {
        name: Var(
            YamlScalar(name, name, "tag:yaml.org,2002:str", pos),
            open_value(json_node(value, pos), secrets, name),
        )
        for name, value in variables.items()
    }


def _connection_from(host: str, variables: Mapping[str, Any], secrets: Keyring) -> str:
    try:
        return connection_text(resolve_connection(host, ansible_vars(variables, secrets), {}, None))
    except FleetLogoffError as exc:
        return f"unusable: {getattr(exc, 'reason', exc)}"


# The Connection fields compared: fixed, so a field another change adds to Connection does
# not invalidate the recorded answers.
FIELDS = [
    "address",
    "port",
    "scheme",
    "transport",
    "username",
    "cert_validation",
    "ca_trust_path",
    "cert_pem",
    "cert_key_pem",
    "message_encryption",
    "connection_timeout",
    "operation_timeout",
    "read_timeout",
    "path",
]


def connection_text(connection: Connection) -> str:
    parts = [f"{name}={getattr(connection, name)!r}" for name in FIELDS]
    password = connection.password.reveal() if connection.password else None
    return ", ".join([*parts, f"password={password!r}"])


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line]
    return (errors or lines or ["failed"])[0]


# ---- comparison ----------------------------------------------------------------------


def differences(ours: View, theirs: View) -> list[str]:
    """What differs between two views (empty: the same)."""
    if ours.error or theirs.error:
        if ours.error and theirs.error:
            return []
        return [f"error: fleetlogoff {ours.error!r}, ansible {theirs.error!r}"]
    found = []
    if ours.order != theirs.order:
        found.append(f"order of all: {ours.order} vs {theirs.order}")
    for what in ("groups", "hostvars", "patterns", "connections"):
        mine, other = getattr(ours, what), getattr(theirs, what)
        for key in sorted(set(mine) | set(other)):
            if mine.get(key) != other.get(key):
                found.append(f"{what}[{key}]: {mine.get(key)!r} vs {other.get(key)!r}")
    return found


GOLDEN = "ansible.json"


def recorded_view(case: Case) -> View:
    """The view ansible-core gave when the case was recorded (its ansible.json)."""
    data = json.loads((case.folder / GOLDEN).read_text(encoding="utf-8"))
    return View(**data)


def record(case: Case, view: View) -> None:
    text = json.dumps(view.__dict__, indent=1, sort_keys=True, ensure_ascii=False)
    (case.folder / GOLDEN).write_text(text + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    """Compare cases with ansible-core (`--record`: also write their ansible.json); names
    given after the flags choose the cases, none means all."""
    chosen = [a for a in argv if not a.startswith("--")]
    selected = [c for c in cases() if not chosen or c.name in chosen]
    same = kept = 0
    for case in selected:
        theirs = ansible_view(case)
        if "--record" in argv:
            record(case, theirs)
        diff = differences(our_view(case), theirs)
        if not diff:
            same += 1
            print(f"same        {case.name}")
        elif case.deliberate:
            kept += 1
            print(f"deliberate  {case.name}: {case.deliberate}")
        else:
            print(f"DIFFERENT   {case.name}")
            for line in diff:
                print(f"    {line}")
    print(f"{same} of {len(selected)} read the same as ansible-core; {kept} differ on purpose")
    return 0 if same + kept == len(selected) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
