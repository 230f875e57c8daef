"""The CLI in-process: one-line errors with exit codes, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetlogoff.app.status import ExitStatus
from tests.cliutil import run_cli

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"


def run(argv: list[str], stdin: str = "") -> tuple[ExitStatus, str, str]:
    result = run_cli(argv, stdin)
    return result.status, result.stdout, result.stderr


def corpus_body(name: str) -> str:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return text.split("# ---\n", 1)[1]


def test_version_goes_to_stdout() -> None:
    status, out, _ = run(["--version"])
    assert status == ExitStatus.OK and out.startswith("fleetlogoff ")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["plan"], "no inventory: give one, e.g. `-i hosts.yml`"),
        (["plan", "inv.yml", "--forks", "0"], "must be at least 1"),
        (["plan", "inv.yml", "--timeout", "soon"], "--timeout"),
        (["plan", "inv.yml", "--timeout", "0s"], "must be longer than 0s"),
        (["apply", "p.json", "--warn", "5m", "--warn", "0"], "--warn: given twice (5m, then 0s)"),
        (["apply", "p.json", "--message", "a", "--message", "b"], "given twice ('a', then 'b')"),
        (["logoff", "3", "--server", "rds01", "--timeout", "0m"], "must be longer than 0s"),
        (["logoff", "3", "--server", "rds01", "--message", " "], "--message is blank"),
        (["apply", "p.json", "--warn", "5 parsecs"], "--warn"),
        (["apply", "p.json", "--serial", "0%"], "--serial"),
        (["apply", "p.json", "--max-fail-percentage", "150"], "between 0 and 100"),
        (["frobnicate"], "invalid choice"),
        # Numbers are ASCII digits: int() would read these (found by the CLI fuzzer).
        (["plan", "inv.yml", "-f", "\u0664"], "expected a whole number"),
        (["plan", "inv.yml", "--forks", "1_0"], "expected a whole number"),
        (["plan", "inv.yml", "--forks", "+4"], "expected a whole number"),
        (["apply", "p.json", "--serial", "1e1%"], "expected a percentage"),
        (["apply", "p.json", "--max-fail-percentage", "nan"], "expected a percentage"),
        (["parse", "quser", "-", "--codepage", "\u0664\u0663\u0667"], "expected a whole number"),
        (["lab", "--hosts", "\u0664", "--inventory-out", "x.yml"], "expected a whole number"),
    ],
)
def test_bad_flags_give_one_line_and_usage_status(argv: list[str], needle: str) -> None:
    status, _, err = run(argv)
    assert status == ExitStatus.USAGE
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_inventory_names_the_file(tmp_path: Path) -> None:
    status, _, err = run(["plan", str(tmp_path / "nope.yml")])
    assert status == ExitStatus.USAGE
    assert "nope.yml" in err and len(err.strip().splitlines()) == 1


def test_duplicate_setting_points_at_line_and_column(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text(
        "all:\n  vars:\n    fleetlogoff_date_order: dmy\n    fleetlogoff_date_order: mdy\n"
        "  hosts:\n    rds01:\n",
        encoding="utf-8",
    )
    status, _, err = run(["plan", str(inventory)])
    assert status == ExitStatus.USAGE
    assert f"{inventory}:4:" in err


def test_bad_message_placeholder_is_refused_before_anything(tmp_path: Path) -> None:
    status, _, err = run(["apply", str(tmp_path / "p.json"), "--message", "bye {usr}"])
    assert status == ExitStatus.USAGE and "{usr}" in err


def test_parse_quser_prints_json_from_a_file(tmp_path: Path) -> None:
    sample = tmp_path / "quser.txt"
    sample.write_text(corpus_body("quser-de-de-01.txt"), encoding="utf-8")
    status, out, err = run(["parse", "quser", str(sample)])
    assert status == ExitStatus.OK, err
    sessions = json.loads(out)
    assert sessions and all(isinstance(s["id"], int) for s in sessions)
    assert {"id", "username", "session_name", "state", "idle_seconds", "logon_time", "current"} <= (
        sessions[0].keys()
    )


def test_parse_reads_stdin_and_forces_a_date_order() -> None:
    text = (
        " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME\n"
        " ann                   rdp-tcp#3           2  Active          5  3/02/2023 7:36 PM\n"
    )
    status, out, _ = run(["parse", "quser", "-", "--date-order", "dmy"], stdin=text)
    assert status == ExitStatus.OK
    assert json.loads(out)[0]["logon_time"] == "2023-02-03T19:36"


def test_unreadable_output_is_an_error_with_the_reason() -> None:
    status, _, err = run(["parse", "quser", "-"], stdin="this is not quser\n")
    assert status == ExitStatus.USAGE  # a bad input file (README's exit codes)
    assert err.startswith("fleetlogoff: error: -: cannot read quser output")
    assert len(err.strip().splitlines()) == 1


def test_lab_flags_reach_the_lab_and_its_errors_are_usage_errors(tmp_path: Path) -> None:
    status, _, err = run(["lab", "--hosts", "0", "--inventory-out", str(tmp_path / "i.yml")])
    assert status == ExitStatus.USAGE
    assert "--hosts" in err and len(err.strip().splitlines()) == 1
    status, _, err = run(["plan", "inv.yml", "--bogus"])
    assert status == ExitStatus.USAGE and "--bogus" in err


def test_parse_skips_a_commented_preamble_like_the_corpus_files() -> None:
    status, out, err = run(["parse", "qwinsta", str(CORPUS / "qwinsta-ja-jp-01.txt")])
    assert status == ExitStatus.OK, err
    sessions = json.loads(out)
    assert {s["state"] for s in sessions} >= {"active", "listen"}
    assert all(s["idle_seconds"] is None and s["logon_time"] is None for s in sessions)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_files_as_windows_saves_them_are_named_as_such(tmp_path: Path, encoding: str) -> None:
    """PowerShell 5.1's Out-File writes UTF-16 with a BOM; say that, not 'invalid byte'."""
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    inventory = tmp_path / "inv.yml"
    inventory.write_bytes(bom + "all:\n  hosts:\n    h1:\n".encode(encoding))
    status, _, err = run(["plan", str(inventory), "--state", "disc"])
    assert status == ExitStatus.USAGE and "UTF-16 text; save it as UTF-8" in err
    rules = tmp_path / "rules.yml"
    rules.write_bytes(bom + "rules: []\n".encode(encoding))
    good = tmp_path / "good.yml"
    good.write_text("all:\n  hosts:\n    h1:\n      ansible_host: 127.0.0.1\n", encoding="utf-8")
    status, _, err = run(["plan", str(good), "--rules", str(rules)])
    assert status == ExitStatus.USAGE and "UTF-16 text; save it as UTF-8" in err
    assert len(err.strip().splitlines()) == 1
