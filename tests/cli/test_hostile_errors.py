"""Error texts quote hosts and files: every line on stderr shows their controls and bidi
overrides as visible escapes, one line per error."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.errors import TransportError
from fleetlogoff.model import Host
from fleetlogoff.transport import HostSession
from tests.cliutil import run_cli_with

HOSTILE = "bad \x1b[2J\x1b]0;owned\x07 answer \u202eexe.txt"


def hidden(text: str) -> list[str]:
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


class HostileConnector:
    """Every host answers with an error whose text carries escape sequences."""

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        raise TransportError(host.name, "protocol", HOSTILE)


def test_a_hosts_error_text_is_escaped_in_progress_lines_and_tables(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text(
        "all:\n  vars: {ansible_user: a, ansible_password: b}\n  hosts:\n    rds01:\n",
        encoding="utf-8",
    )
    for argv in (["sessions", str(inventory)], ["plan", str(inventory), "--state", "disc"]):
        result = run_cli_with(argv, HostileConnector())
        assert result.status == ExitStatus.ERROR
        assert not hidden(result.stdout + result.stderr)
        assert "\\x1b[2J\\x1b]0;owned\\x07 answer \\u202eexe.txt" in result.stdout


def test_an_error_line_quoting_a_file_is_escaped(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text('all:\n  vars:\n    "fleetlogoff_\\e[2J\\u202e": 1\n', encoding="utf-8")
    result = run_cli_with(["plan", str(inventory)], HostileConnector())
    assert result.status == ExitStatus.USAGE
    assert len(result.stderr.splitlines()) == 1 and not hidden(result.stderr)
    assert "\\x1b[2J\\u202e" in result.stderr
