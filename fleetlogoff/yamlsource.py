"""YAML loading that remembers where every value came from.

PyYAML's composer gives node marks; this module turns that node graph into small frozen
values (YamlScalar, YamlList, YamlMap) that carry a 1-based file:line:col, refuses duplicate
keys (PyYAML silently keeps the last one), and keeps tags it does not know (`!vault`,
`!unsafe`) instead of failing, so callers can say precisely what is unsupported.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

from fleetlogoff.errors import ConfigError
from fleetlogoff.input_file import read_bounded

log = logging.getLogger(__name__)

_YAML_TAG = "tag:yaml.org,2002:"
# libyaml's loader, when PyYAML was built with it, composes the same node graph with the
# same marks about ten times faster (a 1,000-host inventory: 0.5 s in pure Python).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = _YAML_TAG + "merge"
STR_TAG = _YAML_TAG + "str"
_MAP_TAG = _YAML_TAG + "map"
_SEQ_TAG = _YAML_TAG + "seq"
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = SafeConstructor()
# Limits that keep a hostile or broken file from hanging the tool: real inventories are a
# few MiB at most (1,000 hosts: ~100 KiB) and a dozen levels deep.
MAX_TEXT = 16 * 2**20
MAX_DEPTH = 100
MAX_NODES = 1_000_000
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

# Every value in a file gets a Position, and nine in ten a YamlScalar: 17,000 events for
# 1,000 hosts. A frozen dataclass's __init__ sets each field through object.__setattr__,
# about 1 µs an object; the parser builds the same objects by setting their slots
# directly, in under half that. Nothing else needs the speed: it uses the constructors.
_new = object.__new__
_POSITION_SLOTS = tuple(Position.__dict__[name].__set__ for name in Position.__slots__)
_SCALAR_SLOTS = tuple(YamlScalar.__dict__[name].__set__ for name in YamlScalar.__slots__)


def _position(source: str, line: int, column: int) -> Position:
    """Position(source, line, column), built faster (see _POSITION_SLOTS)."""
    pos: Position = _new(Position)
    set_source, set_line, set_column = _POSITION_SLOTS
    set_source(pos, source)
    set_line(pos, line)
    set_column(pos, column)
    return pos


def _yaml_scalar(value: object, text: str, tag: str, pos: Position) -> YamlScalar:
    """YamlScalar(value, text, tag, pos), built faster (see _POSITION_SLOTS)."""
    node: YamlScalar = _new(YamlScalar)
    set_value, set_text, set_tag, set_pos = _SCALAR_SLOTS
    set_value(node, value)
    set_text(node, text)
    set_tag(node, tag)
    set_pos(node, pos)
    return node


def parse_yaml(text: str, source: str) -> YamlNode | None:
    """Parse one YAML document into positioned nodes.

    Args:
        text: the YAML text.
        source: file name used in error positions.

    Returns:
        The root node, or None for an empty document.

    Raises:
        ConfigError: syntax errors, several documents, duplicate keys, non-scalar keys,
            and documents past the limits (MAX_TEXT characters, MAX_DEPTH levels of
            nesting, MAX_NODES values once aliases are expanded).
    """
    if len(text) > MAX_TEXT:
        raise ConfigError(source, 0, 0, f"larger than {MAX_TEXT // 2**20} MiB: not read")
    builder = _Builder(source)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = f"invalid YAML: {exc.problem or exc.context}"
        if mark is None:
            raise ConfigError(source, 0, 0, reason) from None
        raise ConfigError(source, mark.line + 1, mark.column + 1, reason) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, 0, 0, f"invalid YAML: {_first_line(exc)}") from None
    return builder.root


def read_yaml_text(path: str | Path, what: str) -> str:
    """A YAML file's text, read up to MAX_TEXT (a device such as /dev/zero or a
    runaway file stops there, with one line) and decoded as UTF-8.

    Raises:
        ConfigError: unreadable, too large, or not UTF-8.
    """
    data = read_config_bytes(path, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        why = UTF16_HINT if is_utf16(data) else f"not UTF-8 ({exc.reason})"
        raise ConfigError(str(path), 0, 0, f"cannot read {what}: {why}") from None


def read_config_bytes(path: str | Path, what: str) -> bytes:
    """A configuration file's bytes, read up to MAX_TEXT (a device such as /dev/zero or a
    runaway file stops there, with one line).

    Raises:
        ConfigError: unreadable or too large.
    """
    try:
        data = read_bounded(path, MAX_TEXT)
    except OSError as exc:
        raise ConfigError(str(path), 0, 0, f"cannot read {what}: {exc.strerror}") from None
    if len(data) > MAX_TEXT:
        raise ConfigError(str(path), 0, 0, f"{what} larger than {MAX_TEXT // 2**20} MiB: not read")
    return data


# What Windows PowerShell 5.1's Out-File and `>` write by default, and Notepad's "Unicode":
# a file an admin may well copy from a Windows box.
UTF16_HINT = "UTF-16 text; save it as UTF-8"


def is_utf16(data: bytes) -> bool:
    """Whether the bytes start with a UTF-16 byte order mark."""
    return data.startswith((b"\xff\xfe", b"\xfe\xff"))


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def position_of(mark: object, source: str) -> Position:
    """The 1-based position of a PyYAML mark (from the Python or the libyaml parser)."""
    return Position(source, getattr(mark, "line", -1) + 1, getattr(mark, "column", -1) + 1)


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence being built: its items so far and how to finish it."""

    kind: type[YamlMap] | type[YamlList]
    pos: Position
    anchor: str | None
    items: list[YamlNode]


