"""Real, unmodified clients against the lab over real loopback HTTP(S)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.inventory_out import write_inventory
from fleetlogoff.lab.population import build_fleet
from tests.lab.conftest import ADMIN, USER


def make_wsman(lab: RunningFleet, name: str = "RDS01", **kwargs: Any) -> WSMan:
    endpoint = lab.endpoint(name)
    options: dict[str, Any] = {
        "port": endpoint.http_port,
        "ssl": False,
        "auth": "ntlm",
        "username": ADMIN.username,
        "password": ADMIN.password,
        "no_proxy": True,
        "connection_timeout": 5,
        "read_timeout": 10,
        "operation_timeout": 5,
    }
    options.update(kwargs)
    return WSMan(endpoint.address, **options)


def test_pypsrp_execute_cmd_ntlm_encrypted(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS01")
    with Client(
        endpoint.address,
        port=endpoint.http_port,
        ssl=False,
        auth="ntlm",
        username=ADMIN.username,
        password=ADMIN.password,
        no_proxy=True,
    ) as client:
        assert client.execute_cmd("hostname") == ("RDS01\r\n", "", 0)
        stdout, stderr, rc = client.execute_cmd("err boom")
    assert (stdout, stderr, rc) == ("out\r\n", "boom\r\n", 1)


def test_pypsrp_negotiate_spnego_and_second_host(lab: RunningFleet) -> None:
    with make_wsman(lab, "RDS02", auth="negotiate") as wsman, WinRS(wsman) as shell:
        process = Process(shell, "hostname")
        process.invoke()
    assert (process.stdout, process.rc) == (b"RDS02\r\n", 0)


def test_pypsrp_winrs_codepage_65001_with_arguments(lab: RunningFleet) -> None:
    with make_wsman(lab) as wsman, WinRS(wsman, codepage=65001) as shell:
        utf8 = Process(shell, "utf8")
        utf8.invoke()
        echo = Process(shell, "echo", ["a", "b"])
        echo.invoke()
        echo.signal(SignalCode.CTRL_C)  # after Done: still a SignalResponse
    assert utf8.stdout.decode("utf-8") == "Jürg Müller\r\n"
    assert echo.stdout == b"a b\r\n"


def test_pypsrp_basic_over_https_validates_lab_ca(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS01")
    assert endpoint.https_port is not None and endpoint.ca_path is not None
    with Client(
        endpoint.address,
        port=endpoint.https_port,
        ssl=True,
        auth="basic",
        username=ADMIN.username,
        password=ADMIN.password,
        cert_validation=endpoint.ca_path,
        no_proxy=True,
    ) as client:
        assert client.execute_cmd("echo tls") == ("tls\r\n", "", 0)


def test_pypsrp_ntlm_over_https(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS02")
    kwargs: dict[str, Any] = {
        "port": endpoint.https_port,
        "ssl": True,
        "cert_validation": endpoint.ca_path,
    }
    with make_wsman(lab, "RDS02", **kwargs) as wsman, WinRS(wsman) as shell:
        process = Process(shell, "echo over tls")
        process.invoke()
    assert process.stdout == b"over tls\r\n"


def test_pypsrp_wrong_password_is_authentication_error(lab: RunningFleet) -> None:
    with (
        pytest.raises(AuthenticationError),
        make_wsman(lab, password="wrong") as wsman,
        WinRS(wsman),
    ):
        pass


def test_pypsrp_basic_wrong_password_over_https(lab: RunningFleet) -> None:
    endpoint = lab.endpoint("RDS01")
    kwargs: dict[str, Any] = {
        "port": endpoint.https_port,
        "ssl": True,
        "auth": "basic",
        "cert_validation": endpoint.ca_path,
        "password": "nope",
    }
    with pytest.raises(AuthenticationError), make_wsman(lab, **kwargs) as wsman, WinRS(wsman):
        pass


def test_pypsrp_non_admin_gets_access_denied_fault(lab: RunningFleet) -> None:
    wsman = make_wsman(lab, username=USER.username, password=USER.password)
    with pytest.raises(WSManFaultError) as caught, wsman, WinRS(wsman):
        pass
    assert caught.value.code == 5


def test_pypsrp_operation_timeout_long_poll(lab: RunningFleet) -> None:
    with make_wsman(lab, operation_timeout=1) as wsman, WinRS(wsman) as shell:
        process = Process(shell, "delay 2.5 late")
        process.begin_invoke()
        with pytest.raises(WSManFaultError) as caught:
            shell.receive("stdout stderr", process.id, timeout=1)
        process.end_invoke()  # swallows further 2150858793 faults and polls until Done
    assert caught.value.code == 2150858793
    assert process.stdout == b"late\r\n" and process.rc == 0


def test_pypsrp_unknown_shell_fault(lab: RunningFleet) -> None:
    with make_wsman(lab) as wsman:
        shell = WinRS(wsman)
        shell.open()
        shell.close()
        with pytest.raises(WSManFaultError) as caught:
            Process(shell, "hostname").begin_invoke()
    assert caught.value.code == 2150858843
    assert "shell was not found" in str(caught.value.reason)


def test_pypsrp_stdin_send(lab: RunningFleet) -> None:
    with make_wsman(lab) as wsman, WinRS(wsman) as shell:
        process = Process(shell, "readin")
        process.begin_invoke()
        process.send(b"abc", end=True)
        process.end_invoke()
    assert process.stdout == b"ABC"


def test_pywinrm_run_cmd_ntlm_encrypted(lab: RunningFleet) -> None:
    import winrm

    endpoint = lab.endpoint("RDS02")
    session = winrm.Session(
        f"http://{endpoint.address}:{endpoint.http_port}/wsman",
        auth=(ADMIN.username, ADMIN.password),
        transport="ntlm",
        message_encryption="always",
        server_cert_validation="ignore",  # plain HTTP; avoids pywinrm's env CA-bundle warning
        proxy=None,
    )
    result = session.run_cmd("echo", ["via", "pywinrm"])
    assert (result.std_out, result.std_err, result.status_code) == (b"via pywinrm\r\n", b"", 0)


def _ansible_bin() -> str | None:
    found = shutil.which("ansible", path=str(Path(sys.executable).parent))
    return found or shutil.which("ansible")


@pytest.mark.ansible
@pytest.mark.slow
def test_ansible_raw_over_winrm(tmp_path: Path) -> None:
    if importlib.util.find_spec("ansible") is None or _ansible_bin() is None:
        pytest.skip("ansible-core is not installed")
    # A real simulated host: it decodes Ansible's `PowerShell -EncodedCommand <b64>`.
    hosts = build_fleet(1, 11)
    inventory = tmp_path / "inventory.yml"
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", "NO_PROXY": "*"}
    with start_fleet(hosts, https=False) as fleet:
        write_inventory(inventory, hosts, fleet.endpoints)
        result = subprocess.run(
            [str(_ansible_bin()), "rds", "-i", str(inventory), "-m", "raw", "-a", "hostname"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{hosts[0].name} | CHANGED | rc=0" in result.stdout
    assert result.stdout.strip().endswith(hosts[0].name)
