"""YAML loading that remembers where every value came from.

PyYAML's composer gives node marks; this module turns that node graph into small frozen
values (YamlScalar, YamlList, YamlMap) that carry a 1-based file:line:col, refuses duplicate
keys (PyYAML silently keeps the last one), and keeps tags it does not know (`!vault`,
`!unsafe`) instead of failing, so callers can say precisely what is unsupported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from yaml.constructor import SafeConstructor

from fleetlogoff.errors import ConfigError

log = logging.getLogger(__name__)

_YAML_TAG = "tag:yaml.org,2002:"
# libyaml's loader, when PyYAML was built with it, composes the same node graph with the
# same marks about ten times faster (a 1,000-host inventory: 0.5 s in pure Python).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = _YAML_TAG + "merge"
VAULT_TAG = "!vault"
UNSAFE_TAG = "!unsafe"


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source file, 1-based (PyYAML marks are 0-based)."""

    source: str
    line: int
    column: int

    def error(self, reason: str) -> ConfigError:
        """Build a ConfigError pointing at this position."""
        return ConfigError(self.source, self.line, self.column, reason)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class YamlScalar:
    """A scalar with its constructed value, its text as written and its tag.

    Attributes:
        value: the value YAML 1.1 gives it (str, int, float, bool, None, date...).
        text: the scalar as written (after quote and escape processing). Times such as
            `22:30` are YAML 1.1 sexagesimal integers (1350); readers of times and
            durations use `text`, never `value`.
        tag: the resolved tag (`tag:yaml.org,2002:str`, `!vault`, ...).
        pos: where it starts.
    """

    value: object
    text: str
    tag: str
    pos: Position

    @property
    def is_vault(self) -> bool:
        """True for an Ansible Vault-encrypted value (`!vault |`)."""
        return self.tag == VAULT_TAG


@dataclass(frozen=True, slots=True)
class YamlList:
    """A sequence of nodes."""

    items: tuple[YamlNode, ...]
    pos: Position


@dataclass(frozen=True, slots=True)
class YamlMap:
    """A mapping with unique string keys, in file order."""

    entries: tuple[tuple[YamlScalar, YamlNode], ...]
    pos: Position

    def get(self, key: str) -> YamlNode | None:
        """The value of `key`, or None when absent."""
        for k, v in self.entries:
            if k.text == key:
                return v
        return None

    def keys(self) -> tuple[str, ...]:
        """Keys in file order."""
        return tuple(k.text for k, _ in self.entries)

    def __iter__(self) -> Iterator[tuple[YamlScalar, YamlNode]]:
        return iter(self.entries)


YamlNode = YamlScalar | YamlList | YamlMap


def parse_yaml(text: str, source: str) -> YamlNode | None:
    """Parse one YAML document into positioned nodes.

    Args:
        text: the YAML text.
        source: file name used in error positions.

    Returns:
        The root node, or None for an empty document.

    Raises:
        ConfigError: syntax errors, several documents, duplicate keys, non-scalar keys.
    """
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = f"invalid YAML: {exc.problem or exc.context}"
        if mark is None:
            raise ConfigError(source, 0, 0, reason) from None
        raise ConfigError(source, mark.line + 1, mark.column + 1, reason) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, 0, 0, f"invalid YAML: {exc}") from None
    if root is None:
        return None
    return _Converter(source).convert(root)


