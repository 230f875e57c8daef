"""The few WS-Management messages this tool sends to a Windows Remote Shell, and reading
their answers, without a general-purpose XML tree on the way out.

Building each message as an ElementTree and serialising it was the largest share of the
client's CPU per host after the HTTP stack (benchmarks/README.md). These messages are
fixed templates around a few values, so they are written as text; the bytes are exactly
pypsrp 0.9.1's (same prefixes, order and escaping: tests/unit/test_winrs.py checks them
against pypsrp itself), and pypsrp stays the reference. Answers are untrusted and read
with expat (C, entity amplification limits since expat 2.4) with direct child lookups.

Spec: MS-WSMV 3.1.4.5 (Create), 3.1.4.11 (Command), 3.1.4.13-14 (Send, Receive), 3.1.4.3
(Delete), 2.2.4.43 (faults); the header is the one pypsrp's WSMan._create_header writes.
"""

from __future__ import annotations

import base64
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
WST = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSMANFAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
_PREFIXES = {"rsp": RSP, "s": S, "wsa": WSA, "wsman": WSMAN, "wsmv": WSMV}

RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
COMMAND = f"{RSP}/Command"
SEND = f"{RSP}/Send"
RECEIVE = f"{RSP}/Receive"
SIGNAL = f"{RSP}/Signal"
DONE = f"{RSP}/CommandState/Done"
_ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
# 2150858793: ERROR_WSMAN_OPERATION_TIMEDOUT, the long-poll "no output yet" answer to
# Receive (MS-WSMV 3.1.4.14); the client polls again.
OPERATION_TIMEOUT = 2150858793


class WinRSError(Exception):
    """An answer that is not what WS-Management promises (well-formed but wrong)."""


