"""Fuzzed plan files (bounded): `apply` answers each with one line and exit 4 (refused) or
64 (bad input), never a traceback or another code."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.plan_file import PlanFileError, plan_document, plan_from_document
from tests.cliutil import run_cli

from .test_plan_file import PLAN

VALID = plan_document(PLAN)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["2126-01-01T00:00:00+00:00", "2026-11-24T09:00:00", "target", "ok"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document a value sits."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PLACES = [p for p in _paths(VALID) if p]


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        place = draw(st.sampled_from(PLACES))
        parent: Any = document
        try:
            for step in place[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(place[-1], None)
            else:
                parent[place[-1]] = draw(JSON_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this place
    return document


@FUZZ
@given(mutated_documents())
def test_a_mutated_document_is_a_plan_or_one_refusal(document: Any) -> None:
    try:
        plan_from_document(document, "p.json")
    except PlanFileError as exc:
        assert "\n" not in str(exc)


def _apply(data: bytes) -> tuple[ExitStatus, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.json"
        path.write_bytes(data)
        audit = str(Path(folder) / "audit.jsonl")
        result = run_cli(["apply", str(path), "--yes", "--warn", "0", "--audit-log", audit])
    return result.status, result.stderr


@FUZZ
@given(
    st.one_of(mutated_documents().map(lambda d: json.dumps(d).encode()), st.binary(max_size=200))
)
def test_apply_answers_any_plan_file_with_one_line_and_4_or_64(data: bytes) -> None:
    if not data.lstrip().startswith(b"{"):
        data = b"{" + data  # read as a plan, not as an inventory
    status, stderr = _apply(data)
    assert status in (ExitStatus.REFUSED, ExitStatus.USAGE), stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
