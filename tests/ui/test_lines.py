"""The plain grid's measure of text agrees with rich's, and reasons mask as before."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from fleetlogoff.model import Session, SessionState
from fleetlogoff.planner import PlannedSession
from fleetlogoff.ui.lines import Column, grid_lines, text_width
from fleetlogoff.ui.reasons import reason_shape


@given(st.text() | st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_text_width_is_richs_cell_len(text: str) -> None:
    assert text_width(text) == cell_len(text)


def test_wide_and_cut_cells_line_up() -> None:
    columns = [Column("USER", shrink=1, minimum=4), Column("ID", align="right")]
    rows = [["王伟", "2"], ["a-very-long-name", "10"]]
    lines = ["".join(text for text, _ in line) for line in grid_lines(columns, rows, width=14)]
    assert lines == ["  USER      ID", "  王伟       2", "  a-very-…  10"]


def test_a_reason_that_quotes_nothing_of_its_row_is_its_own_shape() -> None:
    session = Session(3, "ann", "rdp-tcp#1", SessionState.ACTIVE, "Active", 60, "1", None, "")
    kept = PlannedSession(session, "keep", None, "no rule matched")
    assert reason_shape(kept) == "no rule matched"
    named = PlannedSession(session, "protected", None, "protected: protected user ann")
    assert reason_shape(named) == "protected user <user>"
