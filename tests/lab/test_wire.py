"""Wire-level behaviour of the lab server: HTTP, auth, encryption, network faults, WinRS rules."""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import socket
import ssl
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import spnego
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.shell import Process, WinRS

from fleetlogoff.lab import encryption
from fleetlogoff.lab import wsman as w
from fleetlogoff.lab import wsman_fault as faults
from fleetlogoff.lab.contract import NetworkBehaviour
from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.server_shells import ShellLimits, ShellService
from tests.lab.conftest import ADMIN, FakeHost
from tests.lab.test_clients import make_wsman

# pywinrm-style prefixes (env/a/w/p, To first, no SessionId) to prove parsing is by URI.
_ENVELOPE = (
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
    "<env:Header><a:To>http://127.0.0.1:5985/wsman</a:To>"
    "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
    "{timeout}{selectors}{options}<a:MessageID>{mid}</a:MessageID>"
    "<a:Action>{action}</a:Action></env:Header><env:Body>{body}</env:Body></env:Envelope>"
)


def envelope(
    action: str,
    body: str = "",
    *,
    shell_id: str | None = None,
    timeout: str | None = "PT1S",
    options: str = "",
    mid: str = "uuid:aaaaaaaa-1111-2222-3333-444444444444",
) -> bytes:
    selectors = (
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        if shell_id
        else ""
    )
    opt = f"<w:OptionSet>{options}</w:OptionSet>" if options else ""
    tmo = f"<w:OperationTimeout>{timeout}</w:OperationTimeout>" if timeout else ""
    text = _ENVELOPE.format(
        timeout=tmo, selectors=selectors, options=opt, mid=mid, action=action, body=body
    )
    return text.encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(service: ShellService, data: bytes) -> ET.Element:
    reply = asyncio.run(service.handle(w.parse_request(data), "labadmin", "127.0.0.9"))
    return ET.fromstring(reply)


def fault_of(service: ShellService, data: bytes) -> faults.FaultSpec:
    with pytest.raises(faults.WsmanFault) as caught:
        asyncio.run(service.handle(w.parse_request(data), "labadmin", "127.0.0.9"))
    return caught.value.spec


def open_shell(service: ShellService, options: str = "") -> str:
    body = "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell>"
    root = call(service, envelope(w.ACTION_CREATE, body, options=options))
    shell_id = root.find(f".//{{{w.NS_RSP}}}ShellId")
    assert shell_id is not None and shell_id.text
    return shell_id.text


# --- WinRS rules straight against the shell service -------------------------------------


def test_guids_print_as_upper_case_random_uuids() -> None:
    for _ in range(2000):
        raw = os.urandom(16)
        assert w._format_guid(raw) == str(uuid.UUID(bytes=raw, version=4)).upper()
    guid = w.new_guid()
    assert uuid.UUID(guid).version == 4 and guid == guid.upper() and len(guid) == 36
    assert w.new_message_id().startswith("uuid:") and w.new_message_id() != w.new_message_id()


def test_relates_to_echoes_lower_case_message_id_verbatim() -> None:
    service = ShellService(FakeHost())
    mid = "uuid:0a1b2c3d-0000-4000-8000-abcdefabcdef"
    body = "<rsp:Shell/>"
    root = call(service, envelope(w.ACTION_CREATE, body, mid=mid))
    relates = root.find(f"{{{w.NS_S}}}Header/{{{w.NS_A}}}RelatesTo")
    assert relates is not None and relates.text == mid


def test_codepage_option_reaches_the_host_and_arguments_are_joined() -> None:
    host = FakeHost()
    service = ShellService(host)
    body = "<rsp:CommandLine><rsp:Command>echo</rsp:Command><rsp:Arguments>a</rsp:Arguments>"
    body += "<rsp:Arguments>b c</rsp:Arguments></rsp:CommandLine>"
    skip = '<w:Option Name="WINRS_SKIP_CMD_SHELL">TRUE</w:Option>'
    codepage = '<w:Option Name="WINRS_CODEPAGE">65001</w:Option>'

    async def flow() -> None:
        create = envelope(w.ACTION_CREATE, "<rsp:Shell/>", options=codepage)
        created = ET.fromstring(await service.handle(w.parse_request(create), "labadmin", "x"))
        shell = created.findtext(f".//{{{w.NS_RSP}}}ShellId") or ""
        # Selector values are case-insensitive (MS-WSMV 3.1.4.1.2).
        data = envelope(w.ACTION_COMMAND, body, shell_id=shell.lower(), options=skip)
        await service.handle(w.parse_request(data), "labadmin", "x")
        await asyncio.sleep(0.1)  # the host runs in the default executor

    asyncio.run(flow())
    request = host.requests[0]
    assert (request.command_line, request.codepage, request.skip_cmd_shell) == (
        "echo a b c",
        65001,
        True,
    )


