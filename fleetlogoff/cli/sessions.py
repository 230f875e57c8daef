"""`fleetlogoff sessions INVENTORY`: flags."""

from __future__ import annotations

import argparse

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import Commands, add_fleet_flags, add_format_flag, fleet_options
from fleetlogoff.env import Environment
from fleetlogoff.transport import Connector


def register(commands: Commands) -> None:
    sessions = commands.add_parser("sessions", help="fleet-wide quser")
    add_fleet_flags(sessions)
    add_format_flag(sessions, ("table", "json", "csv"))
    sessions.set_defaults(run=run)


def run(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    from fleetlogoff.app.sessions import run_sessions  # when it runs: other commands start faster

    return run_sessions(fleet_options(args), args.format, env, connector, bom=args.bom)
