"""`fleetlogoff show PLAN.json`: flags."""

from __future__ import annotations

import argparse

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import Commands, add_format_flag
from fleetlogoff.env import Environment
from fleetlogoff.transport import Connector


def register(commands: Commands) -> None:
    show = commands.add_parser("show", help="print a saved plan")
    show.add_argument("plan", help="a plan saved by `plan -o`")
    add_format_flag(show, ("table", "json", "csv"))
    show.add_argument(
        "--all", dest="show_all", action="store_true", help="list every session that stays"
    )
    show.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when the plan logs sessions off, 0 when not, 1 when a host was not read",
    )
    show.set_defaults(run=run)


def run(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    from fleetlogoff.app.show import run_show  # when it runs: other commands start faster

    return run_show(
        args.plan,
        args.format,
        env,
        show_all=args.show_all or args.verbose > 0,
        bom=args.bom,
        detailed_exitcode=args.detailed_exitcode,
    )