@pytest.mark.parametrize("raw", ["PT-1S", "soon", "P", "PT"])
def test_invalid_operation_timeout_is_fault_2150858767(raw: str) -> None:
    spec = fault_of(
        ShellService(FakeHost()), envelope(w.ACTION_CREATE, "<rsp:Shell/>", timeout=raw)
    )
    assert (spec.code, spec.subcode, spec.addressing) == (
        2150858767,
        "a:InvalidMessageInformationHeader",
        True,
    )
    assert raw in spec.message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT20S", 20.0), ("PT60.000S", 60.0), ("PT5M0S", 300.0), ("P0DT1H0M1S", 3601.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert w.parse_duration(text) == seconds


def test_receive_without_command_id_is_fault_87() -> None:
    service = ShellService(FakeHost())
    shell = open_shell(service)
    body = "<rsp:Receive><rsp:DesiredStream>stdout stderr</rsp:DesiredStream></rsp:Receive>"
    spec = fault_of(service, envelope(w.ACTION_RECEIVE, body, shell_id=shell))
    assert (spec.code, spec.subcode, spec.provider is not None) == (87, "w:InvalidParameter", True)


def test_receive_unknown_command_and_after_done() -> None:
    service = ShellService(FakeHost())
    shell = open_shell(service)
    cmd = "<rsp:CommandLine><rsp:Command>exit 3</rsp:Command></rsp:CommandLine>"

    async def flow() -> tuple[bytes, str]:
        reply = await service.handle(
            w.parse_request(envelope(w.ACTION_COMMAND, cmd, shell_id=shell)), "labadmin", "x"
        )
        cid = ET.fromstring(reply).findtext(f".//{{{w.NS_RSP}}}CommandId") or ""
        receive = (
            f'<rsp:Receive><rsp:DesiredStream CommandId="{cid}">stdout stderr'
            "</rsp:DesiredStream></rsp:Receive>"
        )
        data = envelope(w.ACTION_RECEIVE, receive, shell_id=shell)
        done = await service.handle(w.parse_request(data), "labadmin", "x")
        with pytest.raises(faults.WsmanFault) as caught:
            await service.handle(w.parse_request(data), "labadmin", "x")
        code = f"{w.NS_RSP}/signal/terminate"  # lower-case t, as pywinrm sends it
        signal = f'<rsp:Signal CommandId="{cid}"><rsp:Code>{code}</rsp:Code></rsp:Signal>'
        await service.handle(
            w.parse_request(envelope(w.ACTION_SIGNAL, signal, shell_id=shell)), "labadmin", "x"
        )
        return done, caught.value.spec.message

    done, message = asyncio.run(flow())
    root = ET.fromstring(done)
    state = root.find(f".//{{{w.NS_RSP}}}CommandState")
    assert state is not None and state.get("State") == w.STATE_DONE
    assert root.findtext(f".//{{{w.NS_RSP}}}ExitCode") == "3"
    assert all(s.get("Name") for s in root.iter(f"{{{w.NS_RSP}}}Stream"))
    assert "command identifier that does not exist" in message


def test_max_shells_per_user_quota() -> None:
    service = ShellService(FakeHost(), ShellLimits(max_shells_per_user=2))
    open_shell(service)
    open_shell(service)
    spec = fault_of(service, envelope(w.ACTION_CREATE, "<rsp:Shell/>"))
    assert spec.code == 2150859173


def test_idle_shell_expires() -> None:
    clock = Clock()
    service = ShellService(FakeHost(), ShellLimits(idle_timeout_s=60), clock=clock)
    shell = open_shell(service)
    clock.now += 59
    cmd = "<rsp:CommandLine><rsp:Command>hostname</rsp:Command></rsp:CommandLine>"
    call(service, envelope(w.ACTION_COMMAND, cmd, shell_id=shell))  # resets the idle timer
    clock.now += 61
    spec = fault_of(service, envelope(w.ACTION_COMMAND, cmd, shell_id=shell))
    assert spec.code == 2150858843 and shell in spec.message
    assert service.shell_count == 0


