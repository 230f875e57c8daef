"""What quser and qwinsta share: find the table, or recognise Windows' "nobody" and error
messages, and cut every row at the header's columns."""

from __future__ import annotations

import re
from typing import Literal

from fleetlogoff.errors import ParseError
from fleetlogoff.parsers.columns import RowCut, Table, cut_row, locate_table
from fleetlogoff.parsers.errors import classify_output

# A summary line after the table, "label: number", in any language: qwinsta /COUNTER prints
# "Total sessions created: 5" (English, centreon-plugins sessions.pm), "Erstellte Sitzungen
# gesamt: 5" (corpus qwinsta-de-de-02-counter), "Nombre total de sessions créées : 5".
# The label has no digit: every session row has one (its id) before any colon.
_SUMMARY = re.compile(r"^\s*[^\s\d>:：][^\d:：]*[:：]\s*\d+\s*$")


def _summary_from(rows: tuple[tuple[int, str], ...], index: int) -> bool:
    """True when the rows from `index` on are all summary lines (and there are some)."""
    rest = rows[index:]
    return bool(rest) and all(_SUMMARY.match(line) for _, line in rest)


def cut_table(
    command: str, text: str, name_column: Literal["first", "second"]
) -> tuple[Table, list[tuple[int, RowCut]]] | None:
    """The table and its rows cut into columns; None when Windows says nobody is there.

    Args:
        command: quser or qwinsta (for error messages).
        text: the whole output.
        name_column: which of the first two columns holds the session name (quser prints
            USERNAME first, qwinsta SESSIONNAME first).

    Raises:
        HostCommandError: the output is a Windows error message.
        ParseError: no table, or a row that does not fit its columns.
    """
    table = locate_table(command, text)
    if table is None:
        if classify_output(command, text):
            return None
        raise ParseError(command, "no header line with an ID column", text, 1)
    rows: list[tuple[int, RowCut]] = []
    for index, (line_number, line) in enumerate(table.rows):
        try:
            cut = cut_row(command, table.header, line, line_number, text)
        except ParseError:
            if rows and _summary_from(table.rows, index):
                break  # counters printed after the last row (qwinsta /COUNTER), not sessions
            raise
        name = cut.first if name_column == "first" else cut.second
        if " " in name:
            # WinStation names have no blanks; a blank means the columns are shifted.
            raise ParseError(command, f"session name {name!r} has blanks", text, line_number)
        rows.append((line_number, cut))
    return table, rows
