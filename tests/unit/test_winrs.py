"""pypsrp is the reference: the lean path's WinRS messages are byte for byte the ones
pypsrp 0.9.1 sends, and its reading of real Windows answers (tests/fixtures/wire, sources
in winrm-wire.md §9) is pypsrp's."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypsrp.exceptions import WSManFaultError
from pypsrp.shell import WinRS
from pypsrp.wsman import NAMESPACES, OptionSet, WSMan, WSManAction

from fleetlogoff.transport.winrs import (
    MessageBuilder,
    WinRSError,
    WinRSFault,
    format_uuid4,
    new_message_id,
    read_answer,
    read_command_id,
    read_fault,
    read_received,
    read_selectors,
)

WIRE = Path(__file__).resolve().parents[1] / "fixtures" / "wire"
_MESSAGE_ID = re.compile(rb"<wsa:MessageID>uuid:([0-9A-F-]+)</wsa:MessageID>")
_RELATES = re.compile(r"(<a:RelatesTo>)uuid:[0-9A-Fa-f-]+(</a:RelatesTo>)")


def _capture(name: str) -> str:
    return (WIRE / f"{name}.xml").read_text(encoding="utf-8")


class Recorder:
    """pypsrp's transport stand-in: keeps each message, answers with the next capture
    (its RelatesTo set to the message's id, as a server would)."""

    def __init__(self, endpoint: str, answers: list[str]) -> None:
        self.endpoint = endpoint
        self.sent: list[bytes] = []
        self._answers = iter(answers)

    def send(self, message: bytes, **_: object) -> bytes:
        self.sent.append(message)
        found = _MESSAGE_ID.search(message)
        assert found is not None
        answer = _RELATES.sub(rf"\1uuid:{found.group(1).decode()}\2", next(self._answers))
        return answer.encode("utf-8")

    def close(self) -> None:
        return None


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """pypsrp's message ids, made predictable (and kept for our builder)."""
    issued: list[str] = []
    counter = iter(range(1, 1000))

    def next_id() -> uuid.UUID:
        value = uuid.UUID(int=next(counter) * 0x1000100010001)
        issued.append(str(value).upper())
        return value

    monkeypatch.setattr("pypsrp.wsman.uuid.uuid4", next_id)
    yield issued


def _pypsrp(endpoint: str, answers: list[str], operation_timeout: int) -> tuple[WSMan, Recorder]:
    wsman = WSMan("127.0.0.1", port=5985, ssl=False, auth="ntlm", username="u", password="p")
    wsman.operation_timeout = operation_timeout
    recorder = Recorder(endpoint, answers)
    wsman.transport = recorder  # type: ignore[assignment]  # same duck shape: endpoint, send
    return wsman, recorder


def _receive(wsman: WSMan, shell: WinRS, command_id: str, timeout: int) -> ET.Element:
    """A Receive as transport/winrm.py sends it through pypsrp."""
    rsp = NAMESPACES["rsp"]
    receive = ET.Element(f"{{{rsp}}}Receive")
    desired = ET.SubElement(receive, f"{{{rsp}}}DesiredStream", CommandId=command_id)
    desired.text = "stdout stderr"
    options = OptionSet()
    options.add_option("WSMAN_CMDSHELL_OPTION_KEEPALIVE", "True")
    selectors = shell._selector_set
    return wsman.invoke(
        WSManAction.RECEIVE, shell.resource_uri, receive, options, selectors, timeout
    )


@pytest.mark.parametrize(
    ("endpoint", "codepage", "command", "stdin"),
    [
        ("http://rds01.corp.example:5985/wsman", 65001, "quser", None),
        ("http://127.0.0.1:5985/wsman", None, "logoff 3", None),
        ("http://[::1]:5985/wsman?a=1&b=<2>", 850, 'msg 4 /TIME:300 & "x<y>"', "Bonjour é\r\n"),
    ],
)
def test_every_message_is_pypsrps_byte_for_byte(
    fixed_ids: list[str], endpoint: str, codepage: int | None, command: str, stdin: str | None
) -> None:
    answers = [_capture("S1"), _capture("S2")]
    answers += [_capture("S9")] if stdin is not None else []  # any answer will do for Send
    answers += [_capture("S3"), _capture("S9")]
    wsman, recorder = _pypsrp(endpoint, answers, operation_timeout=7)
    shell = WinRS(wsman, codepage=codepage)
    shell.open()
    command_id = read_command_id(shell.command(command, None))  # pypsrp hands the s:Body
    if stdin is not None:
        shell.send("stdin", stdin.encode("cp850"), command_id=command_id, end=True)
    _receive(wsman, shell, command_id, timeout=3)
    shell.close()

    ours = MessageBuilder(endpoint, operation_timeout=7, session_id=str(wsman.session_id).upper())
    assert shell._selector_set is not None
    selectors = tuple((name, value) for name, value, _ in shell._selector_set.values)
    # pypsrp also draws ids for its session and a size estimate: take the messages' own.
    ids = iter(_MESSAGE_ID.findall(b"".join(recorder.sent))[i].decode() for i in range(9))
    expected = [ours.create(next(ids), codepage), ours.command(next(ids), selectors, command)]
    if stdin is not None:
        expected.append(ours.send(next(ids), selectors, command_id, stdin.encode("cp850")))
    expected.append(ours.receive(next(ids), selectors, command_id, 3))
    expected.append(ours.delete(next(ids), selectors))
    assert recorder.sent == expected


def read_answer_any(answer: str) -> ET.Element:
    relates = re.search(r"<a:RelatesTo>uuid:([0-9A-Fa-f-]+)</a:RelatesTo>", answer)
    assert relates is not None
    return read_answer(answer.encode("utf-8"), relates.group(1))


def test_create_and_command_answers_read_as_pypsrp_reads_them(fixed_ids: list[str]) -> None:
    wsman, _ = _pypsrp("http://h:5985/wsman", [_capture("S1")], 20)
    shell = WinRS(wsman)
    shell.open()
    assert shell._selector_set is not None
    pypsrp_selectors = tuple((n, v) for n, v, _ in shell._selector_set.values)
    assert read_selectors(read_answer_any(_capture("S1"))) == pypsrp_selectors
    command_id = read_command_id(read_answer_any(_capture("S2")))
    found = ET.fromstring(_capture("S2")).find(
        "s:Body/rsp:CommandResponse/rsp:CommandId", NAMESPACES
    )
    assert found is not None and command_id == found.text


@pytest.mark.parametrize("capture", ["S3", "S4", "S5"])
def test_receive_answers_read_as_pypsrp_reads_them(fixed_ids: list[str], capture: str) -> None:
    wsman, _ = _pypsrp("http://h:5985/wsman", [_capture("S1"), _capture(capture)], 20)
    shell = WinRS(wsman)
    shell.open()
    state, rc, streams = shell.receive(command_id="C")
    received = read_received(read_answer_any(_capture(capture)))
    assert received.stdout == streams["stdout"] and received.stderr == streams["stderr"]
    assert received.done == state.endswith("/Done")
    assert received.exit_code == (rc if received.done else None)


@pytest.mark.parametrize("capture", ["S6", "S7", "S8", "S11", "S12", "S13", "S15"])
def test_faults_read_as_pypsrp_reads_them(capture: str) -> None:
    expected = WSMan._parse_wsman_fault(_capture(capture))
    assert isinstance(expected, WSManFaultError)
    fault = read_fault(_capture(capture).encode("utf-8"))
    assert isinstance(fault, WinRSFault)
    assert fault.code == expected.code
    assert fault.reason == " ".join((expected.reason or "").split())


def test_an_answer_to_another_request_is_refused() -> None:
    with pytest.raises(WinRSError, match="RelatesTo"):
        read_answer(_capture("S2").encode("utf-8"), "00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'/>",
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><x>&c;&c;&c;&c;&c;</x>',
    ],
)
def test_malformed_answers_are_winrs_errors(body: bytes) -> None:
    """Not XML, no header, a DTD (Windows never sends one; entity expansion is refused
    before expat sees it)."""
    with pytest.raises(WinRSError):
        read_answer(body, "X")


def test_a_fault_code_that_is_no_ascii_number_stays_text() -> None:
    """int() raises on '²' (a digit to str.isdigit()): a hostile fault must not crash."""
    body = _capture("S6").replace('Code="', 'Code="\u00b2', 1)
    fault = read_fault(body.encode("utf-8"))
    assert isinstance(fault, WinRSFault) and isinstance(fault.code, str)


@given(st.binary(min_size=16, max_size=16))
def test_message_ids_are_uuid4s_as_pythons_uuid_writes_them(random_bytes: bytes) -> None:
    assert format_uuid4(random_bytes) == str(uuid.UUID(bytes=random_bytes, version=4)).upper()


def test_fresh_message_ids_are_distinct_version_4_uuids() -> None:
    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 and i == i.upper() for i in ids)
