"""Synthetic qwinsta outputs (classic, Windows 11 wide, legacy TYPE) and byte decoding."""

from __future__ import annotations

import pytest

from fleetlogoff.errors import HostCommandError, ParseError
from fleetlogoff.model import SessionState
from fleetlogoff.parsers import decode_output, parse_qwinsta, sessions_to_json
from fleetlogoff.parsers.columns import display_width

CLASSIC = " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE"
WIDE = " SESSIONNAME               USERNAME                 ID  STATE   TYPE        DEVICE "
RU = " СЕАНС             ПОЛЬЗОВАТЕЛЬ             ID  СТАТУС  ТИП         УСТР-ВО"


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def make_row(
    name: str, user: str, session_id: int, state: str, *, wide: bool = False, marker: str = " "
) -> str:
    """Classic: name 1-18, user 19-40, id ending at 45, state at 48 (FORMATS.md §2);
    the Windows 11 layout widens the name column to 26."""
    return (
        marker
        + pad(name, 26 if wide else 18)
        + pad(user, 22)
        + str(session_id).rjust(5)
        + ("  " + state)
    )


def read_rows(text: str) -> list[tuple[int, str, str, SessionState, bool]]:
    return [(s.id, s.session_name, s.username, s.state, s.current) for s in parse_qwinsta(text)]


def test_classic_layout() -> None:
    rows = [
        make_row("services", "", 0, "Disc", marker=">"),
        make_row("console", "", 1, "Conn"),
        make_row("", "jenna.field", 9, "Disc"),
        make_row("rdp-tcp#59", "t2_kelly.blake", 8, "Active"),
        make_row("rdp-tcp", "", 65536, "Listen"),
        make_row("31c5ce94259d4...", "", 65537, "Listen"),
    ]
    assert read_rows("\n".join([CLASSIC, *rows])) == [
        (0, "services", "", SessionState.DISCONNECTED, True),
        (1, "console", "", SessionState.CONNECTED, False),
        (9, "", "jenna.field", SessionState.DISCONNECTED, False),
        (8, "rdp-tcp#59", "t2_kelly.blake", SessionState.ACTIVE, False),
        (65536, "rdp-tcp", "", SessionState.LISTEN, False),
        (65537, "31c5ce94259d4...", "", SessionState.LISTEN, False),
    ]


def test_truncated_listener_name_is_doubted() -> None:
    (session,) = parse_qwinsta(CLASSIC + "\n" + make_row("31c5ce94259d4...", "", 65537, "Listen"))
    assert [(d.field, d.reason) for d in session.doubts] == [
        ("session_name", "session name '31c5ce94259d4...' is truncated")
    ]


def test_windows11_wide_layout_with_padding_and_crlf() -> None:
    rows = [
        pad(make_row("services", "", 0, "Disc", wide=True), 84),
        make_row("console", "Fidel", 1, "Active", wide=True, marker=">"),
        pad(make_row("", "bob", 3, "Disc", wide=True), 84),
    ]
    text = "\r\n".join([WIDE, *rows])
    assert read_rows(text) == [
        (0, "services", "", SessionState.DISCONNECTED, False),
        (1, "console", "Fidel", SessionState.ACTIVE, True),
        (3, "", "bob", SessionState.DISCONNECTED, False),
    ]


def test_classic_rows_under_a_wide_header_do_not_fit() -> None:
    with pytest.raises(ParseError) as error:
        parse_qwinsta(WIDE + "\n" + make_row("console", "Fidel", 1, "Active"))
    assert error.value.line_number == 2


def test_legacy_type_column_is_skipped() -> None:
    rows = [
        make_row("console", "", 0, "Conn    wdcon"),
        make_row("rdp-tcp#42", "foo", 2, "Active  rdpwd"),
    ]
    assert read_rows("\n".join([CLASSIC, *rows])) == [
        (0, "console", "", SessionState.CONNECTED, False),
        (2, "rdp-tcp#42", "foo", SessionState.ACTIVE, False),
    ]


def test_russian_state_wider_than_its_column() -> None:
    rows = [make_row("console", "", 1, "Подключено"), make_row("rdp-tcp", "", 65536, "Прием")]
    sessions = parse_qwinsta("\n".join([RU, *rows]))
    assert [(s.state, s.doubts) for s in sessions] == [
        (SessionState.CONNECTED, ()),
        (SessionState.LISTEN, ()),
    ]


def test_cjk_user_name_in_display_columns() -> None:
    header = " 会话名            用户名                   ID  状态    类型        设备"
    (session,) = parse_qwinsta(header + "\n" + make_row("console", "王芳", 1, "运行中"))
    assert (session.username, session.state, session.doubts) == ("王芳", SessionState.ACTIVE, ())


def test_spanish_listener_and_untranslated_conn() -> None:
    """qwinsta-es-01: Spanish Windows prints "Escuchar" for Listen and keeps "Conn"."""
    header = " NOMBRE DE SESIÓN  NOMBRE DE USUARIO        ID  ESTADO    TIPO   DISPOSITIVO"
    rows = [make_row("console", "", 1, "Conn"), make_row("rdp-tcp", "", 65536, "Escuchar")]
    sessions = parse_qwinsta("\n".join([header, *rows]))
    assert [(s.state, s.doubts) for s in sessions] == [
        (SessionState.CONNECTED, ()),
        (SessionState.LISTEN, ()),
    ]


