"""`fleetlogoff parse quser FILE --international REG.txt`: an admin reads a host's saved
output with the host's own saved date format, as plan would."""

from __future__ import annotations

from pathlib import Path

from fleetlogoff.app.status import ExitStatus
from tests.cliutil import run_cli

QUSER = (
    " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME\n"
    " anna                                      2  Disc           28  01/12/2026 07:36\n"
)
INTERNATIONAL = (
    "\nHKEY_CURRENT_USER\\Control Panel\\International\n"
    "    sShortDate    REG_SZ    dd/MM/yyyy\n    sTimeFormat    REG_SZ    HH:mm:ss\n"
)


def test_parse_with_the_host_format_reads_what_alone_reads_two_ways(tmp_path: Path) -> None:
    quser, reg = tmp_path / "quser.txt", tmp_path / "reg.txt"
    quser.write_text(QUSER, encoding="utf-8")
    reg.write_text(INTERNATIONAL, encoding="utf-8")
    alone = run_cli(["parse", "quser", str(quser)]).json()[0]
    assert alone["logon_time"] is None and alone["doubts"][0]["field"] == "logon"
    result = run_cli(["parse", "quser", str(quser), "--international", str(reg)])
    assert result.status == ExitStatus.OK, result.stderr
    (session,) = result.json()
    assert (session["logon_time"], session["doubts"]) == ("2026-12-01T07:36", [])


def test_a_file_that_is_no_reg_output_is_a_usage_error(tmp_path: Path) -> None:
    quser = tmp_path / "quser.txt"
    quser.write_text(QUSER, encoding="utf-8")
    result = run_cli(["parse", "quser", str(quser), "--international", str(quser)])
    assert result.status == ExitStatus.USAGE
    assert "--international" in result.stderr and "failed" in result.stderr