def test_delete_cancels_a_running_command() -> None:
    service = ShellService(FakeHost())

    async def send(data: bytes) -> ET.Element:
        return ET.fromstring(await service.handle(w.parse_request(data), "labadmin", "x"))

    async def flow() -> list[asyncio.Task[Any]]:
        created = await send(envelope(w.ACTION_CREATE, "<rsp:Shell/>"))
        shell_id = created.findtext(f".//{{{w.NS_RSP}}}ShellId") or ""
        cmd = "<rsp:CommandLine><rsp:Command>delay 30 never</rsp:Command></rsp:CommandLine>"
        await send(envelope(w.ACTION_COMMAND, cmd, shell_id=shell_id))
        await asyncio.sleep(0.1)  # the host ran; the command now sleeps its 30 s
        running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await send(envelope(w.ACTION_DELETE, shell_id=shell_id))
        await asyncio.sleep(0)
        return running

    running = asyncio.run(flow())
    assert len(running) == 1 and running[0].cancelled()
    assert service.shell_count == 0


# --- encryption framing --------------------------------------------------------------------


def _context_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from fleetlogoff.lab.auth import NegotiateAcceptor, write_user_file

    user_file = write_user_file(tmp_path_factory.mktemp("users"), "H", [ADMIN])
    client = spnego.client(
        ADMIN.username,
        ADMIN.password,
        protocol="ntlm",
        options=spnego.NegotiateOptions.wrapping_winrm,
    )
    server = NegotiateAcceptor(user_file)
    token = client.step() or b""
    while not server.complete:
        reply = server.step(token)
        if reply is None:
            break
        token = client.step(reply) or b""
    return client, server.context


def test_seal_unseal_round_trip_and_length_check(tmp_path_factory: pytest.TempPathFactory) -> None:
    client, server = _context_pair(tmp_path_factory)
    framed = encryption.seal(client, b"<s:Envelope/>")
    assert b"\tContent-Type: application/octet-stream\r\n" in framed
    assert encryption.unseal(server, framed) == b"<s:Envelope/>"
    tampered = encryption.seal(client, b"<x/>").replace(b"Length=4", b"Length=5")
    with pytest.raises(encryption.EncryptionError, match="announced 5"):
        encryption.unseal(server, tampered)
    assert encryption.CONTENT_TYPE.endswith('boundary="Encrypted Boundary"')


# --- HTTP and auth over a real socket -------------------------------------------------------


