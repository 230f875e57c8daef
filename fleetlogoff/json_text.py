"""Indented JSON text, byte for byte what `json.dumps(document, indent=N)` writes, faster.

The standard library only uses its C encoder without `indent`; with it, every value of a
plan (a 1,000-host plan holds some 1.5 million) goes through a Python generator. Here a
container whose members are all scalars (or empty containers) is handed to the C encoder
in one call, its item separator carrying the newline and indentation of its level, which
is exactly how the pure-Python encoder lays such a container out (json/encoder.py
`_make_iterencode`). Only containers holding containers are walked in Python.
"""

from __future__ import annotations

import json
from typing import Any

_CONTAINERS = (dict, list, tuple)


class _Unusual(Exception):
    """A key the Python walk does not convert itself: the standard encoder writes it all."""


def indented_json(
    document: Any, *, indent: int = 2, ensure_ascii: bool = True, sort_keys: bool = False
) -> str:
    """`json.dumps(document, indent=indent, ensure_ascii=..., sort_keys=...)`, exactly.

    Separators are the defaults with an indent (`,` and `: `); NaN and infinities are
    written as json.dumps writes them. Documents are trees (no value twice on one path).
    """
    walk = _Walk(" " * indent, ensure_ascii, sort_keys)
    try:
        return walk.encode(document, 0)
    except _Unusual:
        return json.dumps(document, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


class _Walk:
    def __init__(self, pad: str, ensure_ascii: bool, sort_keys: bool) -> None:
        self._pad = pad
        self._ensure_ascii = ensure_ascii
        self._sort_keys = sort_keys
        self._string = (
            json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
        )
        self._flats: dict[int, json.JSONEncoder] = {}

    def _flat(self, level: int) -> json.JSONEncoder:
        """The C encoder for a container of scalars whose members sit at `level`."""
        encoder = self._flats.get(level)
        if encoder is None:
            separator = ",\n" + self._pad * level
            encoder = json.JSONEncoder(
                ensure_ascii=self._ensure_ascii,
                sort_keys=self._sort_keys,
                separators=(separator, ": "),
            )
            self._flats[level] = encoder
        return encoder

    def encode(self, value: Any, level: int) -> str:
        """The text of `value`, its container's members indented at `level` + 1."""
        if isinstance(value, dict):
            members: Any = value.values()
            brackets = "{}"
        elif isinstance(value, list | tuple):
            members = value
            brackets = "[]"
        else:
            return self._scalar(value)
        if not value:
            return brackets
        inner = level + 1
        if _nests(members):
            body = self._items(value, inner) if brackets == "{}" else self._members(value, inner)
        else:
            body = self._flat(inner).encode(value)[1:-1]
        pad = self._pad
        return f"{brackets[0]}\n{pad * inner}{body}\n{pad * level}{brackets[1]}"

    def _members(self, values: list[Any] | tuple[Any, ...], level: int) -> str:
        separator = ",\n" + self._pad * level
        return separator.join([self.encode(v, level) for v in values])

    def _items(self, mapping: dict[Any, Any], level: int) -> str:
        separator = ",\n" + self._pad * level
        items = sorted(mapping.items()) if self._sort_keys else mapping.items()
        parts = []
        for key, value in items:
            if not isinstance(key, str):
                raise _Unusual  # json converts numbers, booleans and None to strings
            text = (
                self.encode(value, level) if isinstance(value, _CONTAINERS) else self._scalar(value)
            )
            parts.append(f"{self._string(key)}: {text}")
        return separator.join(parts)

    def _scalar(self, value: Any) -> str:
        if isinstance(value, str):
            return str(self._string(value))
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, int):
            return int.__repr__(value)  # as json: an IntEnum is its number
        # Floats (NaN and infinities too) and the TypeError for anything else: json's own.
        return json.dumps(value, ensure_ascii=self._ensure_ascii)


def _nests(members: Any) -> bool:
    """Whether a container holds a non-empty container (then it is walked in Python).
    A plain loop: any() over a generator costs a generator step per member, and every
    member of a plan is looked at here once."""
    for member in members:  # noqa: SIM110 (any() over a generator: slower, see above)
        if isinstance(member, _CONTAINERS) and member:
            return True
    return False
