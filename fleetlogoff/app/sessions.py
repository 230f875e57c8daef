"""`fleetlogoff sessions`: the fleet-wide quser, as a table, JSON or CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fleetlogoff.app.export import write_sessions_csv
from fleetlogoff.app.fleet import FleetOptions, load_fleet, read_fleet
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.collect import HostReading
from fleetlogoff.env import Environment
from fleetlogoff.plan_file import session_document
from fleetlogoff.transport import Connector
from fleetlogoff.ui import console_for
from fleetlogoff.ui.sessions_view import render_sessions
from fleetlogoff.visible import safe_json


def run_sessions(
    options: FleetOptions,
    output_format: Literal["table", "json", "csv"],
    env: Environment,
    connector: Connector,
    *,
    bom: bool = False,
) -> ExitStatus:
    """The fleet-wide quser."""
    _, hosts = load_fleet(options, env)
    readings = read_fleet(hosts, options, env, connector)
    if output_format == "json":
        env.stdout.write(safe_json(sessions_documents(readings)) + "\n")
    elif output_format == "csv":
        write_sessions_csv(readings, env.stdout, excel=bom)
    else:
        render_sessions(console_for(env, "stdout"), readings)
    return ExitStatus.ERROR if any(r.status != "ok" for r in readings) else ExitStatus.OK


def sessions_documents(readings: Sequence[HostReading]) -> list[dict[str, object]]:
    return [
        {
            "host": r.host.name,
            "status": r.status,
            "error": r.error,
            "sessions": [session_document(s) for s in r.sessions],
        }
        for r in readings
    ]
