"""Auth settings the client cannot use give one line per host, never a traceback: Kerberos
without the kerberos extra, CredSSP without requests-credssp, Basic over plain HTTP."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.transport import kerberos
from tests.cliutil import run_cli

from .conftest import lab, services_and_console, sim_host


def _plan_with(tmp_path: Path, **host_vars: str) -> tuple[dict[str, tuple[str, str]], str]:
    hosts = [sim_host(f"rds-{n}", sessions=services_and_console()) for n in range(2)]
    with lab(hosts, tmp_path) as (_, inventory):
        data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        for entry in data["all"]["children"]["rds"]["hosts"].values():
            entry.update(host_vars)
        inventory.write_text(yaml.safe_dump(data), encoding="utf-8")
        result = run_cli(["plan", str(inventory), "--format", "json", "--timeout", "5s"])
    assert result.status == ExitStatus.ERROR
    hosts_out = {h["name"]: (h["status"], h["error"]) for h in result.json()["hosts"]}
    return hosts_out, result.stdout + result.stderr


def _assert_one_line(hosts: dict[str, tuple[str, str]], output: str, words: str) -> None:
    for status, error in hosts.values():
        assert status == "auth_failed" and words in error and "\n" not in error
    assert "Traceback" not in output and "internal error" not in output


def test_kerberos_without_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kerberos, "missing_libraries", lambda: ["gssapi"])
    hosts, output = _plan_with(tmp_path, ansible_winrm_transport="kerberos")
    _assert_one_line(hosts, output, "pip install 'fleetlogoff[kerberos]'")


@pytest.mark.skipif(
    importlib.util.find_spec("requests_credssp") is not None, reason="requests-credssp installed"
)
def test_credssp_without_requests_credssp(tmp_path: Path) -> None:
    hosts, output = _plan_with(tmp_path, ansible_winrm_transport="credssp")
    _assert_one_line(hosts, output, "CredSSP needs requests-credssp")


def test_basic_over_plain_http(tmp_path: Path) -> None:
    hosts, output = _plan_with(tmp_path, ansible_winrm_transport="basic")
    _assert_one_line(hosts, output, "basic cannot encrypt messages over HTTP")
