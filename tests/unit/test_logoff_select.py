"""What `fleetlogoff logoff X` means on one host, from real qwinsta/quser captures."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetlogoff.logoff_select import choose_sessions
from fleetlogoff.model import Session, SessionState
from fleetlogoff.parsers import parse_qwinsta

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"


def _qwinsta(name: str) -> list[Session]:
    return parse_qwinsta((CORPUS / name).read_text(encoding="utf-8").split("# ---\n", 1)[1])


def _user(session_id: int, user: str, name: str = "") -> Session:
    state = SessionState.ACTIVE if name else SessionState.DISCONNECTED
    return Session(session_id, user, name, state, logon_text="3/13/2026 9:05 AM")


# qwinsta-en-us-05: the console is session 2 there, rdp-tcp#0 is session 1.
STATIONS_05 = _qwinsta("qwinsta-en-us-05.txt")
USERS_05 = [_user(1, "nigel.mills", "rdp-tcp#0")]


def test_an_id_a_name_or_a_user_name() -> None:
    for selector in ("1", "rdp-tcp#0", "RDP-TCP#0", "Nigel.Mills"):
        choice = choose_sessions(selector, USERS_05, STATIONS_05)
        assert [s.id for s in choice.targets] == [1], selector
        assert choice.refused == () and choice.missing is None


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("2", "You cannot log off a user from the console session. (Could not logoff session ID 2"),
        ("console", "You cannot log off a user from the console session."),
        (
            "0",
            "Could not logoff session ID 0 from session services, Error code 5: Access is denied.",
        ),
        ("services", "Could not logoff session ID 0 from session services"),
        ("65536", "Could not logoff session ID 65536 from session rdp-tcp, Error code 5"),
        ("rdp-tcp", "(a listener, not a user's session)"),
    ],
)
def test_what_windows_refuses_is_refused_in_its_words(selector: str, expected: str) -> None:
    choice = choose_sessions(selector, USERS_05, STATIONS_05)
    assert choice.targets == ()
    (refusal,) = choice.refused
    assert expected in refusal.text


def test_the_console_users_session_is_refused_when_asked_for_by_user_name() -> None:
    stations = _qwinsta("qwinsta-en-us-03.txt")  # `>console  forend  1  Active`
    choice = choose_sessions("forend", [_user(1, "forend", "console")], stations)
    assert choice.targets == () and "console session" in choice.refused[0].text


def test_nothing_matches() -> None:
    assert choose_sessions("42", USERS_05, STATIONS_05).missing == (
        "no session ID 42: The specified session cannot be found (Windows error 7022)"
    )
    assert "no session or user named 'ghost'" in (
        choose_sessions("ghost", USERS_05, STATIONS_05).missing or ""
    )


def test_a_user_with_several_sessions_and_disconnected_sessions_without_a_name() -> None:
    stations = _qwinsta("qwinsta-en-us-01.txt")  # t1_toby.beck* disconnected, no names
    users = [_user(s.id, s.username) for s in stations if s.username]
    users.append(_user(10, "t1_toby.beck"))  # a second session of the same user
    choice = choose_sessions("T1_TOBY.BECK", users, stations)
    assert [s.id for s in choice.targets] == [3, 10]


def test_a_name_shared_by_a_session_and_a_listener_is_ambiguous() -> None:
    stations = [
        Session(0, "", "services", SessionState.DISCONNECTED),
        Session(4, "eve", "rdp-tcp", SessionState.ACTIVE),
        Session(65536, "", "rdp-tcp", SessionState.LISTEN),
    ]
    choice = choose_sessions("rdp-tcp", [_user(4, "eve", "rdp-tcp")], stations)
    assert choice.targets == ()
    assert "shared by sessions 4, 65536: give the session id" in choice.refused[0].text
    assert [s.id for s in choose_sessions("4", [_user(4, "eve", "rdp-tcp")], stations).targets] == [
        4
    ]


def test_a_named_session_without_a_user_is_refused() -> None:
    stations = [Session(3, "", "rdp-tcp#9", SessionState.CONNECTED)]
    choice = choose_sessions("rdp-tcp#9", [], stations)
    assert "no user is logged on to it" in choice.refused[0].text


def test_non_ascii_digits_are_not_an_id() -> None:
    assert choose_sessions("²", USERS_05, STATIONS_05).missing is not None
