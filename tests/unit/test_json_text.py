"""indented_json writes exactly what json.dumps(indent=...) writes, for any document."""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlogoff.json_text import indented_json


class Count(enum.IntEnum):
    TWO = 2


class Name(str):
    pass


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS, st.booleans(), st.booleans(), st.integers(0, 4))
def test_any_document_is_written_as_json_dumps_writes_it(
    document: Any, ensure_ascii: bool, sort_keys: bool, indent: int
) -> None:
    expected = json.dumps(document, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
    got = indented_json(document, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
    assert got == expected


@pytest.mark.parametrize(
    "document",
    [
        {},
        [],
        (),
        "Дмитрий\u202e",
        {"a": {}, "b": [], "c": [[]], "d": [{}], "e": [[1, [2, {"f": ()}]]]},
        {"hosts": [{"name": "rds-01", "sessions": [{"id": 2, "doubts": []}], "facts": None}]},
        {"n": Count.TWO, "m": [Count.TWO, True, False, None, 1.5, math.inf, -math.inf, math.nan]},
        {Name("sub"): Name("class"), "deep": [{"x": Name("y")}]},
        {1: "number keys", "k": [{"x": 1}]},  # json converts the keys; so must this
        {1: "flat", None: "keys", False: "too", 2.5: "all"},
        {"z": [1], "a": {"y": [2], "b": 1}},
    ],
)
@pytest.mark.parametrize("sort_keys", [False, True])
def test_edge_documents(document: Any, sort_keys: bool) -> None:
    for ensure_ascii in (False, True):
        expected = outcome(json.dumps, document, ensure_ascii, sort_keys)
        assert outcome(indented_json, document, ensure_ascii, sort_keys) == expected


def outcome(
    write: Callable[..., str], document: Any, ensure_ascii: bool, sort_keys: bool
) -> tuple[str, str]:
    """The text written, or the error raised (sorting keys of mixed types)."""
    try:
        return "text", write(document, indent=2, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
    except TypeError as exc:
        return "error", type(exc).__name__


def test_what_json_cannot_write_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(TypeError):
        indented_json({"a": [{"b": object()}]})
    with pytest.raises(TypeError):
        indented_json({"a": [1, {2, 3}], "b": [{}]})