class WinRSFault(Exception):
    """A WS-Management fault (MS-WSMV 2.2.4.43).

    Attributes:
        code: the WSManFault Code as a number, else the SOAP subcode text.
        reason: the fault's message, on one line.
    """

    def __init__(self, code: int | str | None, reason: str) -> None:
        super().__init__(f"WS-Management fault {code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Received:
    """One Receive answer: output chunks in order, and the exit code once done."""

    stdout: bytes
    stderr: bytes
    done: bool
    exit_code: int | None


class MessageBuilder:
    """The messages of one WSMan session (one host): what does not change between them
    (endpoint, session id, locales, sizes) is escaped once."""

    def __init__(
        self,
        endpoint: str,
        *,
        operation_timeout: int = 20,
        max_envelope_size: int = 153600,
        locale: str = "en-US",
        data_locale: str | None = None,
        session_id: str | None = None,
    ) -> None:
        self.session_id = session_id or new_message_id()
        self._operation_timeout = operation_timeout
        self._locale = _attr(locale)
        self._data_locale = _attr(data_locale or locale)
        self._max = max_envelope_size
        self._tail = (
            f'<wsmv:SessionId s:mustUnderstand="false">uuid:{_text(self.session_id)}'
            f"</wsmv:SessionId><wsa:To>{_text(endpoint)}</wsa:To>"
        )

    def create(self, message_id: str, codepage: int | None) -> bytes:
        options = _options([("WINRS_CODEPAGE", str(codepage))]) if codepage is not None else ""
        body = (
            "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
        )
        return self._envelope(CREATE, message_id, options, body)

    def command(self, message_id: str, selectors: Selectors, command_line: str) -> bytes:
        options = _options([("WINRS_SKIP_CMD_SHELL", "False")])
        body = (
            f"<rsp:CommandLine><rsp:Command>{_text(command_line)}</rsp:Command></rsp:CommandLine>"
        )
        return self._envelope(COMMAND, message_id, options + _selectors(selectors), body)

    def send(self, message_id: str, selectors: Selectors, command_id: str, data: bytes) -> bytes:
        encoded = base64.b64encode(data).decode("ascii")
        body = (
            f'<rsp:Send><rsp:Stream Name="stdin" End="True" CommandId="{_attr(command_id)}">'
            f"{encoded}</rsp:Stream></rsp:Send>"
        )
        return self._envelope(SEND, message_id, _selectors(selectors), body)

    def receive(
        self, message_id: str, selectors: Selectors, command_id: str, timeout: int
    ) -> bytes:
        options = _options([("WSMAN_CMDSHELL_OPTION_KEEPALIVE", "True")])
        body = (
            f'<rsp:Receive><rsp:DesiredStream CommandId="{_attr(command_id)}">stdout stderr'
            "</rsp:DesiredStream></rsp:Receive>"
        )
        header = options + _selectors(selectors)
        return self._envelope(RECEIVE, message_id, header, body, timeout)

    def delete(self, message_id: str, selectors: Selectors) -> bytes:
        return self._envelope(DELETE, message_id, _selectors(selectors), "")

    def _envelope(
        self, action: str, message_id: str, extra: str, body: str, timeout: int | None = None
    ) -> bytes:
        header = (
            f'<wsa:Action s:mustUnderstand="true">{action}</wsa:Action>'
            f'<wsmv:DataLocale s:mustUnderstand="false" xml:lang="{self._data_locale}" />'
            f'<wsman:Locale s:mustUnderstand="false" xml:lang="{self._locale}" />'
            f'<wsman:MaxEnvelopeSize s:mustUnderstand="true">{self._max}</wsman:MaxEnvelopeSize>'
            f"<wsa:MessageID>uuid:{message_id}</wsa:MessageID>"
            f"<wsman:OperationTimeout>PT{timeout or self._operation_timeout}S"
            "</wsman:OperationTimeout>"
            f'<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">{_ANONYMOUS}</wsa:Address>'
            "</wsa:ReplyTo>"
            f'<wsman:ResourceURI s:mustUnderstand="true">{RESOURCE_CMD}</wsman:ResourceURI>'
            f"{self._tail}{extra}"
        )
        body_xml = f"<s:Body>{body}</s:Body>" if body else "<s:Body />"
        # ElementTree declares the namespaces a document uses, sorted by prefix; rsp only
        # appears in bodies.
        declarations = _WITH_RSP if "<rsp:" in body else _HEADER_ONLY
        return (
            f"<s:Envelope {declarations}><s:Header>{header}</s:Header>{body_xml}</s:Envelope>"
        ).encode()


def _declarations(*prefixes: str) -> str:
    return " ".join(f'xmlns:{p}="{_PREFIXES[p]}"' for p in prefixes)


_WITH_RSP = _declarations("rsp", "s", "wsa", "wsman", "wsmv")
_HEADER_ONLY = _declarations("s", "wsa", "wsman", "wsmv")
Selectors = tuple[tuple[str, str], ...]


def new_message_id() -> str:
    """An upper-case UUID4, as pypsrp (and Windows) write them."""
    return format_uuid4(os.urandom(16))


def format_uuid4(random_bytes: bytes) -> str:
    """`str(uuid.UUID(bytes=random_bytes, version=4)).upper()`, without building the UUID
    object (a third of the cost; five per host)."""
    data = bytearray(random_bytes)
    data[6] = (data[6] & 0x0F) | 0x40  # version 4
    data[8] = (data[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = data.hex().upper()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _options(values: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<wsman:Option Name="{_attr(name)}">{_text(value)}</wsman:Option>'
        for name, value in values
    )
    return f'<wsman:OptionSet s:mustUnderstand="true">{items}</wsman:OptionSet>'


def _selectors(values: Selectors) -> str:
    items = "".join(
        f'<wsman:Selector Name="{_attr(name)}">{_text(value)}</wsman:Selector>'
        for name, value in values
    )
    return f"<wsman:SelectorSet>{items}</wsman:SelectorSet>"


def _text(value: str) -> str:
    """ElementTree's escaping of element text (_escape_cdata)."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def _attr(value: str) -> str:
    """ElementTree's escaping of attribute values (_escape_attrib, Python 3.11)."""
    value = _text(value)
    for raw, escaped in (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")):
        if raw in value:
            value = value.replace(raw, escaped)
    return value


# -- answers -----------------------------------------------------------------------------


def read_answer(body: bytes, message_id: str) -> ET.Element:
    """The s:Body of a 2xx answer, after checking it answers `message_id` (as pypsrp
    checks wsa:RelatesTo on every answer: WSMan.invoke)."""
    root = _parse(body)
    header = _child(root, f"{{{S}}}Header")
    relates = _child(header, f"{{{WSA}}}RelatesTo") if header is not None else None
    if relates is None or relates.text != f"uuid:{message_id}":
        raise WinRSError("answer does not relate to the request (wsa:RelatesTo)")
    found = _child(root, f"{{{S}}}Body")
    if found is None:
        raise WinRSError("answer without s:Body")
    return found


def read_fault(body: bytes) -> WinRSFault:
    """The fault in a non-2xx answer (pypsrp's _parse_wsman_fault, field for field)."""
    root = _parse(body)
    fault = _path(root, f"{{{S}}}Body", f"{{{S}}}Fault")
    if fault is None:
        raise WinRSError("error answer without a WS-Management fault")
    code: int | str | None = _text_of(
        _path(fault, f"{{{S}}}Code", f"{{{S}}}Subcode", f"{{{S}}}Value")
    ) or _text_of(_path(fault, f"{{{S}}}Code", f"{{{S}}}Value"))
    reason = _text_of(_path(fault, f"{{{S}}}Reason", f"{{{S}}}Text"))
    detail = _path(fault, f"{{{S}}}Detail", f"{{{WSMANFAULT}}}WSManFault")
    if detail is not None:
        code = detail.attrib.get("Code", code)
        reason = _text_of(_child(detail, f"{{{WSMANFAULT}}}Message")) or reason
    if isinstance(code, str) and code.isascii() and code.isdigit():  # int('²') raises
        code = int(code)
    return WinRSFault(code, " ".join((reason or "").split())[:300])


def read_selectors(body: ET.Element) -> Selectors:
    """The shell's selectors from a CreateResponse: its wst:ResourceCreated SelectorSet
    (copied into every later request, as pypsrp does), else its rsp:ShellId."""
    found = _path(
        body,
        f"{{{WST}}}ResourceCreated",
        f"{{{WSA}}}ReferenceParameters",
        f"{{{WSMAN}}}SelectorSet",
    )
    if found is not None:
        selectors = tuple((s.attrib.get("Name", ""), s.text or "") for s in found)
        if selectors:
            return selectors
    shell_id = _text_of(_path(body, f"{{{RSP}}}Shell", f"{{{RSP}}}ShellId"))
    if not shell_id:
        raise WinRSError("Create answer without a shell id")
    return (("ShellId", shell_id),)


def read_command_id(body: ET.Element) -> str:
    command_id = _text_of(_path(body, f"{{{RSP}}}CommandResponse", f"{{{RSP}}}CommandId"))
    if not command_id:
        raise WinRSError("Command answer without a command id")
    return command_id


def read_received(body: ET.Element) -> Received:
    """Output and state of a ReceiveResponse (streams in order; pypsrp's receive())."""
    response = _child(body, f"{{{RSP}}}ReceiveResponse")
    if response is None:
        raise WinRSError("Receive answer without rsp:ReceiveResponse")
    stdout, stderr = bytearray(), bytearray()
    done, exit_code = False, None
    for element in response:
        if element.tag == f"{{{RSP}}}Stream" and element.text:
            target = stdout if element.attrib.get("Name") == "stdout" else stderr
            target += _base64(element.text)
        elif element.tag == f"{{{RSP}}}CommandState":
            done = element.attrib.get("State") == DONE
            code = _text_of(_child(element, f"{{{RSP}}}ExitCode"))
            exit_code = _exit_code(code) if done and code else None
    return Received(bytes(stdout), bytes(stderr), done, exit_code)


def _parse(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        # WS-Management never carries a DTD; entities could only be a trap (expansion).
        raise WinRSError("answer carries a DTD")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise WinRSError(f"answer is not XML ({exc})") from None


def _child(parent: ET.Element | None, tag: str) -> ET.Element | None:
    if parent is None:
        return None
    for child in parent:
        if child.tag == tag:
            return child
    return None


def _path(parent: ET.Element | None, *tags: str) -> ET.Element | None:
    for tag in tags:
        parent = _child(parent, tag)
    return parent


def _text_of(element: ET.Element | None) -> str | None:
    return element.text if element is not None else None


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise WinRSError("output stream is not base64") from None


def _exit_code(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise WinRSError(f"exit code is not a number: {text[:20]!r}") from None
