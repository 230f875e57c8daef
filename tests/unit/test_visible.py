"""Host text on a screen: controls, escape sequences and bidi overrides become visible
escapes; letters of every script, spaces and backslashes stay as they are."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetlogoff.visible import safe_json, visible, visible_lines

HOSTILE = [
    ("\x1b]0;pwned\x07ann", "\\x1b]0;pwned\\x07ann"),  # OSC: retitles the terminal
    ("\x1b[2Jbob", "\\x1b[2Jbob"),  # clears the screen
    ("eve\x9b31m", "eve\\x9b31m"),  # C1 CSI, a one-byte escape in 8-bit terminals
    ("nna\u202eexe.txt", "nna\\u202eexe.txt"),  # RIGHT-TO-LEFT OVERRIDE
    ("a\u2066b\u2069", "a\\u2066b\\u2069"),  # LEFT-TO-RIGHT ISOLATE, POP DIRECTIONAL ISOLATE
    ("x\u200fy\u061cz", "x\\u200fy\\u061cz"),  # RIGHT-TO-LEFT MARK, ARABIC LETTER MARK
    ("line\nfake: ok", "line\\x0afake: ok"),  # a newline forging a second line
    ("cr\rover", "cr\\x0dover"),  # carriage return overwriting the start of the line
    ("del\x7f", "del\\x7f"),
    ("sep\u2028par\u2029", "sep\\u2028par\\u2029"),
    ("zw\u200bsp\ufeff", "zw\\u200bsp\\ufeff"),  # zero-width space, BOM
    ("tag\U000e0041", "tag\\U000e0041"),  # a TAG character (invisible text)
    ("lone\udc80", "lone\\udc80"),  # what a surrogateescape decode leaves
]
HARMLESS = [
    "CORP\\jdoe",
    "jürgen.weiß",
    "Дмитрий",
    "山田太郎",
    "محمد",  # right-to-left letters themselves are fine: only overrides reorder text
    "a\u00a0b\u3000c",  # no-break and ideographic spaces
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian needs ZWNJ
    "👩\u200d💻",  # ZWJ joins an emoji sequence
    "",
]


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_hostile_characters_are_escaped_visibly(text: str, shown: str) -> None:
    assert visible(text) == shown


@pytest.mark.parametrize("text", HARMLESS)
def test_letters_spaces_and_backslashes_are_unchanged(text: str) -> None:
    assert visible(text) == text


@given(st.text())
def test_nothing_that_acts_on_a_screen_survives(text: str) -> None:
    shown = visible(text)
    for char in shown:
        category = unicodedata.category(char)
        assert category not in ("Cc", "Cs", "Zl", "Zp"), repr(char)
        assert category != "Cf" or char in "\u200c\u200d", repr(char)


def test_raw_outputs_keep_their_lines_but_nothing_else() -> None:
    assert visible_lines("a\r\nb\x1b[1m\nc") == "a\nb\\x1b[1m\nc"


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_safe_json_is_the_same_data_with_nothing_hidden(document: object) -> None:
    text = safe_json(document)
    assert json.loads(text) == document
    assert all(unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp") or c == "\n" for c in text)
    assert "\u202e" not in text


def test_safe_json_keeps_letters_readable() -> None:
    assert safe_json({"user": "Дмитрий\u202e"}, indent=None) == '{"user": "Дмитрий\\u202e"}'


@given(
    st.recursive(
        st.text() | st.sampled_from([t for t, _ in HOSTILE]),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    ),
    st.sampled_from([None, 2]),
)
def test_safe_json_escapes_exactly_the_characters_visible_would(
    document: object, indent: int | None
) -> None:
    assert safe_json(document, indent=indent) == _reference(document, indent)


@pytest.mark.parametrize("indent", [None, 2])
def test_safe_json_of_a_long_text_escapes_across_its_scan_blocks(indent: int | None) -> None:
    """Long texts are scanned in blocks (only those not plain ASCII): hidden characters
    on either side of a block's edge, and runs across it, come out as everywhere else."""
    hostile = "\x7f\u202e\x85Дü\U0001f600\ud800\u2028\x1b"
    for offset in range(1000, 1040, 3):
        document = {"pad": "a" * offset, "v": [hostile, "b" * 3000, "é" + hostile * 200]}
        assert safe_json(document, indent=indent) == _reference(document, indent)


def _reference(document: object, indent: int | None) -> str:
    """Every character of json.dumps' text tested one by one."""
    text = json.dumps(document, indent=indent, ensure_ascii=False)
    return "".join(
        "".join(f"\\u{u:04x}" for u in _utf16_units(c)) if _is_hidden(c) and c != "\n" else c
        for c in text
    )


def _is_hidden(char: str) -> bool:
    return char not in "\u200c\u200d" and unicodedata.category(char) in (
        "Cc",
        "Cf",
        "Cs",
        "Zl",
        "Zp",
    )


def _utf16_units(char: str) -> list[int]:
    encoded = char.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)]
