"""`fleetlogoff lab --auth kerberos` as a user runs it: a real KDC the lab owns, an inventory
the tool reads, printed instructions, and no process left behind however the lab ends."""

from __future__ import annotations

import io
import os
import select
import shutil
import signal
from pathlib import Path

import pytest
import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.fleet import SubprocessFleet, start_fleet_subprocess
from fleetlogoff.lab.kdc import KerberosRealm
from fleetlogoff.lab.runner import run_lab
from tests.cliutil import run_cli

pytestmark = pytest.mark.kerberos


def _kdc_pid(fleet: SubprocessFleet) -> tuple[int, list[str]]:
    """The KDC's pid from the lines the runner prints after `ready`."""
    assert fleet.process.stdout is not None
    lines = [fleet.process.stdout.readline() for _ in range(3)]
    head = lines[0]
    assert head.startswith("kerberos: realm LAB.TEST, KDC 127.0.0.1:"), lines
    return int(head.split("(pid ", 1)[1].split(")", 1)[0]), lines


def _exited(pid: int, timeout_s: float = 10.0) -> bool:
    """Wait for a process that is not our child to end (pidfd: no polling loop)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout_s)
        return bool(readable)
    finally:
        os.close(fd)


def _start(tmp_path: Path, *extra: str) -> SubprocessFleet:
    args = ["--hosts", "3", "--auth", "kerberos", "--seed", "3", *extra]
    return start_fleet_subprocess(args, work_dir=tmp_path)


def test_lab_kerberos_serves_plan_and_stops_its_kdc_on_sigterm(
    realm: KerberosRealm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _start(tmp_path, "--https")
    try:
        pid, lines = _kdc_pid(fleet)
        inventory = yaml.safe_load(fleet.inventory_path.read_text(encoding="utf-8"))
        krb5_conf = inventory["all"]["vars"]["lab_krb5_config"]
        assert f"krb5.conf {krb5_conf}" in lines[0] and f"KRB5_CONFIG={krb5_conf}" in lines[1]
        assert "kinit Administrator@LAB.TEST" in lines[2]
        hosts = inventory["all"]["children"]["rds"]["hosts"]
        assert {h["ansible_winrm_transport"] for h in hosts.values()} == {"kerberos"}
        assert {h["ansible_user"] for h in hosts.values()} == {"Administrator@LAB.TEST"}
        # The user's shell: KRB5_CONFIG from the printed line, nothing else of the session's.
        realm_dir = Path(krb5_conf).parent
        monkeypatch.setenv("KRB5_CONFIG", krb5_conf)
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'cc'}")
        result = run_cli(["plan", str(fleet.inventory_path), "--format", "json"])
        assert result.status == ExitStatus.OK, result.stdout + result.stderr
        assert {h["status"] for h in result.json()["hosts"]} == {"ok"}
    finally:
        code = fleet.stop()
        if fleet.process.stdout is not None:
            fleet.process.stdout.close()
    assert code == 0
    assert _exited(pid, timeout_s=0.5)  # the runner waited for its KDC before exiting
    assert not realm_dir.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_no_kdc_outlives_the_lab(realm: KerberosRealm, tmp_path: Path, signum: int) -> None:
    fleet = _start(tmp_path)
    inventory = yaml.safe_load(fleet.inventory_path.read_text(encoding="utf-8"))
    realm_dir = Path(inventory["all"]["vars"]["lab_krb5_config"]).parent
    try:
        pid, _ = _kdc_pid(fleet)
        fleet.process.send_signal(signum)
        fleet.process.wait(30)
        # SIGINT: the lab stops it; SIGKILL: the kernel does (PR_SET_PDEATHSIG).
        assert _exited(pid)
        assert realm_dir.exists() == (signum == signal.SIGKILL)  # SIGKILL cleans nothing
    finally:
        fleet.stop()
        if fleet.process.stdout is not None:
            fleet.process.stdout.close()
        shutil.rmtree(realm_dir, ignore_errors=True)


def test_lab_help_documents_kerberos() -> None:
    out = io.StringIO()
    assert run_lab(["--help"], stdout=out, stderr=io.StringIO()) == 0
    text = out.getvalue()
    for needle in ("--auth {ntlm,kerberos}", "krb5kdc", "KRB5_CONFIG", "kinit", "--cbt"):
        assert needle in text
    result = run_cli(["lab", "--help"])
    assert result.status == ExitStatus.OK and "--auth" in result.stdout


def test_bad_realm_is_one_line() -> None:
    err = io.StringIO()
    argv = ["--hosts", "1", "--inventory-out", "i.yml", "--auth", "kerberos", "--realm", "a b"]
    assert run_lab(argv, stdout=io.StringIO(), stderr=err) == 2
    assert len(err.getvalue().splitlines()) == 1
