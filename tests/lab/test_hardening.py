"""The lab server facing hostile or broken clients: faults, not tracebacks; no endless sockets."""

from __future__ import annotations

import base64
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fleetlogoff.lab import wsman as w
from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.server_shells import ShellLimits, ShellService
from tests.lab.conftest import ADMIN, FakeHost
from tests.lab.test_wire import call, envelope, fault_of, open_shell

_F = "{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}WSManFault"


@dataclass
class BrokenHost(FakeHost):
    """A host whose stdin probe raises, as a lab bug would."""

    def wants_stdin(self, command_line: str) -> bool:
        raise ValueError(f"cannot read {command_line!r}")


@pytest.fixture(scope="module")
def fleet() -> Iterator[RunningFleet]:
    hosts = [FakeHost("RDS01"), BrokenHost("RDS02")]
    with start_fleet(hosts, https=True, seed=3, connection_idle_s=0.5) as running:
        yield running


def post_basic(fleet: RunningFleet, name: str, body: bytes) -> tuple[int, bytes]:
    """POST a plain SOAP body over HTTPS with Basic auth, as pywinrm's ssl transport does."""
    endpoint = fleet.endpoint(name)
    assert endpoint.https_port is not None and endpoint.ca_path is not None
    context = ssl.create_default_context(cafile=endpoint.ca_path)
    credentials = base64.b64encode(f"{ADMIN.username}:{ADMIN.password}".encode()).decode()
    head = (
        f"POST /wsman HTTP/1.1\r\nHost: {endpoint.address}\r\n"
        f"Authorization: Basic {credentials}\r\n"
        "Content-Type: application/soap+xml;charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    raw = socket.create_connection((endpoint.address, endpoint.https_port), timeout=5)
    with context.wrap_socket(raw, server_hostname=endpoint.address) as tls:
        tls.sendall(head.encode() + body)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head_bytes, _, reply = data.partition(b"\r\n\r\n")
    return int(head_bytes.split(b" ")[1]), reply


def fault_code(reply: bytes) -> int:
    fault = ET.fromstring(reply).find(f".//{_F}")
    assert fault is not None
    return int(fault.get("Code", "0"))


@pytest.mark.parametrize(
    "body",
    [
        b"this is not xml",
        b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'/>",
        b"\xff\xfe<broken",
    ],
)
def test_malformed_soap_gets_a_wsman_fault(fleet: RunningFleet, body: bytes) -> None:
    status, reply = post_basic(fleet, "RDS01", body)
    assert status == 500
    assert fault_code(reply) == 2150858819  # ERROR_WSMAN_INVALID_XML (wsmerror.h)


def test_missing_action_fault_relates_to_the_message_id(fleet: RunningFleet) -> None:
    mid = "uuid:11111111-2222-3333-4444-555555555555"
    body = envelope("", mid=mid).replace(b"<a:Action></a:Action>", b"")
    status, reply = post_basic(fleet, "RDS01", body)
    relates = ET.fromstring(reply).findtext(f".//{{{w.NS_A}}}RelatesTo")
    assert (status, relates) == (500, mid)


def test_a_host_that_raises_gives_a_fault_and_the_endpoint_keeps_serving(
    fleet: RunningFleet,
) -> None:
    status, reply = post_basic(fleet, "RDS02", envelope(w.ACTION_CREATE, "<rsp:Shell/>"))
    shell_id = ET.fromstring(reply).findtext(f".//{{{w.NS_RSP}}}ShellId") or ""
    assert status == 200 and shell_id
    cmd = "<rsp:CommandLine><rsp:Command>hostname</rsp:Command></rsp:CommandLine>"
    status, reply = post_basic(fleet, "RDS02", envelope(w.ACTION_COMMAND, cmd, shell_id=shell_id))
    assert status == 500 and fault_code(reply) > 0
    status, _ = post_basic(fleet, "RDS02", envelope(w.ACTION_DELETE, shell_id=shell_id))
    assert status == 200


def test_idle_and_slow_connections_are_closed(fleet: RunningFleet) -> None:
    endpoint = fleet.endpoint("RDS01")
    # The lab closes both after its idle budget (0.5 s here): recv() sees the end. The
    # socket timeout only keeps a broken lab from hanging the suite; no time is asserted.
    with (
        socket.create_connection((endpoint.address, endpoint.http_port), timeout=60) as idle,
        socket.create_connection((endpoint.address, endpoint.http_port), timeout=60) as slow,
    ):
        slow.sendall(b"POST /wsman HTTP/1.1\r\n")  # a head that never ends (slowloris)
        assert idle.recv(1) == b"" and slow.recv(1) == b""
    assert not any(site.connections for site in fleet.server.sites)


def test_the_idle_budget_counts_from_each_request_not_from_the_connection(
    fleet: RunningFleet,
) -> None:
    endpoint = fleet.endpoint("RDS01")
    request = f"POST /wsman HTTP/1.1\r\nHost: {endpoint.address}\r\nContent-Length: 0\r\n\r\n"
    with socket.create_connection((endpoint.address, endpoint.http_port), timeout=60) as busy:
        # Six requests 0.2 s apart: 1.2 s on one connection, never 0.5 s without a request.
        for _ in range(6):
            busy.sendall(request.encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += busy.recv(65536)
            assert answer.startswith(b"HTTP/1.1 401 ")
            time.sleep(0.2)
        started = time.monotonic()
        while busy.recv(65536):  # then idle: closed after its budget
            pass
        assert time.monotonic() - started < 30


def test_commands_count_against_max_operations_until_the_shell_is_deleted() -> None:
    # MS-WSMV 3.1.4.11 and note <118>: each Command counts, Signal does not release it,
    # only deleting the shell does (Ansible re-creates its shell on this fault).
    service = ShellService(FakeHost(), ShellLimits(max_operations_per_user=2))
    shell = open_shell(service)
    cmd = "<rsp:CommandLine><rsp:Command>hostname</rsp:Command></rsp:CommandLine>"
    for _ in range(2):
        call(service, envelope(w.ACTION_COMMAND, cmd, shell_id=shell))
    spec = fault_of(service, envelope(w.ACTION_COMMAND, cmd, shell_id=shell))
    assert spec.code == 2150859174 and "maximum number of 2 concurrent operations" in spec.message
    call(service, envelope(w.ACTION_DELETE, shell_id=shell))
    call(service, envelope(w.ACTION_COMMAND, cmd, shell_id=open_shell(service)))


def test_stdin_piled_up_over_many_sends_is_bounded() -> None:
    service = ShellService(FakeHost(), ShellLimits())
    shell = open_shell(service)
    cmd = "<rsp:CommandLine><rsp:Command>msg * /TIME:5</rsp:Command></rsp:CommandLine>"
    reply = call(service, envelope(w.ACTION_COMMAND, cmd, shell_id=shell))
    cid = reply.findtext(f".//{{{w.NS_RSP}}}CommandId") or ""
    chunk = base64.b64encode(b"x" * 400_000).decode()
    send = f'<rsp:Send><rsp:Stream Name="stdin" CommandId="{cid}">{chunk}</rsp:Stream></rsp:Send>'
    for _ in range(2):
        call(service, envelope(w.ACTION_SEND, send, shell_id=shell))
    spec = fault_of(service, envelope(w.ACTION_SEND, send, shell_id=shell))
    assert spec.code == 87  # the parameter is incorrect
