"""`fleetlogoff sessions`: the fleet-wide quser, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Literal

from fleetlogoff.app.fleet import FleetOptions, load_fleet, read_fleet
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.collect import HostReading
from fleetlogoff.env import Environment
from fleetlogoff.plan_file import session_document
from fleetlogoff.transport import Connector
from fleetlogoff.ui import make_console
from fleetlogoff.ui.sessions_view import render_sessions


def run_sessions(
    options: FleetOptions,
    output_format: Literal["table", "json", "csv"],
    env: Environment,
    connector: Connector,
) -> ExitStatus:
    """The fleet-wide quser."""
    _, hosts = load_fleet(options, env)
    readings = read_fleet(hosts, options, env, connector)
    if output_format == "json":
        env.stdout.write(json.dumps(sessions_documents(readings), indent=2, ensure_ascii=False))
        env.stdout.write("\n")
    elif output_format == "csv":
        write_sessions_csv(readings, env)
    else:
        render_sessions(make_console(env.stdout, color=env.color), readings)
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


_CSV_FIELDS = ("host", "id", "username", "session_name", "state", "idle_seconds", "logon_time")


def write_sessions_csv(readings: Sequence[HostReading], env: Environment) -> None:
    writer = csv.writer(env.stdout, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for r in readings:
        for s in r.sessions:
            doc = session_document(s)
            writer.writerow([r.host.name, *(doc[k] for k in _CSV_FIELDS[1:])])
