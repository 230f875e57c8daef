"""--debug (and any wire-level logging) never shows a credential: no NTLM, SPNEGO or Basic
token, no password, no NT hash; and a library's traceback becomes one line."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.fleet import start_fleet
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.inventory_out import write_inventory
from fleetlogoff.transport.log_hygiene import install_log_hygiene, register_secret, scrub
from tests.cliutil import run_cli

from .conftest import disconnected, services_and_console

PASSWORD = "Lab-Admin-Passw0rd!"
WIRES: dict[str, dict[str, Any]] = {
    "lean": {},
    "pypsrp": {"fleetlogoff_http_transport": "pypsrp"},
    "negotiate": {"ansible_winrm_transport": "negotiate"},
    "basic-https": {"ansible_winrm_transport": "basic", "ansible_winrm_scheme": "https"},
    "ntlm-https": {"ansible_winrm_scheme": "https"},
}
TOKEN = re.compile(r"(Negotiate|NTLM|Kerberos|Basic|CredSSP)\s+[A-Za-z0-9+/=]{12,}", re.I)


def _nt_hash(password: str) -> str:
    from spnego._ntlm_raw.crypto import ntowfv1

    return str(ntowfv1(password).hex())


@pytest.mark.parametrize("wire", list(WIRES))
def test_debug_output_carries_no_credential(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, wire: str
) -> None:
    caplog.set_level(logging.DEBUG)
    host = SimHost("rds-logs", sessions=[*services_and_console(), disconnected(2, "x", 5)])
    with start_fleet([host], https=True, work_dir=tmp_path) as fleet:
        inventory = tmp_path / "inventory.yml"
        write_inventory(inventory, [host], fleet.endpoints)
        data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        entry = data["all"]["children"]["rds"]["hosts"]["rds-logs"]
        entry.update(WIRES[wire])
        if entry.get("ansible_winrm_scheme") == "https":
            entry["ansible_port"] = entry["lab_https_port"]
        inventory.write_text(yaml.safe_dump(data), encoding="utf-8")
        # -vvvv: the wire traffic, the most a log can show (cli/logs.py); --debug too
        result = run_cli(["-vvvv", "--debug", "plan", str(inventory), "--state", "disconnected"])
    assert result.status == ExitStatus.OK, result.stderr
    shown = caplog.text + result.stderr + result.stdout
    assert "POST" in shown  # the wire really was logged, at DEBUG
    assert PASSWORD not in shown
    assert _nt_hash(PASSWORD) not in shown.lower()
    assert base64.b64encode(f"Administrator:{PASSWORD}".encode()).decode() not in shown
    assert "TlRMTVNTUA" not in shown  # an NTLMSSP message in base64
    assert not TOKEN.search(shown), TOKEN.search(shown)
    if wire not in ("basic-https", "lean"):  # lean's NTLM is the tool's own: it logs no token
        assert "step output: <redacted>" in shown  # pyspnego's token line, kept but empty


def test_a_library_traceback_becomes_one_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    install_log_hygiene()
    caplog.set_level(logging.DEBUG)
    try:
        raise TimeoutError("read timed out\n  after 30 s")
    except TimeoutError:
        logging.getLogger("pypsrp.wsman").exception("ReadTimeout during WSMan request")
    (record,) = [r for r in caplog.records if r.name == "pypsrp.wsman"]
    assert record.levelno == logging.DEBUG and record.exc_info is None
    assert record.getMessage() == (
        "ReadTimeout during WSMan request (TimeoutError: read timed out after 30 s)"
    )


def test_registered_secrets_leave_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    install_log_hygiene()
    secret = "s3cr3t-" + hashlib.sha256(b"test").hexdigest()[:8]
    register_secret(secret)
    caplog.set_level(logging.INFO)
    logging.getLogger("some.library").info("connecting with %s", secret)
    assert secret not in caplog.text and "connecting with ***" in caplog.text


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("NTLM step output: TlRMTVNTUAADAAAAGAAYAEgAAAA=", "NTLM step output: <redacted>"),
        ("SPNEGO step input: oYIBCzCCAQegAwoBAaEMBgorBgEEAYI3", "SPNEGO step input: <redacted>"),
        ("Authorization: Basic QWRtaW5pc3RyYXRvcjpQQHNz", "Authorization: Basic <redacted>"),
        ('WWW-Authenticate: Negotiate YIIGhgYJKoZIhvcSAQIC"', "Negotiate <redacted>"),
        ("CredSSP TSRequest output: MIIBgKADAgEGoYIBdz", "output: <redacted>"),
        ("raw 4e544c4d5353500003000000", "raw <redacted>"),
    ],
)
def test_tokens_are_scrubbed_from_wire_lines(line: str, kept: str) -> None:
    assert kept in scrub(line)
    assert not TOKEN.search(scrub(line))
