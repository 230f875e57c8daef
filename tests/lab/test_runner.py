"""The `fleetlogoff lab` runner: flags, ready line, inventory, state file, subprocess fleet."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from pathlib import Path

import pytest
import yaml
from pypsrp.client import Client

from fleetlogoff.lab.contract import SimulatedHost
from fleetlogoff.lab.fleet import start_fleet_subprocess
from fleetlogoff.lab.runner import parse_args, run_lab, serve_until_signal
from tests.lab.conftest import ADMIN, FakeHost


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--hosts", "x", "--inventory-out", "inv.yml"], "expected a whole number"),
        (["--inventory-out", "inv.yml"], "--hosts"),
        (["--hosts", "0", "--inventory-out", "inv.yml"], "between 1 and"),
        (["--hosts", "2", "--inventory-out", "/no/such/dir/inv.yml"], "does not exist"),
        (["--hosts", "2", "--inventory-out", "inv.yml", "--bogus"], "--bogus"),
        (["--hosts", "2", "--inventory-out", "inv.yml", "--bind-base", "10.0.0.1"], "loopback"),
        (["--hosts", "2", "--inventory-out", "inv.yml", "--bind-base", "nope"], "not an IPv4"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv: list[str], needle: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_lab(argv, stdout=out, stderr=err) == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in lines[0]
    assert out.getvalue() == ""


def test_bad_scenario_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "scenario.yml"
    bad.write_text("this: [is not: a scenario\n", encoding="utf-8")
    err = io.StringIO()
    argv = ["--hosts", "2", "--inventory-out", str(tmp_path / "i.yml"), "--scenario", str(bad)]
    assert run_lab(argv, stdout=io.StringIO(), stderr=err) == 2
    assert len(err.getvalue().splitlines()) == 1


def test_serve_until_signal_writes_inventory_ready_and_state(tmp_path: Path) -> None:
    hosts: list[SimulatedHost] = [FakeHost("RDSA"), FakeHost("RDSB")]
    inventory = tmp_path / "inv.yml"
    state = tmp_path / "state.json"
    args = parse_args(
        ["--hosts", "2", "--inventory-out", str(inventory), "--state-out", str(state), "--https"]
    )
    out = io.StringIO()

    async def scenario() -> str:
        server = asyncio.create_task(serve_until_signal(hosts, args, out))
        while "ready" not in out.getvalue():
            await asyncio.sleep(0.02)
        entry = yaml.safe_load(inventory.read_text())["all"]["children"]["rds"]["hosts"]["RDSB"]
        result = await asyncio.to_thread(_run_hostname, entry)
        os.kill(os.getpid(), signal.SIGTERM)  # the runner's handler turns it into a clean stop
        await server
        return result

    assert asyncio.run(scenario()) == "RDSB\r\n"
    entry = yaml.safe_load(inventory.read_text())["all"]["children"]["rds"]["hosts"]["RDSA"]
    assert entry["ansible_connection"] == "winrm" and entry["ansible_winrm_transport"] == "ntlm"
    assert entry["ansible_user"] == ADMIN.username and entry["ansible_password"] == ADMIN.password
    assert Path(entry["ansible_winrm_ca_trust_path"]).name == "lab-ca.pem"
    dumped = json.loads(state.read_text())
    assert [h["name"] for h in dumped["hosts"]] == ["RDSA", "RDSB"]
    assert dumped["hosts"][0]["endpoint"]["address"] == entry["ansible_host"]
    assert dumped["hosts"][0]["endpoint"]["http_port"] == entry["ansible_port"]


def _run_hostname(entry: dict[str, object]) -> str:
    with Client(
        str(entry["ansible_host"]),
        port=int(str(entry["ansible_port"])),
        ssl=False,
        auth="ntlm",
        username=str(entry["ansible_user"]),
        password=str(entry["ansible_password"]),
        no_proxy=True,
    ) as client:
        stdout, _, _ = client.execute_cmd("hostname")
    return str(stdout)


def test_subprocess_fleet_serves_and_writes_state(tmp_path: Path) -> None:
    with start_fleet_subprocess(["--hosts", "3", "--seed", "5"], work_dir=tmp_path) as fleet:
        assert len(fleet.endpoints) == 3
        first = yaml.safe_load(fleet.inventory_path.read_text())["all"]["children"]["rds"]
        entry = next(iter(first["hosts"].values()))
        assert _run_hostname(entry).strip() != ""
        code = fleet.stop()
    assert code == 0
    assert len(json.loads(fleet.state_path.read_text())["hosts"]) == 3


def test_kerberos_without_the_kdc_tools_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetlogoff.lab import kdc

    monkeypatch.setattr(kdc, "missing_tools", lambda: ["krb5kdc"])
    err = io.StringIO()
    argv = ["--hosts", "1", "--inventory-out", str(tmp_path / "i.yml"), "--auth", "kerberos"]
    assert run_lab(argv, stdout=io.StringIO(), stderr=err) == 1
    (line,) = err.getvalue().splitlines()
    assert "install krb5-kdc and krb5-admin-server" in line
    assert not (tmp_path / "i.yml").exists()
