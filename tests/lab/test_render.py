"""The lab's quser/qwinsta text against real captures from the corpus, line by line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetlogoff.lab.locales import LOCALES, Locale, SessionState, format_logon_time, get_locale
from fleetlogoff.lab.render import (
    QwinstaLayout,
    display_width,
    format_idle,
    render_quser,
    render_qwinsta,
    truncate_name,
)
from fleetlogoff.lab.sessions import Session, make_infrastructure

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC).timestamp()
A, C, D, L = (
    SessionState.ACTIVE,
    SessionState.CONNECTED,
    SessionState.DISCONNECTED,
    SessionState.LISTEN,
)
# Idle stand-ins: '.' is under a minute; None prints the locale's "none" word.
DOT = 10.0


def sample_lines(name: str) -> list[str]:
    """The verbatim lines of a corpus file, without its '#' provenance header."""
    text = (CORPUS / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not line.startswith("#")]


def at(stamp: str) -> float:
    """Epoch seconds of a 'YYYY-MM-DD HH:MM' wall-clock time (hosts here use UTC)."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()


def user(
    sid: int, name: str, who: str, state: SessionState, logon: str, idle: float | None
) -> Session:
    last_input = None if idle is None else NOW - idle
    return Session(sid, name, who, state, at(logon), last_input)


ISO = replace(
    get_locale("en-US"),
    tag="en-ISO",
    international={
        **get_locale("en-US").international,
        "sShortDate": "yyyy-MM-dd",
        "sTimeFormat": "H:mm:ss",
    },
)

QUSER_CASES: list[tuple[str, Locale, int | None, list[Session], bool]] = [
    (
        "quser-en-us-01.txt",
        get_locale("en-US"),
        1,
        [user(1, "Console", "vertigoray", A, "2018-07-26 19:29", 3 * 3600 + 11 * 60)],
        False,
    ),
    (
        "quser-en-us-04-ws2012.txt",
        get_locale("en-US"),
        1,
        [user(1, "Console", "SomeUser", A, "2015-08-16 17:29", None)],
        False,
    ),
    (
        "quser-en-au-01.txt",
        get_locale("en-AU"),
        None,
        [user(2, "", "lbambrick", D, "2023-02-03 19:36", 28 * 60)],
        False,
    ),
    (
        "quser-en-ch-03.txt",
        get_locale("en-CH"),
        None,
        [
            user(2, "Console", "administrator", A, "2026-09-18 05:59", 60),
            user(3, "", "müller", D, "2026-09-18 06:03", DOT),
        ],
        False,
    ),
    (
        "quser-en-ch-04.txt",
        get_locale("en-CH"),
        None,
        [
            user(2, "RDP-Tcp#2", "administrator", A, "2026-09-18 05:59", 6 * 60),
            user(3, "RDP-Tcp#1", "müller", A, "2026-09-18 06:03", DOT),
        ],
        False,
    ),
    (
        "quser-en-iso-01.txt",
        ISO,
        1,
        [user(1, "Console", "corta", A, "2021-05-13 00:15", 86400 + 6 * 3600 + 20 * 60)],
        True,
    ),
    (
        "quser-de-de-01.txt",
        get_locale("de-DE"),
        None,
        [user(4, "Console", "manfred", A, "2025-04-28 12:03", None)],
        False,
    ),
    (
        "quser-de-ch-02.txt",
        get_locale("de-DE"),
        None,
        [user(1, "", "müller", D, "2026-09-28 08:47", 2 * 60)],
        False,
    ),
    (
        "quser-fr-fr-03.txt",
        get_locale("fr-FR"),
        2,
        [user(2, "RDP-Tcp#1", "jsboi", A, "2026-09-20 12:27", 2 * 60)],
        False,
    ),
    (
        "quser-es-ec-01.txt",
        get_locale("es-EC"),
        1,
        [
            user(1, "Console", "mabe-b3", A, "2018-07-25 07:46", None),
            user(2, "", "otro00", D, "2018-07-25 10:51", 2 * 60),
        ],
        False,
    ),
    (
        "quser-ru-ru-01.txt",
        get_locale("ru-RU"),
        1,
        [user(1, "RDP-Tcp#1", "user1", A, "2021-05-14 15:54", DOT)],
        True,
    ),
    (
        "quser-ru-ru-02.txt",
        get_locale("ru-RU"),
        1,
        [user(1, "Console", "user1", A, "2021-05-14 15:54", None)],
        True,
    ),
    (
        "quser-zh-cn-01.txt",
        get_locale("zh-CN"),
        None,
        [user(2, "RDP-Tcp#0", "john", A, "2023-11-07 13:19", 3600 + 34 * 60)],
        False,
    ),
    (
        "quser-zh-cn-03.txt",
        get_locale("zh-CN"),
        1,
        [
            user(1, "RDP-Tcp#1", "administrator", A, "2020-12-14 11:14", DOT),
            user(2, "RDP-Tcp#0", "test", A, "2020-12-14 13:04", 3600 + 2 * 60),
        ],
        False,
    ),
]


