"""Display-width geometry of quser/qwinsta tables.

The console pads columns by DISPLAY width, not by characters: a CJK character takes two
columns (FORMATS.md §1, measured on quser-zh-cn-01 and qwinsta-ja-jp-01). Everything here
works in display columns so that one geometry fits every language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from fleetlogoff.errors import ParseError

# "ID" is ASCII in every language seen (Spanish prints "ID."); FORMATS.md §1 header table.
_ID_HEADER = re.compile(r"(?<!\S)ID\.?(?!\S)")
# Header groups are separated by two or more blanks; single blanks occur inside one
# header word ("IDLE TIME", "NOMBRE USUARIO"), FORMATS.md §1.
_GROUP_GAP = 2
_TOKEN = re.compile(r"\S+")
# Headers longer than this are read every time rather than remembered (they come from
# remote hosts; a real quser header is about 80 columns).
_REMEMBERED_HEADER_MAX = 256


def measure_char(char: str) -> int:
    """Return how many console columns one character takes.

    Args:
        char: a single character.

    Returns:
        2 for East Asian wide/fullwidth characters, 0 for combining marks, else 1.
        Ambiguous-width characters (Cyrillic, U+FFFD) count 1: quser-ru-ru-01 pads
        Cyrillic headers as single columns.
    """
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


class _Widths(dict[str, int]):
    """measure_char, remembered per character: looked up by map() at C speed instead of a
    Python call per character. Bounded, because the text comes from remote hosts."""

    _LIMIT = 4096

    def __missing__(self, char: str) -> int:
        width = measure_char(char)
        if len(self) < self._LIMIT:
            self[char] = width
        return width


_WIDTHS = _Widths()


def display_width(text: str) -> int:
    """Return the console display width of text."""
    if text.isascii():
        return len(text)  # one column each (see find_tokens)
    return sum(map(_WIDTHS.__getitem__, text))


def _one_column_each(text: str) -> bool:
    """True when every character takes exactly one column (display column = index):
    ASCII, and most Latin and Cyrillic text."""
    return text.isascii() or set(map(_WIDTHS.__getitem__, text)) <= {1}


@dataclass(frozen=True, slots=True)
class Token:
    """A run of non-blank characters with its place in the line.

    Attributes:
        text: the characters.
        start: display column of the first character.
        end: display column just after the last character.
        index: character index of the first character in the line.
        stop: character index just after the last character.
    """

    text: str
    start: int
    end: int
    index: int
    stop: int


def find_tokens(line: str, shift: int = 0) -> list[Token]:
    """Split a line into blank-separated tokens with display positions.

    Args:
        line: one output line without its line break.
        shift: added to every display column (to move into header coordinates).

    Returns:
        The tokens, left to right.
    """
    if line.isascii():
        # Every ASCII character takes one column (no ASCII character is wide or
        # combining), so display columns are character indices: most hosts' whole output,
        # read without a per-character loop. `\S` is str.isspace's complement.
        return [
            Token(m.group(), m.start() + shift, m.end() + shift, m.start(), m.end())
            for m in _TOKEN.finditer(line)
        ]
    return find_tokens_by_char(line, shift)


def find_tokens_by_char(line: str, shift: int = 0) -> list[Token]:
    """find_tokens for any text, wide and combining characters too.

    columns[i] is the display column of character i (columns[len] the one after the
    last), summed by accumulate at C speed; tokens are the runs of `\\S` (str.isspace's
    complement for every code point, so the same runs as a character-by-character scan).
    """
    columns = list(accumulate(map(_WIDTHS.__getitem__, line), initial=shift))
    return [
        Token(m.group(), columns[m.start()], columns[m.end()], m.start(), m.end())
        for m in _TOKEN.finditer(line)
    ]


def group_tokens(tokens: list[Token]) -> list[list[Token]]:
    """Group tokens that are separated by fewer than two blank columns."""
    groups: list[list[Token]] = []
    for token in tokens:
        if groups and token.start - groups[-1][-1].end < _GROUP_GAP:
            groups[-1].append(token)
        else:
            groups.append([token])
    return groups


@dataclass(frozen=True, slots=True)
class HeaderGeometry:
    """Column starts read from a header line, in header display columns.

    Attributes:
        left: start column of each header group before ID (user/session fields).
        id_end: display column just after the "ID" letters; session ids are
            right-aligned to it in every sample (FORMATS.md §1 and §2).
        right: start column of each header group after ID (state first).
        marker: True when the header keeps the one-column marker at column 0.
        damaged: True when the header shows encoding damage (U+FFFD or '?').
    """

    left: tuple[int, ...]
    id_end: int
    right: tuple[int, ...]
    marker: bool
    damaged: bool


def read_header(line: str) -> HeaderGeometry | None:
    """Read the geometry of a header line, or None when the line is not a header.

    A header has an ASCII "ID" word with at least one group before and after it.
    """
    match = _ID_HEADER.search(line)
    if match is None:
        return None
    id_end = display_width(line[: match.start()]) + 2  # the two letters "ID", not the dot
    tokens = find_tokens(line)
    before = [token for token in tokens if token.stop <= match.start()]
    after = [token for token in tokens if token.index >= match.end()]
    if not before or not after:
        return None
    return HeaderGeometry(
        left=tuple(group[0].start for group in group_tokens(before)),
        id_end=id_end,
        right=tuple(group[0].start for group in group_tokens(after)),
        marker=line[:1] == " ",
        damaged="\ufffd" in line or "?" in line,
    )


@lru_cache(maxsize=64)
def _read_known_header(line: str) -> HeaderGeometry | None:
    """read_header, remembered: a fleet prints a few headers (one per language) over and
    over, and HeaderGeometry is immutable."""
    return read_header(line)


def split_marker(row: str) -> tuple[bool, str]:
    """Split the one-column marker off a row.

    Real output gives every line a marker column (blank, or `>` for the session the
    command runs in, FORMATS.md §1.5). Some published samples lost it (quser-en-ch-02);
    then the row starts with its first field.

    Returns:
        (current, content): whether the row carried `>`, and the row without its marker.
    """
    if row[:1] in (" ", ">"):
        return row[0] == ">", row[1:]
    return False, row


def split_lines(text: str) -> list[str]:
    """Split output into lines (LF, CRLF or CR) without trailing blanks.

    str.splitlines is not used: it also breaks on form feeds and other separators that
    are not line ends for a Windows console.
    """
    return [line.rstrip() for line in re.split(r"\r\n|\r|\n", text)]


@dataclass(frozen=True, slots=True)
class Table:
    """A header and the non-blank lines below it.

    Attributes:
        header: the header geometry.
        rows: (1-based line number, line) for each non-blank line after the header.
    """

    header: HeaderGeometry
    rows: tuple[tuple[int, str], ...]


def locate_table(command: str, text: str) -> Table | None:
    """Find the header (the first non-blank line) and the rows below it.

    Returns:
        The table, or None when the first non-blank line is not a header.

    Raises:
        ParseError: a header was found but its geometry is unusable, or no row follows.
    """
    lines = split_lines(text)
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    line = lines[first]
    header = _read_known_header(line) if len(line) <= _REMEMBERED_HEADER_MAX else read_header(line)
    if header is None:
        return None
    if len(header.left) != 2:
        reason = f"header shows {len(header.left)} columns before ID, expected 2"
        raise ParseError(command, reason, text, first + 1)
    rows = tuple(
        (number, line) for number, line in enumerate(lines[first + 1 :], first + 2) if line.strip()
    )
    if not rows:
        raise ParseError(command, "header without any session row (truncated output?)", text)
    return Table(header, rows)


@dataclass(frozen=True, slots=True)
class RowCut:
    """A row cut into its fields by the header geometry.

    Attributes:
        current: the row carried the `>` marker.
        first: text of the first field (quser user name, qwinsta session name).
        second: text of the second field (quser session name, qwinsta user name).
        session_id: the right-aligned numeric id.
        content: the row without its marker.
        rest_index: character index in `content` just after the id.
        shift: display column of the first character of `content` (header coordinates).
    """

    current: bool
    first: str
    second: str
    session_id: int
    content: str
    rest_index: int
    shift: int

    @property
    def rest(self) -> str:
        """The row text after the id."""
        return self.content[self.rest_index :]

    @property
    def rest_tokens(self) -> tuple[Token, ...]:
        """Tokens of `rest` (display columns in header coordinates, indices in `content`).

        Found on demand: quser reads `rest` as text, only qwinsta needs its columns.
        """
        tokens = find_tokens(self.content, self.shift)
        return tuple(token for token in tokens if token.index >= self.rest_index)


def _join(content: str, tokens: list[Token]) -> str:
    """Return the text a run of tokens spans, inner blanks kept."""
    return content[tokens[0].index : tokens[-1].stop] if tokens else ""


def _check_left(tokens: list[Token], header: HeaderGeometry) -> str | None:
    """Return why the fields before the id do not fit the header, or None."""
    start, split = header.left
    first = [token for token in tokens if token.start < split]
    second = [token for token in tokens if token.start >= split]
    if any(token.end > split for token in first):
        return f"text crosses column {split} where the second column starts"
    if first and first[0].start != start:
        return f"first column does not start at column {start}"
    if second and second[0].start != split:
        return f"second column does not start at column {split}"
    return None


def cut_row(command: str, header: HeaderGeometry, row: str, line_number: int, raw: str) -> RowCut:
    """Cut one table row by the header geometry.

    Raises:
        ParseError: the row does not fit the geometry (no id right-aligned under "ID",
            fields not aligned under their header, nothing after the id).
    """
    current, content = split_marker(row)
    shift = 1 if header.marker else 0
    if _one_column_each(content):
        cut = _cut_fitting_row(header, current, content, shift)
        if cut is not None:
            return cut
    return _cut_by_tokens(command, header, (current, content, shift), line_number, raw)


def _cut_fitting_row(
    header: HeaderGeometry, current: bool, content: str, shift: int
) -> RowCut | None:
    """cut_row for a row whose characters take one column each (display column = index +
    shift), with string methods instead of tokens. None unless the row fits the header:
    _cut_by_tokens then cuts it, or says why it does not fit. str.split/strip and `\\S`
    agree on what a blank is, so both cut a fitting row the same."""
    stop = header.id_end - shift  # the id's token must end here
    if not 0 < stop <= len(content) or content[stop - 1].isspace():
        return None
    if stop < len(content) and not content[stop].isspace():
        return None
    id_text = content[:stop].rsplit(None, 1)[-1]
    if not (id_text.isascii() and id_text.isdigit()):
        return None
    id_index = stop - len(id_text)
    split = header.left[1] - shift
    if 0 < split < id_index and not (content[split - 1].isspace() or content[split].isspace()):
        return None  # a word crosses the second column's start
    middle = min(max(split, 0), id_index)
    first, second = content[:middle], content[middle:id_index]
    if _starts_at(first, 0) not in (None, header.left[0] - shift):
        return None
    if _starts_at(second, middle) not in (None, split):
        return None
    if _starts_at(content[stop:], stop) != header.right[0] - shift:
        return None
    return RowCut(current, first.strip(), second.strip(), int(id_text), content, stop, shift)


def _starts_at(text: str, offset: int) -> int | None:
    """Index (plus offset) of the first non-blank character of text; None if all blank."""
    kept = text.lstrip()
    return offset + len(text) - len(kept) if kept else None


def _cut_by_tokens(
    command: str,
    header: HeaderGeometry,
    marked: tuple[bool, str, int],
    line_number: int,
    raw: str,
) -> RowCut:
    """cut_row for any row (wide and combining characters too), token by token."""
    current, content, shift = marked
    tokens = find_tokens(content, shift)
    position = next(
        (
            at
            for at, t in enumerate(tokens)
            if t.end == header.id_end and t.text.isascii() and t.text.isdigit()
        ),
        None,
    )
    if position is None:
        problem: str | None = f"no session id ending at column {header.id_end - 1}"
        left: list[Token] = []
        right: list[Token] = []
    else:
        left, right = tokens[:position], tokens[position + 1 :]
        problem = _check_left(left, header)
    if problem is None and (not right or right[0].start != header.right[0]):
        problem = f"no state starting at column {header.right[0]}"
    if problem is not None or position is None:
        problem = problem or "no session id"
        if header.damaged:
            problem += " (the header shows encoding damage: decode with the host's code page)"
        raise ParseError(command, problem, raw, line_number)
    split = header.left[1]
    id_token = tokens[position]
    return RowCut(
        current=current,
        first=_join(content, [token for token in left if token.start < split]),
        second=_join(content, [token for token in left if token.start >= split]),
        session_id=int(id_token.text),
        content=content,
        rest_index=id_token.stop,
        shift=shift,
    )
