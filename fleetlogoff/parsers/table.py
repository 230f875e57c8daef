"""What quser and qwinsta share: find the table, or recognise Windows' "nobody" and error
messages, and cut every row at the header's columns."""

from __future__ import annotations

from typing import Literal

from fleetlogoff.errors import ParseError
from fleetlogoff.parsers.columns import RowCut, Table, cut_row, locate_table
from fleetlogoff.parsers.errors import classify_output


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
    rows = []
    for line_number, line in table.rows:
        cut = cut_row(command, table.header, line, line_number, text)
        name = cut.first if name_column == "first" else cut.second
        if " " in name:
            # WinStation names have no blanks; a blank means the columns are shifted.
            raise ParseError(command, f"session name {name!r} has blanks", text, line_number)
        rows.append((line_number, cut))
    return table, rows
