"""Every transport against a hostile WinRM server (tests/hostile.py, loopback only).

A lab host sits behind a proxy that misbehaves on one answer of every connection: the
NTLM challenge, the authentication, Create, Command or Receive. Whatever it does, reading
the host ends with one line naming what went wrong, in the host's own time, with its
memory bounded; never a traceback, a hang, or a belief in what was not sealed.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.collect import CollectOptions, HostReading, collect_host
from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.server_shells import ShellLimits
from fleetlogoff.lab.tls import LabCertificateAuthority
from fleetlogoff.model import Connection, Host, Scheme, Secret
from fleetlogoff.plan_file import read_plan
from fleetlogoff.transport.winrm import WinRMConnector
from tests.cliutil import run_cli
from tests.hostile import Act, Fault, HostileProxy

from .conftest import disconnected, services_and_console

PASSWORD = "Lab-Admin-Passw0rd!"


@dataclass(frozen=True)
class Wire:
    """One way to reach a host, and the answers it takes before quser's output is in."""

    https: bool
    phases: tuple[str, ...]
    sealed_from: int | None = None  # first answer that is sealed (message encryption)
    connection: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


WIRES = {
    # NTLM + encryption over HTTP on the lean transport (WinRM's default path).
    "lean": Wire(False, ("challenge", "authenticate", "create", "command", "receive"), 2),
    # The same through pypsrp's requests transport (anonymous request first).
    "pypsrp": Wire(
        False,
        ("anonymous", "challenge", "authenticate", "create", "command", "receive"),
        3,
        settings={"fleetlogoff_http_transport": "pypsrp"},
    ),
    # Basic over HTTPS (pypsrp's transport, TLS ended by the proxy).
    "basic-https": Wire(True, ("create", "command", "receive"), connection={"transport": "basic"}),
    # NTLM over HTTPS with channel binding (pypsrp's transport).
    "ntlm-https": Wire(
        True, ("anonymous", "challenge", "create", "command", "receive"), connection={}
    ),
}
QUICK = (
    Act.RESET_MID,
    Act.CLOSE,
    Act.GARBAGE,
    Act.BAD_STATUS,
    Act.REDIRECT,
    Act.ENDLESS_BODY,
    Act.ENDLESS_CHUNKED,
    Act.HUGE_LENGTH,
    Act.HUGE_HEADERS,
)
SLOW = (Act.TRICKLE, Act.SILENT, Act.STALL_BODY, Act.TRICKLE_HEADERS)
SEALING = (
    Act.UNSEALED,
    Act.BAD_LENGTH,
    Act.BAD_SIGNATURE,
    Act.NO_BOUNDARY,
    Act.SHORT_SIGNATURE,
    Act.ENDLESS_SEALED,
)
EXPECTED = {
    Act.RESET: ("reset", "closed the connection"),
    Act.RESET_MID: ("reset", "closed the connection"),
    Act.CLOSE: ("closed the connection",),
    Act.GARBAGE: ("bad HTTP answer",),
    Act.BAD_STATUS: ("bad HTTP answer",),
    Act.REDIRECT: ("redirect refused (HTTP 302)",),
    Act.ENDLESS_BODY: ("too large",),
    Act.ENDLESS_CHUNKED: ("too large",),
    Act.ENDLESS_SEALED: ("too large",),
    Act.HUGE_LENGTH: ("too large",),
    Act.HUGE_HEADERS: ("too large",),
    Act.TRICKLE: ("no answer in time",),
    Act.SILENT: ("no answer in time",),
    Act.STALL_BODY: ("no answer in time",),
    Act.TRICKLE_HEADERS: ("no answer in time",),
    Act.UNSEALED: ("unsealed answer refused",),
    Act.BAD_LENGTH: ("message encryption",),
    Act.BAD_SIGNATURE: ("message encryption",),
    Act.NO_BOUNDARY: ("message encryption",),
    Act.SHORT_SIGNATURE: ("message encryption",),
}


