"""The parsers' fast paths give what the general paths give: rows cut with string methods
against rows cut token by token, display columns summed at C speed against a scan
character by character, logon parts handed over against parts read again, registry
values looked up by index against a scan. Seeded random rows, lab rows and corpus rows,
damaged in the ways real output is (cut, shifted, wide or combining characters)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fleetlogoff.errors import ParseError
from fleetlogoff.lab.locales import LOCALES
from fleetlogoff.lab.locales import SessionState as LabState
from fleetlogoff.lab.render import render_quser
from fleetlogoff.lab.sessions import Session as LabSession
from fleetlogoff.parsers import parse_quser
from fleetlogoff.parsers.columns import (
    HeaderGeometry,
    RowCut,
    Table,
    Token,
    _cut_by_tokens,
    _cut_fitting_row,
    _one_column_each,
    find_tokens,
    find_tokens_by_char,
    locate_table,
    measure_char,
    split_marker,
)
from fleetlogoff.parsers.dates import DateOrder, implied_order, parse_logon_times, read_logon
from fleetlogoff.parsers.quser import cut_quser, sessions_from_rows
from fleetlogoff.parsers.registry import RegistryKey

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
# Characters that change columns or blanks: wide, combining, zero-width, other blanks.
ODD = ["王", "运行中", "\u0301", "é", "Д", "\u200b", "\ufffd", "\t", "\x1c", "\u3000", "５", ">"]
NOW = 1_764_000_000.0  # a fixed instant (late November 2025, UTC)


def scan_tokens(line: str, shift: int = 0) -> list[Token]:
    """The reference: one character at a time, as find_tokens_by_char used to."""
    tokens: list[Token] = []
    column, start_index, start_column = shift, -1, 0
    for index, char in enumerate(line):
        if char.isspace():
            if start_index >= 0:
                tokens.append(
                    Token(line[start_index:index], start_column, column, start_index, index)
                )
                start_index = -1
        elif start_index < 0:
            start_index, start_column = index, column
        column += measure_char(char)
    if start_index >= 0:
        tokens.append(Token(line[start_index:], start_column, column, start_index, len(line)))
    return tokens


def lab_outputs() -> list[str]:
    """quser output of every lab locale, with long, wide and accented names."""
    users = ["anna.meier", "王伟", "Дмитрий", "José", "maximilian.schneider", "j.doe"]
    sessions = [
        LabSession(2 + n, f"RDP-Tcp#{n}", user, state, NOW - 3600 * (n + 1), NOW - 60 * n)
        for n, (user, state) in enumerate(
            zip(users, [LabState.ACTIVE, LabState.DISCONNECTED] * 3, strict=True)
        )
    ]
    return ["\r\n".join(render_quser(sessions, locale, NOW, 0)) for locale in LOCALES.values()]


def corpus_outputs() -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("q*.txt"))]
    return [text.split("# ---\n", 1)[-1] for text in texts]


def damage(line: str, rng: random.Random) -> str:
    at = rng.randint(0, len(line))
    choice = rng.randrange(4)
    if choice == 0:
        return line[:at]
    if choice == 1:
        return line[:at] + rng.choice(ODD) + line[at:]
    if choice == 2:
        return line[:at] + line[at + rng.randint(1, 4) :]
    return line[:at] + " " + line[at:]


def test_display_columns_match_a_character_scan() -> None:
    rng = random.Random(5)
    pool = [*ODD, " ", "  ", "a", "12/1/2026", "上午", "rdp-tcp#3"]
    for _ in range(3000):
        line = "".join(rng.choice(pool) for _ in range(rng.randint(0, 20)))
        shift = rng.randint(0, 3)
        assert find_tokens_by_char(line, shift) == scan_tokens(line, shift), repr(line)
        assert find_tokens(line, shift) == scan_tokens(line, shift), repr(line)


def test_rows_cut_with_string_methods_match_rows_cut_by_tokens() -> None:
    rng = random.Random(7)
    fitted = 0
    for text in lab_outputs() + corpus_outputs():
        table = locate_table_or_none(text)
        if table is None:
            continue
        for number, row in table.rows:
            for line in [row] + [damage(row, rng) for _ in range(30)]:
                current, content = split_marker(line)
                shift = 1 if table.header.marker else 0
                if not _one_column_each(content):
                    continue
                fast = _cut_fitting_row(table.header, current, content, shift)
                slow = cut_by_tokens_or_error(table.header, (current, content, shift), number)
                if fast is not None:
                    fitted += 1
                    assert fast == slow, repr(line)
                    assert fast.rest_tokens == slow.rest_tokens, repr(line)
    assert fitted > 500  # the fast path is taken, not only the fallback


def locate_table_or_none(text: str) -> Table | None:
    try:
        return locate_table("quser", text)
    except ParseError:
        return None


def cut_by_tokens_or_error(
    header: HeaderGeometry, marked: tuple[bool, str, int], number: int
) -> RowCut | ParseError:
    try:
        return _cut_by_tokens("quser", header, marked, number, "raw")
    except ParseError as error:
        return error


def test_rest_tokens_are_the_tokens_after_the_id() -> None:
    header = locate_table("quser", lab_outputs()[0])
    assert header is not None
    _, row = header.rows[0]
    current, content = split_marker(row)
    cut = _cut_fitting_row(header.header, current, content, 1)
    assert cut is not None
    tokens = find_tokens(content, 1)
    ids = [t for t in tokens if t.end == header.header.id_end]
    assert cut.rest_tokens == tuple(t for t in tokens if t.index > ids[0].index)
    assert cut.rest == content[ids[0].stop :]


@pytest.mark.parametrize("order", ["auto", "mdy", "dmy", "ymd"])
def test_logon_parts_handed_over_read_as_the_texts_would(order: DateOrder) -> None:
    for text in lab_outputs() + corpus_outputs():
        try:
            rows = cut_quser(text)
        except Exception:  # error samples: nothing to compare  # noqa: BLE001
            continue
        if rows is None:
            continue
        texts = [row.logon_text for row in rows.rows]
        assert [row.logon for row in rows.rows] == [read_logon(t) for t in texts]
        parsed = [row.logon for row in rows.rows]
        assert parse_logon_times(texts, order, parsed=parsed) == parse_logon_times(texts, order)
        assert implied_order(texts, parsed=parsed) == implied_order(texts)
        assert sessions_from_rows(rows, date_order=order) == parse_quser(text, date_order=order)


def test_registry_values_are_found_case_insensitively_first_one_first() -> None:
    key = RegistryKey("HKEY_X", {"sShortDate": ("REG_SZ", "a"), "SSHORTDATE": ("REG_SZ", "b")})
    assert key.get("sshortdate") == "a" and key.get("SShortDate") == "a"
    assert key.get("missing") is None
    assert key == RegistryKey("HKEY_X", dict(key.values))
    assert "_folded" not in repr(key)
