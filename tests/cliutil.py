"""Run the CLI in-process with captured streams and no terminal (shared by CLI and
integration tests)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli import main
from fleetlogoff.env import Environment
from fleetlogoff.transport import Connector


@dataclass
class Result:
    status: ExitStatus
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    argv: Sequence[str],
    stdin: str = "",
    environ: Mapping[str, str] | None = None,
    password: str = "",
) -> Result:
    return run_cli_with(argv, None, stdin, environ, password)


def run_cli_with(
    argv: Sequence[str],
    connector: Connector | None,
    stdin: str = "",
    environ: Mapping[str, str] | None = None,
    password: str = "",
) -> Result:
    """run_cli with a connector of the test's own (None: the real WinRM one)."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=False,
        # The state directory (run locks, default audit log) is the test's own temporary
        # one (tests/conftest.py), never the real home.
        environ={
            "HOME": "/nonexistent",
            "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"],
            **(environ or {}),
        },
        ask_password=lambda prompt: password,
    )
    status = main(list(argv), env, connector)
    return Result(status, out.getvalue(), err.getvalue())
