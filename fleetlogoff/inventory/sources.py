"""Which of Ansible's inventory plugins reads a source, and the plugins that need no file
system: `h1,h2,` host lists and the JSON that `ansible-inventory --list` prints.

Ansible tries its enabled plugins in turn (host_list, script, auto, yaml, ini, toml) and
keeps the first that reads the source. For a file that is no script: `.yml`/`.yaml` files
with a top-level `plugin:` key configure a plugin (auto); files ending in `.yml`, `.yaml`,
`.json` or with no extension are tried as YAML, then as INI; any other file as INI; `.toml`
as TOML. Plugin configurations and TOML need ansible-core (see files.py); the rest is read
here, by fleetlogoff's own code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.addresses import parse_address
from fleetlogoff.inventory.graph import InventoryGraph, Var
from fleetlogoff.inventory.ini_plugin import looks_like_ini, read_ini_inventory
from fleetlogoff.inventory.resolve import (
    Inventory,
    VarFile,
    build_inventory,
    read_var_layer,
    text_digest,
)
from fleetlogoff.inventory.settings import read_vars
from fleetlogoff.inventory.vault import Keyring
from fleetlogoff.inventory.yaml_plugin import is_plugin_config, read_yaml_inventory
from fleetlogoff.yamlsource import (
    Position,
    YamlList,
    YamlMap,
    YamlNode,
    YamlScalar,
    describe,
    from_plain,
    parse_yaml,
)

YAML_SUFFIXES = (".yml", ".yaml", ".json")
VAULT_TAG = "!vault"
UNSAFE_TAG = "!unsafe"


class Needs(Enum):
    """What reading a text needs beyond fleetlogoff's own plugins."""

    NOTHING = "nothing"
    ANSIBLE = "ansible-core"


def read_text_source(
    text: str, source: str, suffix: str, graph: InventoryGraph, keyring: Keyring
) -> Needs:
    """Read an inventory file's text into `graph` with the plugin Ansible would pick.

    Returns:
        Needs.ANSIBLE when the text is a plugin configuration or TOML (nothing is read).

    Raises:
        ConfigError: the text is neither a valid YAML nor a valid INI inventory; the error
            is the one of the format the text looks like.
    """
    if suffix == ".toml":
        return Needs.ANSIBLE
    if not any(line.strip() and line.strip()[0] not in "#;" for line in text.splitlines()):
        raise ConfigError(source, 0, 0, "the inventory is empty")
    if suffix not in YAML_SUFFIXES and suffix:
        read_ini_inventory(text, source, graph, keyring)
        return Needs.NOTHING
    try:
        root = parse_yaml(text, source)
    except ConfigError as yaml_error:
        return _as_ini(text, source, graph, keyring, yaml_error)
    if is_plugin_config(root):
        if suffix in (".yml", ".yaml"):
            return Needs.ANSIBLE
        raise ConfigError(
            source, 0, 0, "a plugin configuration (plugin:) must be a .yml or .yaml file"
        )
    if root is None:
        raise ConfigError(source, 0, 0, "the inventory is empty")
    if not isinstance(root, YamlMap):
        error = root.pos.error(f"an inventory must be a mapping of groups, not {describe(root)}")
        return _as_ini(text, source, graph, keyring, error)
    read_yaml_inventory(root, source, graph, keyring)
    return Needs.NOTHING


def _as_ini(
    text: str, source: str, graph: InventoryGraph, keyring: Keyring, yaml_error: ConfigError
) -> Needs:
    """Ansible's next plugin after YAML is INI; when both fail, the error shown is the one
    of the format the text looks like."""
    try:
        read_ini_inventory(text, source, graph, keyring)
    except ConfigError:
        if looks_like_ini(text):
            raise
        raise yaml_error from None
    return Needs.NOTHING


def is_host_list(source: str) -> bool:
    """`h1,h2,` (Ansible's host_list plugin takes any text with a comma that is no path;
    the caller checks the path)."""
    return "," in source


def read_host_list(source: str, graph: InventoryGraph) -> None:
    """Hosts of a `h1,h2:5986,[fe80::1]:5986,` list, into `ungrouped`; ranges are not
    expanded there (Ansible keeps `rds[1:3]` as a name)."""
    pos = Position("host list", 0, 0)
    for part in source.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            name, port = parse_address(text)
        except ValueError:
            name, port = text, None
        if "[" in name:
            name, port = text, None
        if name not in graph.hosts:
            port_var = None
            if port is not None:
                port_var = Var(_text("ansible_port", pos), from_plain(port, pos))
            graph.add_host(name, "ungrouped", port_var, pos)


