"""WS-Management SOAP for the lab: parse requests by namespace URI, build Windows-shaped replies.

Clients differ in prefixes and header order (pypsrp uses s/wsa/wsman/wsmv, pywinrm env/a/w/p
with To first and no SessionId), so everything is looked up by namespace URI only
(winrm-wire.md §1). Replies copy the shape of real Windows captures (winrm-wire.md §9.2, S1-S14):
one line, no XML declaration, `xml:lang="en-US"` on the Envelope, prefixes s a x w rsp p.
"""

from __future__ import annotations

import base64
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from fleetlogoff.lab.server_errors import WsmanParseError

NS_S = "http://www.w3.org/2003/05/soap-envelope"
NS_A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_X = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_E = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
NS_N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_P = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_CFG = "http://schemas.microsoft.com/wbem/wsman/1/config"

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
RESOURCE_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
RESOURCE_CONFIG = "http://schemas.microsoft.com/wbem/wsman/1/config"

ACTION_CREATE = f"{NS_X}/Create"
ACTION_DELETE = f"{NS_X}/Delete"
ACTION_GET = f"{NS_X}/Get"
ACTION_COMMAND = f"{NS_RSP}/Command"
ACTION_RECEIVE = f"{NS_RSP}/Receive"
ACTION_SEND = f"{NS_RSP}/Send"
ACTION_SIGNAL = f"{NS_RSP}/Signal"

STATE_DONE = f"{NS_RSP}/CommandState/Done"
STATE_RUNNING = f"{NS_RSP}/CommandState/Running"

# Prefix sets Windows declares per reply kind (captures S1-S3, S9, S10).
_DECL = {
    "s": NS_S,
    "a": NS_A,
    "x": NS_X,
    "e": NS_E,
    "n": NS_N,
    "w": NS_W,
    "rsp": NS_RSP,
    "p": NS_P,
}
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class WsmanRequest:
    """The parts of a WS-Man request the lab acts on.

    Attributes:
        action: wsa:Action URI.
        message_id: wsa:MessageID text, verbatim (echoed as RelatesTo).
        resource_uri: wsman:ResourceURI.
        to: wsa:To (echoed as the Create reply's Address).
        operation_timeout: wsman:OperationTimeout text, None when absent.
        options: wsman:Option values keyed by upper-case name.
        selectors: wsman:Selector values keyed by lower-case name (MS-WSMV 3.1.4.1.2:
            selector names are case-insensitive).
        body: the first child of s:Body, None when the body is empty.
    """

    action: str
    message_id: str
    resource_uri: str
    to: str
    operation_timeout: str | None
    options: dict[str, str]
    selectors: dict[str, str]
    body: ET.Element | None


def qname(ns: str, local: str) -> str:
    """Return the ElementTree name `{ns}local`."""
    return f"{{{ns}}}{local}"


