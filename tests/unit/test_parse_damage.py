"""Damaged real outputs are refused or doubted, never read with confidence: every corpus
listing is damaged the ways real outputs get damaged (a character lost to a wrong code
page, a blank gained or lost inside a row, a row cut short, a row glued to the next) and
each reading that comes back must either equal the intact reading field by field or
carry a doubt on the field that differs."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetlogoff.errors import HostCommandError, ParseError
from fleetlogoff.model import DoubtField, Session
from fleetlogoff.parsers import parse_quser, parse_qwinsta

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LISTINGS = sorted(
    path.stem
    for path in (FIXTURES / "expected").glob("q*.json")
    if json.loads(path.read_text(encoding="utf-8")).get("sessions")
)
TRIES = 40  # damaged variants per sample and kind (fixed seeds: the same every run)


def intact(name: str) -> str:
    text = (FIXTURES / "corpus" / f"{name}.txt").read_text(encoding="utf-8")
    return text.split("# ---\n", 1)[1]


def parse(name: str, text: str) -> list[Session]:
    return parse_quser(text) if name.startswith("quser") else parse_qwinsta(text)


def _rows(text: str) -> list[int]:
    lines = text.split("\n")
    return [i for i, line in enumerate(lines) if line.strip()][1:]  # data rows, not header


def lose_a_character(text: str, rng: random.Random) -> str:
    """A character becomes '?' or U+FFFD, as a wrong code page prints it."""
    lines = text.split("\n")
    row = rng.choice(_rows(text))
    line = lines[row]
    spots = [i for i, c in enumerate(line) if not c.isspace()]
    spot = rng.choice(spots)
    lines[row] = line[:spot] + rng.choice("?\ufffd") + line[spot + 1 :]
    return "\n".join(lines)


def shift_a_row(text: str, rng: random.Random) -> str:
    """A blank is gained or lost somewhere inside a row (a column moves)."""
    lines = text.split("\n")
    row = rng.choice(_rows(text))
    line = lines[row]
    spot = rng.randrange(1, max(2, len(line)))
    if rng.random() < 0.5:
        lines[row] = line[:spot] + " " + line[spot:]
    else:
        blanks = [i for i, c in enumerate(line) if c == " " and i > 0]
        if blanks:
            cut = rng.choice(blanks)
            lines[row] = line[:cut] + line[cut + 1 :]
    return "\n".join(lines)


def cut_a_row_short(text: str, rng: random.Random) -> str:
    """A row ends early (a capture cut, a buffer truncated)."""
    lines = text.split("\n")
    row = rng.choice(_rows(text))
    lines[row] = lines[row][: rng.randrange(1, max(2, len(lines[row])))]
    return "\n".join(lines)


def glue_two_rows(text: str, rng: random.Random) -> str:
    """A line break is lost: a row runs on into the next."""
    lines = text.split("\n")
    rows = _rows(text)
    if len(rows) < 2:
        return text
    row = rng.choice(rows[:-1])
    lines[row : row + 2] = [lines[row] + " " + lines[row + 1].strip()]
    return "\n".join(lines)


DAMAGE: dict[str, Callable[[str, random.Random], str]] = {
    "lost-character": lose_a_character,
    "shifted-row": shift_a_row,
    "short-row": cut_a_row_short,
    "glued-rows": glue_two_rows,
}
# The field of a Session each doubt field vouches for.
FIELDS: dict[DoubtField, tuple[str, ...]] = {
    "user": ("username",),
    "session_name": ("session_name",),
    "state": ("state",),
    "idle": ("idle_seconds",),
    "logon": ("logon_time",),
}


def confident_errors(damaged: list[Session], good: list[Session]) -> list[str]:
    """Fields read differently from the intact output without a doubt saying so."""
    by_id = {s.id: s for s in good}
    problems = []
    for session in damaged:
        if session.identity_doubts:
            continue  # protected: never acted on, whatever it says
        truth = by_id.get(session.id)
        if truth is None:
            problems.append(f"id {session.id} is new and undoubted")
            continue
        for field, attributes in FIELDS.items():
            if truth.doubt_about(field) is not None:
                continue  # the intact reading is itself unsure of this field
            for attribute in attributes:
                differs = getattr(session, attribute) != getattr(truth, attribute)
                if differs and session.doubt_about(field) is None:
                    problems.append(
                        f"id {session.id} {attribute}: {getattr(session, attribute)!r} "
                        f"instead of {getattr(truth, attribute)!r}"
                    )
    return problems


@pytest.mark.parametrize("kind", sorted(DAMAGE))
@pytest.mark.parametrize("name", LISTINGS)
def test_damaged_outputs_are_refused_or_doubted(name: str, kind: str) -> None:
    text = intact(name)
    good = parse(name, text)
    for seed in range(TRIES):
        damaged_text = DAMAGE[kind](text, random.Random(f"{name}:{kind}:{seed}"))
        try:
            damaged = parse(name, damaged_text)
        except (ParseError, HostCommandError):
            continue
        problems = confident_errors(damaged, good)
        assert not problems, (seed, damaged_text, problems)