def read_inventory_json(data: object, source: str, graph: InventoryGraph, keyring: Keyring) -> None:
    """Read what `ansible-inventory --list` prints (the script format): groups with
    hosts, children and vars, and `_meta.hostvars`.

    Raises:
        ConfigError: the data does not have that shape.
    """
    pos = Position(source, 0, 0)
    if not isinstance(data, dict):
        raise pos.error("ansible-inventory did not print a JSON object")
    meta = data.get("_meta", {})
    for name in _json_group_order(data):
        _json_group(name, data[name], graph, keyring, pos)
    hostvars = meta.get("hostvars", {}) if isinstance(meta, dict) else {}
    if not isinstance(hostvars, dict):
        raise pos.error("_meta.hostvars is not a mapping")
    for host, variables in hostvars.items():
        if host in graph.hosts:
            graph.hosts[host].vars.update(_json_vars(variables, f"host {host!r}", keyring, pos))


def _json_group_order(data: dict[str, object]) -> list[str]:
    """Groups in the order the source gave them: the JSON's keys are sorted, but the
    children lists, walked from `all`, keep the order (the host order follows it)."""
    order: dict[str, None] = {}
    level = ["all"]
    while level:
        following = []
        for name in level:
            if name in data and name not in order:
                order[name] = None
                body = data[name]
                children = body.get("children", []) if isinstance(body, dict) else []
                following += [str(c) for c in children] if isinstance(children, list) else []
        level = following
    order.update(dict.fromkeys(str(k) for k in data if k != "_meta"))
    return list(order)


def _json_group(
    name: str, group: object, graph: InventoryGraph, keyring: Keyring, pos: Position
) -> None:
    graph.add_group(name, pos)
    if not isinstance(group, dict):
        group = {"hosts": group}
    elif not group.keys() & {"hosts", "vars", "children"}:
        group = {"hosts": [name], "vars": group}
    hosts = group.get("hosts", [])
    if not isinstance(hosts, list):
        raise pos.error(f"group {name!r}: hosts is not a list")
    for host in hosts:
        graph.add_host(str(host), name, None, pos)
    for var in _json_vars(group.get("vars", {}), f"group {name!r}", keyring, pos).values():
        graph.set_group_var(name, var)
    for child in _names(group.get("children", []), name, pos):
        graph.add_group(child, pos)
        if name != "all":  # under `all` only when no other group holds it (reconcile)
            graph.add_child(name, child, pos)


def _names(value: object, group: str, pos: Position) -> Sequence[str]:
    if not isinstance(value, list):
        raise pos.error(f"group {group!r}: children is not a list")
    return [str(v) for v in value]


def _json_vars(value: object, what: str, keyring: Keyring, pos: Position) -> dict[str, Var]:
    if not isinstance(value, dict):
        raise pos.error(f"{what}: vars is not a mapping")
    entries = tuple((_text(str(k), pos), json_node(v, pos)) for k, v in value.items())
    return read_vars(YamlMap(entries, pos), what, keyring)


def json_node(value: object, pos: Position) -> YamlNode:
    """A JSON value as a node, with Ansible's markers read: {"__ansible_vault": text} is a
    `!vault` value, {"__ansible_unsafe": text} an `!unsafe` one."""
    if isinstance(value, dict) and len(value) == 1:
        for marker, tag in (("__ansible_vault", VAULT_TAG), ("__ansible_unsafe", UNSAFE_TAG)):
            if isinstance(value.get(marker), str):
                return YamlScalar(value[marker], value[marker], tag, pos)
    if isinstance(value, dict):
        entries = tuple((_text(str(k), pos), json_node(v, pos)) for k, v in value.items())
        return YamlMap(entries, pos)
    if isinstance(value, list):
        return YamlList(tuple(json_node(v, pos) for v in value), pos)
    return from_plain(value, pos)


def _text(text: str, pos: Position) -> YamlScalar:
    return YamlScalar(text, text, "tag:yaml.org,2002:str", pos)


def load_json(text: str, source: str) -> object:
    """Parse JSON, or a ConfigError naming the source."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(source, 0, 0, f"not JSON: {exc}") from None


def parse_inventory(
    text: str,
    source: str,
    *,
    env: Mapping[str, str] | None = None,
    password: str | None = None,
    digest: str | None = None,
    var_files: Sequence[VarFile] = (),
    keyring: Keyring | None = None,
    suffix: str = ".yml",
) -> Inventory:
    """Load one inventory from its text (YAML, or INI), with optional var files.

    Raises:
        ConfigError: anything wrong in the text or the var files, with file:line:col.
    """
    keyring = keyring if keyring is not None else Keyring()
    graph = InventoryGraph()
    if read_text_source(text, source, suffix, graph, keyring) is Needs.ANSIBLE:
        raise ConfigError(source, 0, 0, "a plugin configuration: read it with load_inventory")
    graph.reconcile()
    layer = read_var_layer(var_files, keyring)
    checksum = digest or text_digest(text)
    return build_inventory(
        graph, [layer], source=source, digest=checksum, env=env, password=password, keyring=keyring
    )
