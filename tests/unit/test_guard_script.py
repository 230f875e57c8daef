"""The guarded logoff's text side: a constant command line, an ASCII stdin payload, and
answers read strictly (anything unexpected is a failure carrying the host's words)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetlogoff.guard_script import (
    CMD_LINE_LIMIT,
    GUARD_SCRIPT,
    GuardMessage,
    GuardTarget,
    decode_text,
    encode_text,
    guard_command_line,
    guard_payload,
    read_guard_output,
)
from fleetlogoff.parsers.windows_errors import explain_windows_error

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
HOSTILE_NAMES = [
    'a&b', 'quo"te', "100%", "bang!", "jürgen.weiß", "张伟", 'x" & shutdown /r & "',
    "$(Stop-Computer)", "`whoami`", "a'; logoff 1; '", "line\r\nbreak", "%COMSPEC%",
]  # fmt: skip
TARGETS = [GuardTarget(2, "stale.user", "3/13/2026 9:05 AM"), GuardTarget(5, "bob", "x")]


def _line(session_id: int | str, *rest: str) -> str:
    return " ".join(["fleetlogoff-guard", str(session_id), *rest])


def test_the_command_line_is_constant_and_fits_cmd_exe() -> None:
    line = guard_command_line()
    assert line == guard_command_line()
    assert line.startswith(
        "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
    )
    assert len(line) < CMD_LINE_LIMIT
    encoded = line.rsplit(" ", 1)[1]
    assert base64.b64decode(encoded).decode("utf-16-le") == GUARD_SCRIPT


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_payload_is_plain_ascii_whatever_the_name(name: str) -> None:
    payload = guard_payload([GuardTarget(7, name, "13.03.2026 09:05")])
    text = payload.decode("ascii")
    assert text.splitlines() == [
        "fleetlogoff-guard 1",
        f"target 7 {encode_text(name)} {encode_text('13.03.2026 09:05')}",
        "end 1",
    ]
    assert set(text) <= set("fleetlogoff-guard 0123456789,tarendg\r\n")


def _code_units_by_hand(text: str) -> str:
    """The encoding as the script's reader expects it, spelled out: each UTF-16LE code
    unit (lone surrogates included) in decimal, joined by commas; "-" for nothing."""
    data = text.encode("utf-16-le", "surrogatepass")
    units = [data[i] | data[i + 1] << 8 for i in range(0, len(data), 2)]
    return ",".join(str(unit) for unit in units) or "-"


@given(st.text(alphabet=st.characters(blacklist_categories=())))
def test_text_is_sent_as_its_utf16_code_units(text: str) -> None:
    assert encode_text(text) == _code_units_by_hand(text)


@pytest.mark.parametrize(
    ("text", "field"),
    [("", "-"), ("bob", "98,111,98"), ("é😀", "233,55357,56832"), ("\ud800", "55296")],
)
def test_code_units_of_known_texts(text: str, field: str) -> None:
    assert encode_text(text) == field


@given(st.text())
def test_text_survives_the_code_unit_encoding(text: str) -> None:
    assert decode_text(encode_text(text)) == text.encode("utf-16-le", "surrogatepass").decode(
        "utf-16-le", "replace"
    )


def test_each_target_gets_its_own_answer() -> None:
    stdout = "\r\n".join(
        [
            _line(2, "logged_off"),
            _line(5, "kept", encode_text("USERNAME ...\n bob  rdp-tcp#1  5 Active"), "-"),
        ]
    )
    logged_off, kept = read_guard_output(stdout, "", TARGETS)
    assert logged_off.status == "logged_off"
    assert kept.status == "kept" and kept.rows.endswith("5 Active") and kept.errors == ""


def test_a_failed_logoff_carries_its_exit_code_and_words() -> None:
    words = "Could not logoff session ID 2 from session rdp-tcp#3, Error code 5\nError [5]:x"
    (failed,) = read_guard_output(_line(2, "failed", "1", encode_text(words)), "", TARGETS[:1])
    assert (failed.status, failed.exit_code, failed.text) == ("failed", 1, words)


@pytest.mark.parametrize(
    ("stdout", "stderr", "expected"),
    [
        ("", "'powershell.exe' is not recognized as an internal or external command,", "not recog"),
        ("", "This program is blocked by group policy.", "blocked by group policy"),
        (_line("-", "error", encode_text("unreadable input")), "", "unreadable input"),
        (_line(2, "logged_off") + "\n" + _line(2, "logged_off"), "", "conflicting"),
        (_line(2, "logged_off") + "\n" + _line(2, "kept", "-", "-"), "", "conflicting"),
        (_line(2, "logged_offx"), "", "logged_offx"),
        (_line(2, "kept", "1,x", "-"), "", "fleetlogoff-guard 2 kept 1,x -"),
        (_line(2, "kept", "99999999", "-"), "", "unreadable answer"),
        ("#< CLIXML\r\n<Objs/>", "", "CLIXML"),
        ("", "", "no answer"),
    ],
)
def test_anything_unexpected_is_a_failure_with_the_hosts_text(
    stdout: str, stderr: str, expected: str
) -> None:
    (result,) = read_guard_output(stdout, stderr, TARGETS[:1])
    assert result.status == "failed"
    assert expected in result.text
    assert result.exit_code is None


def test_a_missing_answer_fails_only_its_own_target() -> None:
    first, second = read_guard_output(_line(2, "logged_off"), "", TARGETS)
    assert first.status == "logged_off" and second.status == "failed"


def test_windows_errors_in_one_english_line() -> None:
    kb_text = (CORPUS / "logoff-en-us-errors.txt").read_text(encoding="utf-8").split("# ---\n")[1]
    explained = explain_windows_error(kb_text)
    assert explained.code == 5
    assert explained.english == "Access is denied (Windows error 5)"
    assert explained.original.startswith("Could not logoff session ID 0 from session Console")
    german = explain_windows_error("Fehler [7022]:Die angegebene Sitzung wurde nicht gefunden.")
    assert german.english == "The specified session cannot be found (Windows error 7022)"
    assert "nicht gefunden" in german.original
    usage = (CORPUS / "logoff-en-us-usage-invalid-param.txt").read_text(encoding="utf-8")
    assert explain_windows_error(usage.split("# ---\n")[1]).code == 87
    assert (
        explain_windows_error("Error [1234]: Odd.").english
        == "Windows error 1234: Error [1234]: Odd."
    )
    assert explain_windows_error("").english == "an error without text"


def test_a_message_line_carries_its_text_and_display_time_as_code_units() -> None:
    target = GuardTarget(3, "jürgen.weiß", "13.03.2026 09:05")
    text = 'Bitte speichern: " & shutdown /r & "\r\nin 5 Minuten'
    payload = guard_payload([GuardMessage(target, text, 300), TARGETS[1]]).decode("ascii")
    lines = payload.splitlines()
    user, logon = encode_text(target.username), encode_text(target.logon_text)
    assert lines[1] == f"message 3 {user} {logon} 300 {encode_text(text)}"
    assert lines[2].startswith("target 5 ") and lines[-1] == "end 2"
    assert decode_text(lines[1].rsplit(" ", 1)[1]) == text


@pytest.mark.parametrize("seconds", [0, -1, 100_000])
def test_a_display_time_the_script_would_refuse_is_refused_here(seconds: int) -> None:
    with pytest.raises(ValueError, match="display time"):
        guard_payload([GuardMessage(TARGETS[0], "hi", seconds)])


def test_an_answer_for_the_other_act_is_a_failure_never_success() -> None:
    """A message target answered `logged_off` (or the reverse) is not what was asked."""
    message = GuardMessage(TARGETS[0], "hi", 60)
    results = read_guard_output(_line(2, "logged_off") + "\n" + _line(5, "messaged"), "",
                                [message, TARGETS[1]])  # fmt: skip
    assert [r.status for r in results] == ["failed", "failed"]
    good = read_guard_output(_line(2, "messaged") + "\n" + _line(5, "logged_off"), "",
                             [message, TARGETS[1]])  # fmt: skip
    assert [r.status for r in good] == ["messaged", "logged_off"]