class _Builder:
    """Builds Yaml* values from PyYAML's event stream, with an explicit stack (no
    recursion, whatever the nesting) and every limit checked as the events arrive."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[YamlNode, int] | None] = {}
        self._sizes: list[int] = []
        self._expanded = 0
        self._documents = 0
        self.root: YamlNode | None = None

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.ScalarEvent):  # most events: tested first
            self._add(_scalar(event, self._pos(event)), event.anchor, 1)
        elif isinstance(event, yaml.DocumentStartEvent):
            self._documents += 1
            if self._documents > 1:
                raise self._pos(event).error("several YAML documents in one file (one is read)")
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self._open(event)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self._close()

    def _pos(self, event: yaml.Event) -> Position:
        mark = event.start_mark
        if mark is None:
            return position_of(mark, self._source)
        # position_of's work, without its getattr calls (17,000 events in 1,000 hosts).
        return _position(self._source, mark.line + 1, mark.column + 1)

    def _open(self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent) -> None:
        pos = self._pos(event)
        if len(self._stack) >= MAX_DEPTH:
            raise pos.error(f"nested more than {MAX_DEPTH} levels deep: not read")
        if event.tag not in (None, "!", _MAP_TAG, _SEQ_TAG):
            raise pos.error(f"unsupported tag {_short(event.tag)!r} on a mapping or list")
        kind = YamlMap if isinstance(event, yaml.MappingStartEvent) else YamlList
        if event.anchor is not None:
            self._anchors[event.anchor] = None  # in progress: an alias to it is a loop
        self._count(1, pos)
        self._stack.append(_Frame(kind, pos, event.anchor, []))
        self._sizes.append(1)

    def _close(self) -> None:
        frame = self._stack.pop()
        size = self._sizes.pop()
        if frame.kind is YamlList:
            node: YamlNode = YamlList(tuple(frame.items), frame.pos)
        else:
            node = _mapping(frame.items, frame.pos)
        self._add(node, frame.anchor, size, counted=True)

    def _alias(self, event: yaml.AliasEvent) -> None:
        pos = self._pos(event)
        if event.anchor not in self._anchors:
            raise pos.error(f"alias *{event.anchor} names no anchor")
        found = self._anchors[event.anchor]
        if found is None:
            raise pos.error(f"recursive YAML alias *{event.anchor}")
        self._count(found[1], pos)  # where the alias is, not where its anchor was
        self._add(found[0], None, found[1], counted=True)

    def _add(self, node: YamlNode, anchor: str | None, size: int, counted: bool = False) -> None:
        """Attach a finished node; `size` counts it with everything below it, and is
        added to the expanded total unless its parts were counted as they arrived."""
        if not counted:
            self._count(size, node.pos)
        if anchor is not None:
            self._anchors[anchor] = (node, size)
        if not self._stack:
            self.root = node
            return
        self._stack[-1].items.append(node)
        self._sizes[-1] += size

    def _count(self, size: int, pos: Position) -> None:
        self._expanded += size
        if self._expanded > MAX_NODES:
            raise pos.error(f"more than {MAX_NODES:,} values once aliases are expanded: not read")


def _scalar(event: yaml.ScalarEvent, pos: Position) -> YamlScalar:
    text = str(event.value)
    tag = event.tag
    if tag is None or tag == "!":
        tag = _implicit_tag(text, event.implicit)
    if not tag.startswith(_YAML_TAG):
        # Ansible's !vault / !unsafe and any other local tag: keep the text, let the
        # caller decide (SafeConstructor would refuse the whole file).
        return _yaml_scalar(text, text, tag, pos)
    if tag in (STR_TAG, _MERGE_TAG):
        return _yaml_scalar(text, text, tag, pos)
    construct = SafeConstructor.yaml_constructors.get(tag)
    if construct is None:
        raise pos.error(f"unsupported tag {_short(tag)!r}")
    node = yaml.ScalarNode(tag, text, style=event.style)
    try:
        value = construct(_CONSTRUCTOR, node)
    except Exception:  # PyYAML's constructors fail in many ways on bad text (KeyError...)
        # Never quote the value: it may be a password (`ansible_password: !!int ...`).
        raise pos.error(f"this value is not a valid {_short(tag)}") from None
    return _yaml_scalar(value, text, tag, pos)


# An inventory repeats the same few values (ports, users, `winrm`, `ntlm`) on every host.
@functools.lru_cache(maxsize=4096)
def _implicit_tag(text: str, implicit: tuple[bool, bool]) -> str:
    """The tag YAML 1.1 resolves an untagged scalar to; depends on nothing else (the
    resolver has no path resolvers), so it is cached."""
    # types-PyYAML leaves Resolver.resolve untyped; it returns the tag (a str).
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, implicit)  # type: ignore[no-untyped-call]
    return tag


def _short(tag: str) -> str:
    return tag.replace(_YAML_TAG, "!!")


def _mapping(items: list[YamlNode], pos: Position) -> YamlMap:
    explicit: dict[str, tuple[YamlScalar, YamlNode]] = {}
    merged: dict[str, tuple[YamlScalar, YamlNode]] = {}
    for key, value in zip(items[::2], items[1::2], strict=True):
        if not isinstance(key, YamlScalar):
            raise key.pos.error("a mapping key must be a plain value")
        if key.tag == _MERGE_TAG:
            for name, entry in _merge_entries(value):
                merged.setdefault(name, entry)
            continue
        if key.value is None or key.text == "":
            raise key.pos.error("empty mapping key")
        if key.text in explicit:
            first = explicit[key.text][0].pos
            raise key.pos.error(f"duplicate key {key.text!r} (first defined at line {first.line})")
        explicit[key.text] = (key, value)
    entries = list(explicit.values())
    # `<<: *anchor` entries never override explicit keys (YAML merge key spec).
    entries += [entry for name, entry in merged.items() if name not in explicit]
    return YamlMap(tuple(entries), pos)


def _merge_entries(node: YamlNode) -> list[tuple[str, tuple[YamlScalar, YamlNode]]]:
    sources = node.items if isinstance(node, YamlList) else (node,)
    found: list[tuple[str, tuple[YamlScalar, YamlNode]]] = []
    for item in sources:
        if not isinstance(item, YamlMap):
            raise item.pos.error("a `<<` merge key needs a mapping")
        # Earlier maps in a merge list win (YAML merge key spec): callers keep the first.
        found += [(key.text, (key, value)) for key, value in item]
    return found


def describe(node: YamlNode) -> str:
    """A short name of the node's kind for error messages. Never the value itself: a value
    in the wrong place may be a password (`ansible_password: x` at the top of a file)."""
    if isinstance(node, YamlMap):
        return "a mapping"
    if isinstance(node, YamlList):
        return "a list"
    if node.value is None:
        return "nothing (null)"
    if node.is_vault:
        return "a vault-encrypted value"
    return _KINDS.get(type(node.value), f"a {type(node.value).__name__} value")


_KINDS = {str: "a text", bool: "true/false", int: "an int", float: "a float", bytes: "binary"}


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
    # ASCII digits: isdigit() also takes '²' (int() raises) and '٤' (int() reads 4).
    if is_bool or not (text.isascii() and text.isdigit()):
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


def from_plain(value: object, pos: Position) -> YamlNode:
    """A node for a plain Python value (what JSON or a Python literal gives), every part
    at `pos`: lists, tuples and sets become lists, dict keys become text."""
    if isinstance(value, list | tuple | set | frozenset):
        return YamlList(tuple(from_plain(item, pos) for item in value), pos)
    if isinstance(value, dict):
        entries = tuple(
            (YamlScalar(str(k), str(k), STR_TAG, pos), from_plain(v, pos)) for k, v in value.items()
        )
        return YamlMap(entries, pos)
    if isinstance(value, bool | int | float) or value is None:
        tag = {bool: "bool", int: "int", float: "float"}.get(type(value), "null")
        return YamlScalar(value, str(value), _YAML_TAG + tag, pos)
    text = value if isinstance(value, str) else str(value)
    return YamlScalar(text, text, STR_TAG, pos)


def to_plain(node: YamlNode) -> object:
    """The plain Python value of a node (dicts, lists, scalars)."""
    if isinstance(node, YamlMap):
        return {k.text: to_plain(v) for k, v in node}
    if isinstance(node, YamlList):
        return [to_plain(item) for item in node.items]
    return node.value