@dataclass
class Lab:
    fleet: RunningFleet
    proxy_tls: ssl.SSLContext
    ca_path: str


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("hostile")
    host = SimHost("rds-hostile", sessions=[*services_and_console(), disconnected(2, "x", 5)])
    # Faults leave shells behind (no Delete after a broken Receive): room for all of them.
    limits = ShellLimits(max_shells_per_user=100_000, max_operations_per_user=100_000)
    (work / "proxy").mkdir()
    authority = LabCertificateAuthority(work / "proxy", "hostile proxy CA")
    with start_fleet([host], https=True, limits=limits, work_dir=work) as fleet:
        context = authority.server_context("proxy", "127.0.0.1")
        yield Lab(fleet, context, str(authority.ca_path))


def _cases() -> Iterator[Any]:
    for name, wire in WIRES.items():
        for answer, phase in enumerate(wire.phases):
            yield pytest.param(name, Fault(Act.RESET, answer), id=f"{name}-{phase}-reset")
        for act in QUICK:
            for answer in (0, len(wire.phases) - 1):
                label = f"{name}-{wire.phases[answer]}-{act.value}"
                yield pytest.param(name, Fault(act, answer), id=label)
        for number, act in enumerate(SLOW):
            answer = number % len(wire.phases)
            label = f"{name}-{wire.phases[answer]}-{act.value}"
            yield pytest.param(name, Fault(act, answer), id=label)
        if wire.sealed_from is not None:
            for act in SEALING:
                for answer in (wire.sealed_from, len(wire.phases) - 1):
                    label = f"{name}-{wire.phases[answer]}-{act.value}"
                    yield pytest.param(name, Fault(act, answer), id=label)


def _read(lab: Lab, wire: Wire, proxy: HostileProxy, deadline_s: float = 20.0) -> HostReading:
    scheme: Scheme = "https" if wire.https else "http"
    connection = Connection(
        address="127.0.0.1",
        port=proxy.port,
        scheme=scheme,
        username="Administrator",
        password=Secret(PASSWORD),
        ca_trust_path=lab.ca_path if wire.https else None,
        **wire.connection,
    )
    host = Host("rds-hostile", ("all",), connection, wire.settings)
    options = CollectOptions(deadline_s=deadline_s, retries=1, retry_pause_s=0.0)
    return collect_host(host, WinRMConnector(), options)


def _proxy(lab: Lab, wire: Wire, fault: Fault, *, raw: bool = False) -> HostileProxy:
    endpoint = lab.fleet.endpoints[0]
    port = endpoint.https_port if wire.https else endpoint.http_port
    assert port is not None
    return HostileProxy(
        (endpoint.address, port),
        fault,
        upstream_tls=wire.https,
        server_tls=lab.proxy_tls if wire.https and not raw else None,
        raw=raw,
    )


def _assert_one_line_failure(reading: HostReading, expected: tuple[str, ...]) -> None:
    assert reading.status != "ok", reading
    error = reading.error or ""
    assert "\n" not in error and "\r" not in error and len(error) < 400, error
    assert any(words in error for words in expected), error


def _assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert "Traceback" not in record.getMessage()