@pytest.mark.parametrize(
    ("sample", "locale", "current", "sessions", "header_blank_lost"),
    QUSER_CASES,
    ids=[case[0] for case in QUSER_CASES],
)
def test_quser_reproduces_corpus_sample(
    sample: str,
    locale: Locale,
    current: int | None,
    sessions: list[Session],
    header_blank_lost: bool,
) -> None:
    rendered = render_quser(sessions, locale, NOW, 0, current)
    if header_blank_lost:  # the sample's source dropped the header's leading blank
        rendered[0] = rendered[0][1:]
    assert rendered == sample_lines(sample)


def test_quser_french_aucun_row_matches_capture_despite_damaged_header() -> None:
    # [quser-fr-fr-01]: the header lost 'É' when captured; the data row is intact.
    sessions = [user(1, "Console", "olivier", A, "2023-02-12 07:11", None)]
    rendered = render_quser(sessions, get_locale("fr-FR"), NOW, 0, 1)
    assert rendered[1] == sample_lines("quser-fr-fr-01.txt")[1]
    assert rendered[0] == sample_lines("quser-fr-fr-03.txt")[0]


def test_quser_spanish_pm_designator_has_a_blank() -> None:
    # [quser-es-mx-01-comment]: English UI with the es-MX regional format.
    locale = replace(get_locale("es-MX"), ui=get_locale("en-US").ui)
    session = user(2, "RDP-Tcp#0", "uif54465", A, "2024-10-16 15:00", DOT)
    row = render_quser([session], locale, NOW, 0)[1]
    assert row[1:] == sample_lines("quser-es-mx-01-comment.txt")[1]


QWINSTA_CASES: list[tuple[str, str, QwinstaLayout, int | None, list[Session]]] = [
    (
        "qwinsta-en-us-01.txt",
        "en-US",
        QwinstaLayout.CLASSIC,
        8,
        [
            Session(0, "Services", "", D),
            Session(1, "Console", "", C),
            *[
                Session(sid, "", name, D)
                for sid, name in [
                    (2, "t1_toby.beck5"),
                    (3, "t1_toby.beck"),
                    (4, "t1_toby.beck1"),
                    (5, "t1_toby.beck2"),
                    (6, "t1_toby.beck3"),
                    (7, "t1_toby.beck4"),
                ]
            ],
            Session(8, "RDP-Tcp#59", "t2_kelly.blake", A),
            Session(9, "", "jenna.field", D),
            Session(65536, "RDP-Tcp", "", L),
        ],
    ),
    (
        "qwinsta-en-us-02.txt",
        "en-US",
        QwinstaLayout.CLASSIC,
        2,
        [
            Session(0, "Services", "", D),
            Session(1, "Console", "", C),
            Session(2, "RDP-Tcp#16", "user", A),
            Session(65536, "RDP-Tcp", "", L),
        ],
    ),
    (
        "qwinsta-en-us-06.txt",
        "en-US",
        QwinstaLayout.CLASSIC,
        0,
        make_infrastructure("tbrady")[:2],
    ),
    (
        "qwinsta-de-de-01.txt",
        "de-DE",
        QwinstaLayout.CLASSIC,
        None,
        [
            Session(0, "Services", "", D),
            Session(3, "Console", "Leo", A),
            Session(65536, "RDP-Tcp", "", L),
        ],
    ),
    (
        "qwinsta-ja-jp-01.txt",
        "ja-JP",
        QwinstaLayout.CLASSIC,
        2,
        [
            Session(0, "Services", "", D),
            Session(2, "Console", "user1", A),
            Session(65536, "RDP-Tcp", "", L),
        ],
    ),
    (
        "qwinsta-zh-cn-01.txt",
        "zh-CN",
        QwinstaLayout.CLASSIC,
        1,
        make_infrastructure("testuser")[:2],
    ),
]