def test_unknown_state_and_mojibake_are_doubted() -> None:
    rows = [make_row("services", "", 0, "Abh”r."), make_row("console", "us\ufffdr", 1, "Active")]
    sessions = parse_qwinsta("\n".join([CLASSIC, *rows]))
    assert sessions[0].state is SessionState.UNKNOWN
    assert [(d.field, d.reason) for d in sessions[0].doubts] == [
        ("state", "unknown state word 'Abh”r.'")
    ]
    assert sessions[1].doubts[0].field == "user"
    assert sessions[1].doubts[0].reason.startswith("user name 'us\ufffdr' contains U+FFFD")


def test_a_bidi_override_in_a_name_is_doubted() -> None:
    rows = [
        make_row("", "nna\u202eexe", 2, "Disc"),
        make_row("rdp\u200b-tcp#3", "bob", 3, "Active"),
    ]
    evil_user, evil_name = parse_qwinsta("\n".join([CLASSIC, *rows]))
    assert [(d.field, d.reason) for d in evil_user.doubts] == [
        ("user", "user name 'nna\\u202eexe' contains control or format characters (\\u202e)")
    ]
    assert [d.field for d in evil_name.doubts] == ["session_name"]


def test_json_has_no_idle_or_logon_for_qwinsta() -> None:
    sessions = parse_qwinsta(CLASSIC + "\n" + make_row("console", "ann", 1, "Active", marker=">"))
    assert sessions_to_json(sessions) == [
        {
            "id": 1,
            "username": "ann",
            "session_name": "console",
            "state": "active",
            "state_text": "Active",
            "idle_seconds": None,
            "idle_text": "",
            "logon_time": None,
            "logon_text": "",
            "current": True,
            "doubts": [],
        }
    ]


def test_no_session_message_and_errors() -> None:
    assert parse_qwinsta("No session exists for *\r\n") == []
    with pytest.raises(HostCommandError) as error:
        parse_qwinsta("Error opening Terminal server srv\r\n\r\nError [5]:Access is denied.\r\n")
    assert (error.value.code, error.value.reason) == (5, "Access is denied.")


def test_row_with_misplaced_state_raises() -> None:
    row = make_row("console", "ann", 1, "Active").replace("  Active", "   Active")
    with pytest.raises(ParseError, match="state") as error:
        parse_qwinsta(CLASSIC + "\n" + row)
    assert error.value.line_number == 2


def test_session_name_with_blank_raises() -> None:
    with pytest.raises(ParseError, match="blanks"):
        parse_qwinsta(CLASSIC + "\n" + make_row("rdp tcp#1", "ann", 1, "Active"))


@pytest.mark.parametrize(
    ("data", "codepage", "text"),
    [
        ("Müller Активно".encode(), 65001, "Müller Активно"),
        ("Müller".encode("cp850"), 850, "Müller"),
        ("Активно".encode("cp866"), 866, "Активно"),
        ("用户名".encode("gbk"), 936, "用户名"),
        (b"\xef\xbb\xbfplain", None, "plain"),
        ("Listen".encode("utf-16"), None, "Listen"),
    ],
)
def test_decode_output(data: bytes, codepage: int | None, text: str) -> None:
    assert decode_output(data, codepage) == text


def test_decode_output_marks_lost_bytes_instead_of_raising() -> None:
    assert decode_output("Müller".encode("cp850"), None) == "M\ufffdller"
    assert decode_output("Müller".encode("cp850"), 65001) == "M\ufffdller"
    assert decode_output(b"M\x81ller", 99999) == "M\ufffdller"


def test_decoded_damage_becomes_a_doubt() -> None:
    raw = (CLASSIC + "\n" + make_row("console", "Müller", 1, "Active")).encode("cp850")
    (session,) = parse_qwinsta(decode_output(raw))
    assert session.username == "M\ufffdller"
    assert session.doubts != ()


def test_counter_lines_after_the_table_are_not_sessions() -> None:
    rows = [make_row("console", "ann", 1, "Active"), make_row("rdp-tcp", "", 65536, "Listen")]
    counters = ["", "Total sessions created: 12", "Nombre total de sessions créées : 5"]
    sessions = parse_qwinsta("\n".join([CLASSIC, *rows, *counters]))
    assert [s.id for s in sessions] == [1, 65536]


def test_a_broken_row_before_counter_lines_is_still_refused() -> None:
    rows = [make_row("console", "ann", 1, "Active"), " rdp-tcp#3   bob  Active"]
    with pytest.raises(ParseError) as error:
        parse_qwinsta("\n".join([CLASSIC, *rows, "Total sessions created: 12"]))
    assert error.value.line_number == 3


def test_a_wide_state_pushing_the_type_column_keeps_its_word() -> None:
    rows = [make_row("console", "", 1, "Подключено") + "  rdpwd"]
    (session,) = parse_qwinsta("\n".join([RU, *rows]))
    assert (session.state, session.state_text, session.doubts) == (
        SessionState.CONNECTED,
        "Подключено",
        (),
    )