@pytest.mark.parametrize(("wire_name", "fault"), list(_cases()))
def test_a_hostile_answer_costs_one_line_and_nothing_more(
    lab: Lab, wire_name: str, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wire = WIRES[wire_name]
    # A slow fault always outlasts a short deadline; a quick one must fail on its own,
    # long before a generous deadline, however loaded the machine.
    deadline_s = 0.5 if fault.act in SLOW else 20.0
    with _proxy(lab, wire, fault) as proxy:
        reading = _read(lab, wire, proxy, deadline_s)
    _assert_one_line_failure(reading, EXPECTED[fault.act])
    _assert_no_traceback(caplog)
    assert proxy.redirect_hits == 0  # a redirect is never followed


@pytest.mark.parametrize("wire_name", ["basic-https", "ntlm-https"])
def test_a_trickled_tls_handshake_costs_the_hosts_deadline(lab: Lab, wire_name: str) -> None:
    with _proxy(lab, WIRES[wire_name], Fault(Act.TRICKLE, 0), raw=True) as proxy:
        reading = _read(lab, WIRES[wire_name], proxy, deadline_s=1.0)
    _assert_one_line_failure(reading, ("no answer in time",))


@pytest.mark.parametrize("wire_name", list(WIRES))
def test_a_fault_after_the_output_keeps_the_reading(lab: Lab, wire_name: str) -> None:
    wire = WIRES[wire_name]
    delete = len(wire.phases)  # the answer after Receive: Delete
    with _proxy(lab, wire, Fault(Act.ENDLESS_BODY, delete)) as proxy:
        reading = _read(lab, wire, proxy)
    assert reading.status == "ok", reading
    assert [s.username for s in reading.sessions] == ["x"]


@pytest.mark.parametrize("wire_name", list(WIRES))
def test_every_wire_reads_the_host_through_a_harmless_proxy(lab: Lab, wire_name: str) -> None:
    """The proxy itself is transparent: the faults above are the only difference."""
    wire = WIRES[wire_name]
    with _proxy(lab, wire, Fault(Act.PASS)) as proxy:
        reading = _read(lab, wire, proxy)
    assert reading.status == "ok", reading


def test_wire_phases_are_the_real_exchange(lab: Lab, tmp_path: Path) -> None:
    """Each wire makes exactly as many answers before Delete as its phases say (so the
    fault indexes above land where their names say)."""
    for wire in WIRES.values():
        last = len(wire.phases) - 1
        with _proxy(lab, wire, Fault(Act.RESET, last)) as proxy:
            assert _read(lab, wire, proxy).status != "ok"
        with _proxy(lab, wire, Fault(Act.RESET, last + 1)) as proxy:
            assert _read(lab, wire, proxy).status == "ok"


def _inventory_entry(address: str, port: int, wire: Wire, ca_path: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ansible_host": address,
        "ansible_port": port,
        "ansible_user": "Administrator",
        "ansible_password": PASSWORD,
        "ansible_connection": "winrm",
        "ansible_winrm_transport": wire.connection.get("transport", "ntlm"),
        "ansible_winrm_scheme": "https" if wire.https else "http",
        **wire.settings,
    }
    if wire.https:
        entry["ansible_winrm_ca_trust_path"] = ca_path
    return entry


@pytest.mark.parametrize("wire_name", ["lean", "basic-https"])
def test_plan_saves_the_healthy_hosts_beside_a_byte_trickling_one(
    lab: Lab, tmp_path: Path, wire_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 7: one host answering a byte at a time costs its own time (here its read
    timeout, per exchange, however many bytes trickle in); the rest of the fleet is
    planned, printed and saved. --timeout stays generous so that the healthy hosts never
    depend on how loaded the machine is."""
    wire = WIRES[wire_name]
    endpoint = lab.fleet.endpoints[0]
    direct = endpoint.https_port if wire.https else endpoint.http_port
    assert direct is not None and endpoint.ca_path is not None
    with _proxy(lab, wire, Fault(Act.TRICKLE, 0, interval_s=0.5)) as proxy:
        hosts = {
            f"rds-good{n}": _inventory_entry(endpoint.address, direct, wire, endpoint.ca_path)
            for n in (1, 2, 3)
        }
        hosts["rds-trickle"] = {
            **_inventory_entry("127.0.0.1", proxy.port, wire, lab.ca_path),
            "ansible_winrm_operation_timeout_sec": 1,
            "ansible_winrm_read_timeout_sec": 2,
        }
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
        plan_path = tmp_path / "plan.json"
        result = run_cli(
            ["plan", str(inventory), "--state", "disconnected", "--timeout", "60s"]
            + ["-o", str(plan_path), "--format", "json"]
        )
    assert result.status == ExitStatus.ERROR, result.stderr  # partial: one host unread
    status = {h["name"]: (h["status"], h.get("error")) for h in result.json()["hosts"]}
    assert status["rds-trickle"] == ("unreachable", "open shell: no answer in time")
    assert {status[f"rds-good{n}"][0] for n in (1, 2, 3)} == {"ok"}
    assert read_plan(str(plan_path)).target_count == 3
    assert "Traceback" not in result.stderr
    _assert_no_traceback(caplog)  # pypsrp's read-timeout traceback became one line
