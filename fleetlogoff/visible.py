"""Text that came from a host, made safe to print: control characters, terminal escape
sequences and bidi overrides are shown as visible escapes instead of acting on the screen.

A host is not trusted. A user name such as ``"\\x1b]0;pwned\\x07ann"`` would retitle the
admin's terminal, ``"\\x1b[2J"`` would clear it, and U+202E (RIGHT-TO-LEFT OVERRIDE) makes
``"nna\\u202eexe.txt"`` read as something else (Trojan Source, CVE-2021-42574). Every view
and every plain line passes host text through `visible()` before printing it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from fleetlogoff.json_text import indented_json

# General categories that act on a terminal or on the reading order rather than print:
# Cc (C0/C1 controls: ESC, CSI U+009B, BEL, CR, ...), Cf (format: bidi embeddings,
# overrides, isolates and marks, zero-width space, BOM), Cs (lone surrogates, which a
# surrogateescape decode can produce), Zl/Zp (line and paragraph separators).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Format characters a correct spelling needs (Persian, Indic scripts, emoji sequences):
# ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER change how letters join, not what a
# terminal does or the order text is read in.
_SPELLING_FORMAT = frozenset({"\u200c", "\u200d"})
# Candidates for escaping: anything but printable ASCII and letters or digits of any
# script (\w, which no control, format or separator character is), so names in Cyrillic
# or CJK never reach the per-character check.
_CANDIDATE = re.compile(r"[^\w\x20-\x7e]")
_JSON_CANDIDATE = re.compile(r"[^\w\x20-\x7e\n]")
# Runs of what is not printable ASCII or a line break: every _JSON_CANDIDATE lies in one.
# Finding them needs no Unicode lookup per character, so a JSON text of some MiB (mostly
# ASCII) is scanned several times faster than by _JSON_CANDIDATE itself.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n]+")


def _hidden(char: str) -> bool:
    return char not in _SPELLING_FORMAT and unicodedata.category(char) in _HIDDEN_CATEGORIES


def escape_char(char: str) -> str:
    """The visible escape of one character, as Python writes it: \\x1b, \\u202e, \\U000e0001."""
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _replace(match: re.Match[str]) -> str:
    char = match.group()
    return escape_char(char) if _hidden(char) else char


def visible(text: str) -> str:
    """`text` with every control, format and separator character escaped visibly.

    Letters of every script, spaces (NBSP and ideographic space included) and backslashes
    print as they are: ``CORP\\jdoe`` and ``Дмитрий`` are unchanged.
    """
    if text.isascii() and text.isprintable():
        return text  # the common case, at the cost of two C loops
    return _CANDIDATE.sub(_replace, text)


def visible_lines(text: str) -> str:
    """Like `visible`, but line breaks stay line breaks (raw command outputs at -vv)."""
    return "\n".join(visible(line) for line in text.replace("\r\n", "\n").split("\n"))


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not _hidden(char):
        return char
    encoded = char.encode("utf-16-be", "surrogatepass")
    units = (int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2))
    return "".join(f"\\u{unit:04x}" for unit in units)


def safe_json(document: Any, *, indent: int | None = 2) -> str:
    """JSON for a screen or a pipe: non-ASCII letters stay readable, while every character
    `visible` would escape is written as a JSON \\u escape. The document decodes to exactly
    the same data; only its encoding differs."""
    if indent is None:
        text = json.dumps(document, ensure_ascii=False)
    else:
        text = indented_json(document, indent=indent, ensure_ascii=False)
    # json escapes C0 controls inside strings, so a raw \n is indentation; outside strings
    # the text is pure ASCII, so this only ever rewrites characters inside strings.
    return safe_json_text(text)


# A plan's JSON is some MiB, nearly all printable ASCII: _NOT_PLAIN's scan, character by
# character, cost more than encoding it. A block that is ASCII and holds no DEL (the one
# ASCII character json leaves raw that _NOT_PLAIN matches: it escapes C0 controls, and
# lays out with spaces and line breaks only) has nothing to escape; str.isascii() and
# `in` tell so at memory speed. Only the other blocks are scanned. Each character is
# escaped on its own, so a run split across two blocks comes out the same.
_SCAN_BLOCK = 1024


def safe_json_text(text: str) -> str:
    """safe_json's escapes for JSON text already encoded with ensure_ascii=False (a plan's
    text, written to its file and printed: encoded once): _NOT_PLAIN.sub(_escape_run,
    text), scanning only the blocks that may need it."""
    if text.isascii() and "\x7f" not in text:
        return text
    parts = []
    for start in range(0, len(text), _SCAN_BLOCK):
        block = text[start : start + _SCAN_BLOCK]
        plain = block.isascii() and "\x7f" not in block
        parts.append(block if plain else _NOT_PLAIN.sub(_escape_run, block))
    return "".join(parts)


def _escape_run(match: re.Match[str]) -> str:
    return _JSON_CANDIDATE.sub(_json_escape, match.group())
