"""`fleetlogoff plan INVENTORY`: flags."""

from __future__ import annotations

import argparse

from fleetlogoff.app.plan import PlanOptions, run_plan
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import (
    Commands,
    add_fleet_flags,
    add_format_flag,
    add_select_flags,
    fleet_options,
    select_options,
)
from fleetlogoff.env import Environment
from fleetlogoff.transport import Connector


def register(commands: Commands) -> None:
    plan = commands.add_parser("plan", help="read sessions fleet-wide and show what would go")
    add_fleet_flags(plan)
    add_select_flags(plan)
    # -out: Terraform's spelling. Declared, so `-out FILE` and `-out=FILE` save the plan
    # instead of being read as `-o ut`.
    plan.add_argument(
        "-o", "--output", "-out", metavar="PLAN.json", help="save the plan for `apply`"
    )
    add_format_flag(plan, ("table", "json", "csv"))
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when sessions would be logged off, 0 when not, 1 when a host was not read",
    )
    plan.add_argument(
        "--all",
        dest="show_all",
        action="store_true",
        help="list every session that stays, with its reason, instead of counts",
    )
    plan.set_defaults(run=run)


def run(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    options = PlanOptions(
        fleet=fleet_options(args),
        select=select_options(args),
        output=args.output,
        format=args.format,
        detailed_exitcode=args.detailed_exitcode,
        show_all=args.show_all,
        bom=args.bom,
    )
    return run_plan(options, env, connector)