def parse_request(data: bytes) -> WsmanRequest:
    """Parse a SOAP envelope by namespace URI.

    Args:
        data: the (decrypted) request body.

    Returns:
        The request's addressing headers, options, selectors and body element.

    Raises:
        WsmanParseError: the body is not XML or lacks Header, Action or MessageID.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WsmanParseError(f"not XML ({exc})") from None
    header = root.find(qname(NS_S, "Header"))
    body = root.find(qname(NS_S, "Body"))
    if root.tag != qname(NS_S, "Envelope") or header is None:
        raise WsmanParseError("no SOAP 1.2 Envelope/Header")
    action = _header_text(header, NS_A, "Action")
    message_id = _header_text(header, NS_A, "MessageID")
    if not action or not message_id:
        raise WsmanParseError("missing wsa:Action or wsa:MessageID", message_id or "")
    return WsmanRequest(
        action=action,
        message_id=message_id,
        resource_uri=_header_text(header, NS_W, "ResourceURI") or "",
        to=_header_text(header, NS_A, "To") or "",
        operation_timeout=_header_text(header, NS_W, "OperationTimeout"),
        options=_read_named(header, "OptionSet", "Option", upper=True),
        selectors=_read_named(header, "SelectorSet", "Selector", upper=False),
        body=body[0] if body is not None and len(body) else None,
    )


def _header_text(header: ET.Element, ns: str, local: str) -> str | None:
    element = header.find(qname(ns, local))
    if element is None or element.text is None:
        return None
    return element.text.strip()


def _read_named(header: ET.Element, set_name: str, item: str, *, upper: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    container = header.find(qname(NS_W, set_name))
    if container is None:
        return found
    for element in container.iter(qname(NS_W, item)):
        name = element.get("Name", "")
        key = name.upper() if upper else name.lower()
        found[key] = (element.text or "").strip()
    return found


def parse_duration(text: str) -> float:
    """Parse an xs:duration as WinRM uses it (`PT20S`, `PT60.000S`, `P0DT0H5M0S`).

    Args:
        text: the duration text.

    Returns:
        Seconds.

    Raises:
        ValueError: not a non-negative day/time duration (e.g. `PT-1S`).
    """
    # Every request carries an OperationTimeout and clients send one or two values: cache
    # the short ones (a hostile client's long text must not be kept).
    return _parse_short_duration(text) if len(text) <= 64 else _parse_duration(text)


@lru_cache(maxsize=64)
def _parse_short_duration(text: str) -> float:
    return _parse_duration(text)


def _parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"invalid duration {text!r}")
    days, hours, minutes = (int(match.group(g) or 0) for g in ("d", "h", "m"))
    return days * 86400 + hours * 3600 + minutes * 60 + float(match.group("s") or 0)


def format_idle_timeout(seconds: float) -> str:
    """Format seconds the way Windows echoes rsp:IdleTimeOut (`PT7200.000S`, capture S1)."""
    return f"PT{seconds:.3f}S"


def new_message_id() -> str:
    """Return a fresh `uuid:` MessageID in Windows' upper case."""
    return f"uuid:{new_guid()}"


def new_guid() -> str:
    """Return an upper-case GUID without prefix (ShellId and CommandId form, capture S1/S2).

    A random (version 4) UUID as str(uuid.uuid4()).upper() prints it, without building a
    UUID object (a third of the cost; tests/lab/test_wire.py checks the two agree).
    """
    return _format_guid(os.urandom(16))