@pytest.mark.parametrize(
    ("sample", "tag", "layout", "current", "sessions"),
    QWINSTA_CASES,
    ids=[case[0] for case in QWINSTA_CASES],
)
def test_qwinsta_reproduces_corpus_sample(
    sample: str, tag: str, layout: QwinstaLayout, current: int | None, sessions: list[Session]
) -> None:
    assert render_qwinsta(sessions, get_locale(tag), layout, current) == sample_lines(sample)


def test_qwinsta_wide_layout_reproduces_windows11_capture() -> None:
    sessions = [Session(0, "Services", "", D), Session(1, "Console", "Fidel", A)]
    rendered = render_qwinsta(sessions, get_locale("en-US"), QwinstaLayout.WIDE, 1)
    expected = sample_lines("qwinsta-en-win11-01.txt")
    # The capture's last row lost its trailing blanks (see the fixture header).
    assert rendered[:2] == expected[:2]
    assert rendered[2].rstrip() == expected[2]
    assert all(display_width(line) == 84 for line in rendered[1:])


def test_qwinsta_lists_listener_and_services_but_quser_does_not() -> None:
    sessions = make_infrastructure("bob", NOW - 60)
    quser = render_quser(sessions, get_locale("en-US"), NOW, 0)
    qwinsta = render_qwinsta(sessions, get_locale("en-US"))
    assert len(quser) == 2 and "bob" in quser[1]
    assert [line.split()[-2] for line in qwinsta[1:]] == ["0", "1", "65536"]
    assert "bob" in qwinsta[2]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "none"),
        (0, "."),
        (59.9, "."),
        (60, "1"),
        (59 * 60 + 59, "59"),
        (3600, "1:00"),
        (23 * 3600 + 34 * 60, "23:34"),
        (86400, "1+00:00"),
        (15 * 86400 + 15 * 3600 + 12 * 60, "15+15:12"),
    ],
)
def test_format_idle_covers_every_corpus_form(seconds: float | None, expected: str) -> None:
    assert format_idle(seconds, "none") == expected


def test_cjk_user_name_is_padded_by_display_width() -> None:
    sessions = [user(2, "RDP-Tcp#4", "王伟", A, "2026-01-05 09:00", 5 * 60)]
    row = render_quser(sessions, get_locale("zh-CN"), NOW, 0)[1]
    assert display_width(row[: row.index("rdp-tcp#4")]) == 23
    assert row.endswith("2026/1/5 9:00")


def test_long_session_names_are_truncated_like_windows() -> None:
    assert truncate_name("31c5ce94259d4006a9e4#0", 15) == "31c5ce94259d..."
    assert truncate_name("31c5ce94259d4006a9e4#0", 16) == "31c5ce94259d4..."
    assert truncate_name("rdp-tcp#123", 15) == "rdp-tcp#123"


def test_every_locale_renders_every_state() -> None:
    for locale in LOCALES.values():
        sessions = [
            user(2 + i, "", f"u{i}", state, "2026-01-01 00:00", 90)
            for i, state in enumerate(SessionState)
        ]
        assert len(render_qwinsta(sessions, locale)) == 1 + len(SessionState)
        assert len(render_quser(sessions, locale, NOW, 0)) == 1 + len(SessionState)


@pytest.mark.parametrize(
    ("pattern", "am", "pm", "expected"),
    [
        ("M/d/yyyy h:mm tt", "AM", "PM", "6/10/2026 12:05 PM"),
        ("dd/MM/yyyy hh:mm tt", "a. m.", "p. m.", "10/06/2026 12:05 p. m."),
        ("dd.MM.yyyy HH:mm", "", "", "10.06.2026 12:05"),
        ("yyyy/M/d H:mm", "", "", "2026/6/10 12:05"),
    ],
)
def test_format_logon_time_patterns(pattern: str, am: str, pm: str, expected: str) -> None:
    when = datetime(2026, 6, 10, 12, 5)
    assert format_logon_time(when, pattern, am, pm) == expected
