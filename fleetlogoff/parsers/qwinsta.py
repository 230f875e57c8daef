"""Parser for `qwinsta` (= `query session`) output, in any display language.

The SESSIONNAME column is 18 columns wide on classic Windows and 26 on newer Windows 11
builds (FORMATS.md §2), so widths are always read from the header; rows are anchored on
the right-aligned ASCII session id. TYPE/DEVICE are only filled on Windows 2000/2003
(qwinsta-en-us-07-legacy-type-column) and are not part of a Session.
"""

from __future__ import annotations

import logging

from fleetlogoff.model import Doubt, DoubtField, Session, SessionState
from fleetlogoff.parsers.columns import HeaderGeometry, RowCut
from fleetlogoff.parsers.encoding import find_damage
from fleetlogoff.parsers.table import cut_table
from fleetlogoff.parsers.words import look_up_state

logger = logging.getLogger(__name__)

_COMMAND = "qwinsta"
_TRUNCATED = "..."  # long names are cut to the column width with "..." appended


def _read_state(cut: RowCut, header: HeaderGeometry) -> str:
    """Return the state text: the first token after the id, plus any token that starts
    before the TYPE column (a state word with a blank). A state word wider than its
    column (ru 'Подключено') pushes TYPE/DEVICE text right; that text is not state."""
    type_column = header.right[1] if len(header.right) > 1 else None
    state = [cut.rest_tokens[0].text]
    for token in cut.rest_tokens[1:]:
        if type_column is None or token.start >= type_column:
            break
        state.append(token.text)
    return " ".join(state)


def _find_doubts(cut: RowCut, state_text: str, damaged: bool) -> list[Doubt]:
    """Return the doubts about one row."""
    doubts: list[Doubt] = []
    fields: tuple[tuple[DoubtField, str, str], ...] = (
        ("session_name", "session name", cut.first),
        ("user", "user name", cut.second),
    )
    for field, label, value in fields:
        damage = find_damage(value)
        if damage is not None:
            doubts.append(Doubt(field, f"{label} {value!r} {damage}"))
        if value.endswith(_TRUNCATED):
            doubts.append(Doubt(field, f"{label} {value!r} is truncated"))
    if look_up_state(state_text) is None:
        doubts.append(Doubt("state", f"unknown state word {state_text!r}"))
    if damaged:
        doubts.append(Doubt("row", "header shows encoding damage"))
    return doubts


def _build_session(cut: RowCut, header: HeaderGeometry) -> Session:
    """Build the Session of one qwinsta row."""
    state_text = _read_state(cut, header)
    state = look_up_state(state_text)
    return Session(
        id=cut.session_id,
        username=cut.second,
        session_name=cut.first,
        state=state if state is not None else SessionState.UNKNOWN,
        state_text=state_text,
        current=cut.current,
        doubts=tuple(_find_doubts(cut, state_text, header.damaged)),
    )


def parse_qwinsta(text: str) -> list[Session]:
    """Parse qwinsta output into sessions (listeners and services included).

    Args:
        text: the whole output (stdout, or stderr when stdout was empty).

    Returns:
        The sessions, in printed order; [] when Windows says no session exists (which
        over a low-privilege WinRM shell may hide real sessions, FORMATS.md §2).

    Raises:
        HostCommandError: the output is a Windows error message.
        ParseError: the output cannot be read with certainty as a whole.
    """
    found = cut_table(_COMMAND, text, "first")
    if found is None:
        return []
    table, cuts = found
    sessions = [_build_session(cut, table.header) for _, cut in cuts]
    logger.debug("qwinsta: %d sessions", len(sessions))
    return sessions