def position_of(node: yaml.Node, source: str) -> Position:
    """The 1-based position of a PyYAML node."""
    return Position(source, node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    """Turns PyYAML nodes into Yaml* values, checking keys on the way."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._constructor = SafeConstructor()
        self._path: set[int] = set()

    def convert(self, node: yaml.Node) -> YamlNode:
        if id(node) in self._path:
            raise position_of(node, self._source).error("recursive YAML alias")
        self._path.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._convert_map(node)
            if isinstance(node, yaml.SequenceNode):
                items = tuple(self.convert(item) for item in node.value)
                return YamlList(items, position_of(node, self._source))
            return self._convert_scalar(node)
        finally:
            self._path.discard(id(node))

    def _convert_scalar(self, node: yaml.Node) -> YamlScalar:
        pos = position_of(node, self._source)
        text = str(node.value)
        if not node.tag.startswith(_YAML_TAG):
            # Ansible's !vault / !unsafe and any other local tag: keep the text, let the
            # caller decide (SafeConstructor would refuse the whole file).
            return YamlScalar(text, text, node.tag, pos)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise pos.error(f"invalid value {text!r}: {exc}") from None
        return YamlScalar(value, text, node.tag, pos)

    def _convert_map(self, node: yaml.MappingNode) -> YamlMap:
        explicit: dict[str, tuple[YamlScalar, YamlNode]] = {}
        merged: list[tuple[YamlScalar, YamlNode]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_entries(value_node))
                continue
            key = self._convert_key(key_node)
            if key.text in explicit:
                first = explicit[key.text][0].pos
                raise key.pos.error(
                    f"duplicate key {key.text!r} (first defined at line {first.line})"
                )
            explicit[key.text] = (key, self.convert(value_node))
        entries = list(explicit.values())
        for key, value in merged:
            # `<<: *anchor` entries never override explicit keys (YAML merge key spec).
            if key.text not in explicit:
                explicit[key.text] = (key, value)
                entries.append((key, value))
        return YamlMap(tuple(entries), position_of(node, self._source))

    def _convert_key(self, node: yaml.Node) -> YamlScalar:
        if not isinstance(node, yaml.ScalarNode):
            raise position_of(node, self._source).error("a mapping key must be a plain value")
        key = self._convert_scalar(node)
        if key.value is None or key.text == "":
            raise key.pos.error("empty mapping key")
        return key

    def _merge_entries(self, node: yaml.Node) -> list[tuple[YamlScalar, YamlNode]]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        entries: dict[str, tuple[YamlScalar, YamlNode]] = {}
        for item in sources:
            converted = self.convert(item)
            if not isinstance(converted, YamlMap):
                raise converted.pos.error("a `<<` merge key needs a mapping")
            for key, value in converted:
                # Earlier maps in a merge list win (YAML merge key spec).
                entries.setdefault(key.text, (key, value))
        return list(entries.values())


def describe(node: YamlNode) -> str:
    """A short name of the node's kind for error messages."""
    if isinstance(node, YamlMap):
        return "a mapping"
    if isinstance(node, YamlList):
        return "a list"
    if node.value is None:
        return "nothing (null)"
    return f"{type(node.value).__name__} {node.text!r}"


def expect_map(node: YamlNode, what: str) -> YamlMap:
    """`node` as a mapping, or a ConfigError naming `what`."""
    if not isinstance(node, YamlMap):
        raise node.pos.error(f"{what} must be a mapping, not {describe(node)}")
    return node


def expect_text(node: YamlNode, what: str) -> str:
    """A scalar's text as written; refuses null, lists, mappings and vault values."""
    if isinstance(node, YamlScalar) and node.is_vault:
        raise node.pos.error(f"{what}: vault-encrypted values are not supported here")
    if not isinstance(node, YamlScalar) or node.value is None:
        raise node.pos.error(f"{what} must be a single value, not {describe(node)}")
    return node.text


def expect_int(node: YamlNode, what: str, low: int, high: int) -> int:
    """An integer in [low, high] (a quoted number is accepted, booleans are not)."""
    text = expect_text(node, what).strip()
    is_bool = isinstance(node, YamlScalar) and isinstance(node.value, bool)
    if is_bool or not text.isdigit():
        raise node.pos.error(f"{what} must be a whole number, not {describe(node)}")
    number = int(text)
    if not low <= number <= high:
        raise node.pos.error(f"{what} must be between {low} and {high}, not {number}")
    return number


def expect_text_list(node: YamlNode, what: str) -> tuple[str, ...]:
    """A list of scalars' texts; a single scalar counts as a list of one."""
    if isinstance(node, YamlScalar):
        return (expect_text(node, what),)
    if isinstance(node, YamlMap):
        raise node.pos.error(f"{what} must be a list, not a mapping")
    return tuple(expect_text(item, f"{what} entry") for item in node.items)


def reject_unknown_keys(node: YamlMap, allowed: tuple[str, ...], what: str) -> None:
    """ConfigError at the first key of `node` not in `allowed`."""
    for key, _ in node:
        if key.text not in allowed:
            raise key.pos.error(
                f"unknown key {key.text!r} in {what} (expected one of: {', '.join(allowed)})"
            )


def to_plain(node: YamlNode) -> object:
    """The plain Python value of a node (dicts, lists, scalars)."""
    if isinstance(node, YamlMap):
        return {k.text: to_plain(v) for k, v in node}
    if isinstance(node, YamlList):
        return [to_plain(item) for item in node.items]
    return node.value