def _format_guid(random_bytes: bytes) -> str:
    """str(uuid.UUID(bytes=random_bytes, version=4)).upper()."""
    data = bytearray(random_bytes)
    data[6] = (data[6] & 0x0F) | 0x40  # version 4
    data[8] = (data[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = data.hex().upper()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def build_envelope(action: str, relates_to: str, body: str, prefixes: str) -> bytes:
    """Wrap a body in a Windows-shaped envelope.

    Args:
        action: the reply's wsa:Action.
        relates_to: the request's MessageID, verbatim (pypsrp string-compares it).
        body: the inner XML of s:Body.
        prefixes: blank-separated prefixes to declare on the Envelope, e.g. "s a x w rsp p".

    Returns:
        The UTF-8 bytes of the one-line envelope.
    """
    decls = "".join(f' xmlns:{p}="{_DECL[p]}"' for p in prefixes.split())
    text = (
        f'<s:Envelope xml:lang="en-US"{decls}><s:Header>'
        f"<a:Action>{escape(action)}</a:Action><a:MessageID>{new_message_id()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To><a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ShellInfo:
    """What a CreateResponse (and a Get on the shell) reports about a shell."""

    shell_id: str
    owner: str
    client_ip: str
    idle_timeout_s: float
    input_streams: str
    output_streams: str
    working_directory: str | None = None


def render_shell(info: ShellInfo) -> str:
    """Render rsp:Shell with the children of capture S1, in its order."""
    workdir = (
        f"<rsp:WorkingDirectory>{escape(info.working_directory)}</rsp:WorkingDirectory>"
        if info.working_directory is not None
        else ""
    )
    return (
        f'<rsp:Shell xmlns:rsp="{NS_RSP}"><rsp:ShellId>{info.shell_id}</rsp:ShellId>'
        f"<rsp:ResourceUri>{RESOURCE_CMD}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(info.owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(info.client_ip)}</rsp:ClientIP>"
        f"<rsp:IdleTimeOut>{format_idle_timeout(info.idle_timeout_s)}</rsp:IdleTimeOut>{workdir}"
        f"<rsp:InputStreams>{escape(info.input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(info.output_streams)}</rsp:OutputStreams>"
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
    )


def build_create_response(relates_to: str, address: str, info: ShellInfo) -> bytes:
    """Build the CreateResponse of capture S1 (ResourceCreated + rsp:Shell).

    pypsrp copies the ResourceCreated SelectorSet into every later request; pywinrm looks for
    any element with Name="ShellId".
    """
    body = (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{RESOURCE_CMD}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{info.shell_id}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated>{render_shell(info)}"
    )
    return build_envelope(f"{NS_X}/CreateResponse", relates_to, body, "s a x w rsp p")


def build_get_shell_response(relates_to: str, info: ShellInfo) -> bytes:
    """Build the GetResponse for the shell resource (WinRS._get_shell)."""
    return build_envelope(f"{NS_X}/GetResponse", relates_to, render_shell(info), "s a x w rsp p")


def build_command_response(relates_to: str, command_id: str) -> bytes:
    """Build the CommandResponse of capture S2."""
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return build_envelope(f"{NS_RSP}/CommandResponse", relates_to, body, "s a x w rsp p")


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One rsp:Stream element of a ReceiveResponse (every Stream carries Name: Ansible needs it)."""

    name: str
    data: bytes
    end: bool = False


def build_receive_response(
    relates_to: str,
    command_id: str,
    chunks: Sequence[StreamChunk],
    exit_code: int | None,
) -> bytes:
    """Build a ReceiveResponse (captures S3-S5).

    Args:
        relates_to: the request's MessageID.
        command_id: the command the output belongs to.
        chunks: output and End markers, in write order.
        exit_code: None while Running; the exit code once Done (Done always carries
            ExitCode: Ansible does int(ExitCode.text) and crashes without it).

    Returns:
        The envelope bytes.
    """
    cid = quoteattr(command_id)
    parts = []
    for chunk in chunks:
        end = ' End="true"' if chunk.end else ""
        text = base64.b64encode(chunk.data).decode("ascii")
        parts.append(f'<rsp:Stream Name="{chunk.name}" CommandId={cid}{end}>{text}</rsp:Stream>')
    if exit_code is None:
        state = f'<rsp:CommandState CommandId={cid} State="{STATE_RUNNING}"></rsp:CommandState>'
    else:
        state = (
            f'<rsp:CommandState CommandId={cid} State="{STATE_DONE}">'
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    body = f"<rsp:ReceiveResponse>{''.join(parts)}{state}</rsp:ReceiveResponse>"
    return build_envelope(f"{NS_RSP}/ReceiveResponse", relates_to, body, "s a w rsp p")


def build_send_response(relates_to: str) -> bytes:
    """Build the SendResponse (`test_winrs_send.yml`)."""
    return build_envelope(
        f"{NS_RSP}/SendResponse", relates_to, "<rsp:SendResponse/>", "s a x w rsp p"
    )


def build_signal_response(relates_to: str) -> bytes:
    """Build the SignalResponse of capture S9."""
    body = "<rsp:SignalResponse/>"
    return build_envelope(f"{NS_RSP}/SignalResponse", relates_to, body, "s a x w rsp p")


def build_delete_response(relates_to: str) -> bytes:
    """Build the DeleteResponse of capture S10 (a full envelope with an empty Body)."""
    return build_envelope(f"{NS_X}/DeleteResponse", relates_to, "", "s a w p")


def build_config_response(relates_to: str, *, max_shells_per_user: int, idle_ms: int) -> bytes:
    """Build the GetResponse on the config resource (capture S14, the fields clients read)."""
    body = (
        f'<cfg:Config xmlns:cfg="{NS_CFG}"><cfg:MaxEnvelopeSizekb>500</cfg:MaxEnvelopeSizekb>'
        "<cfg:MaxTimeoutms>60000</cfg:MaxTimeoutms><cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
        "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
        "<cfg:Service><cfg:MaxConcurrentOperationsPerUser>1500</cfg:MaxConcurrentOperationsPerUser>"
        "<cfg:AllowUnencrypted>false</cfg:AllowUnencrypted></cfg:Service>"
        "<cfg:Winrs><cfg:AllowRemoteShellAccess>true</cfg:AllowRemoteShellAccess>"
        f"<cfg:IdleTimeout>{idle_ms}</cfg:IdleTimeout>"
        f"<cfg:MaxShellsPerUser>{max_shells_per_user}</cfg:MaxShellsPerUser></cfg:Winrs></cfg:Config>"
    )
    return build_envelope(f"{NS_X}/GetResponse", relates_to, body, "s a x w p")