def post(
    address: str,
    port: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    path: str = "/wsman",
    tls_ca: str | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    if tls_ca is None:
        conn: http.client.HTTPConnection = http.client.HTTPConnection(address, port, timeout=5)
    else:
        context = ssl.create_default_context(cafile=tls_ca)
        conn = http.client.HTTPSConnection(address, port, timeout=5, context=context)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def test_unauthenticated_post_is_401_negotiate_like_http_sys(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS01")
    response, body = post(
        endpoint.address,
        endpoint.http_port,
        b"<x/>",
        {"Content-Type": "application/soap+xml;charset=UTF-8"},
    )
    assert (response.status, response.reason, body) == (401, "", b"")
    assert response.getheader("Server") == "Microsoft-HTTPAPI/2.0"
    assert response.getheader("Content-Length") == "0"
    assert response.msg.get_all("WWW-Authenticate") == ["Negotiate"]


def test_https_401_also_offers_basic(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS01")
    assert endpoint.https_port is not None
    response, _ = post(endpoint.address, endpoint.https_port, tls_ca=endpoint.ca_path)
    assert response.msg.get_all("WWW-Authenticate") == ["Negotiate", 'Basic realm="WSMAN"']


def test_basic_over_plain_http_is_refused(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS01")
    token = base64.b64encode(f"{ADMIN.username}:{ADMIN.password}".encode()).decode()
    response, _ = post(
        endpoint.address, endpoint.http_port, b"<x/>", {"Authorization": f"Basic {token}"}
    )
    assert response.status == 401


def test_wrong_method_and_path(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS01")
    assert post(endpoint.address, endpoint.http_port, method="GET")[0].status == 405
    assert post(endpoint.address, endpoint.http_port, path="/other")[0].status == 404


def test_ntlm_scheme_is_echoed_and_plaintext_soap_is_refused(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS02")
    client = spnego.client(
        ADMIN.username,
        ADMIN.password,
        protocol="ntlm",
        options=spnego.NegotiateOptions.wrapping_winrm,
    )
    conn = http.client.HTTPConnection(endpoint.address, endpoint.http_port, timeout=5)
    conn.request(
        "POST",
        "/wsman",
        b"",
        {"Authorization": f"NTLM {base64.b64encode(client.step() or b'').decode()}"},
    )
    challenge = conn.getresponse()
    challenge.read()
    scheme, _, token = (challenge.getheader("WWW-Authenticate") or "").partition(" ")
    assert (challenge.status, scheme) == (401, "NTLM")
    final = base64.b64encode(client.step(base64.b64decode(token)) or b"").decode()
    conn.request("POST", "/wsman", b"", {"Authorization": f"NTLM {final}"})
    done = conn.getresponse()
    assert (done.status, done.read()) == (200, b"")  # the authenticated blank POST
    soap = envelope(w.ACTION_CREATE, "<rsp:Shell/>")
    conn.request("POST", "/wsman", soap, {"Content-Type": "application/soap+xml;charset=UTF-8"})
    plain = conn.getresponse()
    plain.read()
    assert plain.status == 401  # AllowUnencrypted=false
    conn.close()


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[RunningFleet]:
    hosts = [
        FakeHost("DOWN", network=NetworkBehaviour(down=True)),
        FakeHost("HOLE", network=NetworkBehaviour(black_hole=True)),
        FakeHost("RESET", network=NetworkBehaviour(reset_rate=1.0)),
        FakeHost("ERROR", network=NetworkBehaviour(error_rate=1.0)),
        FakeHost("SLOW", network=NetworkBehaviour(latency_s=0.3)),
        FakeHost("LOCKED", network=NetworkBehaviour(auth_fails=True)),
    ]
    with start_fleet(hosts, https=False, seed=1) as fleet:
        yield fleet


def test_down_host_refuses(misbehaving: RunningFleet) -> None:
    endpoint = misbehaving.endpoint("DOWN")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((endpoint.address, endpoint.http_port), timeout=2).close()


def test_black_hole_accepts_and_never_answers(misbehaving: RunningFleet) -> None:
    endpoint = misbehaving.endpoint("HOLE")
    with socket.create_connection((endpoint.address, endpoint.http_port), timeout=0.5) as sock:
        sock.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_reset_rate_resets_connection(misbehaving: RunningFleet) -> None:
    endpoint = misbehaving.endpoint("RESET")
    with pytest.raises(ConnectionResetError):
        post(endpoint.address, endpoint.http_port)


def test_error_rate_gives_bare_500(misbehaving: RunningFleet) -> None:
    endpoint = misbehaving.endpoint("ERROR")
    response, body = post(endpoint.address, endpoint.http_port)
    assert (response.status, response.getheader("Content-Type")) == (500, "text/plain")
    with (
        pytest.raises(WinRMTransportError),
        make_wsman(misbehaving, "ERROR") as wsman,
        WinRS(wsman),
    ):
        pass


def test_latency_delays_every_response(misbehaving: RunningFleet) -> None:
    endpoint = misbehaving.endpoint("SLOW")
    started = time.monotonic()
    post(endpoint.address, endpoint.http_port)
    assert time.monotonic() - started >= 0.3


def test_auth_fails_rejects_right_password(misbehaving: RunningFleet) -> None:
    with (
        pytest.raises(AuthenticationError),
        make_wsman(misbehaving, "LOCKED") as wsman,
        WinRS(wsman),
    ):
        pass


def test_max_shells_fault_through_pypsrp(lab: RunningFleet) -> None:
    # The module lab allows 3 shells per user; the 4th Create is refused with the quota fault.
    with make_wsman(lab, "RDS02") as wsman:
        shells = [WinRS(wsman) for _ in range(4)]
        for shell in shells[:3]:
            shell.open()
        with pytest.raises(WSManFaultError) as caught:
            shells[3].open()
        for shell in shells[:3]:
            shell.close()
        process = Process(shells[0], "hostname")
    assert caught.value.code == 2150859173
    assert process.rc is None
