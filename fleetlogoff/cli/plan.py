"""`fleetlogoff plan INVENTORY`: flags."""

from __future__ import annotations

import argparse

from fleetlogoff.app.plan import PlanOptions, run_plan
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import (
    Commands,
    add_fleet_flags,
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
    plan.add_argument("-o", "--output", help="save the plan (JSON) for apply")
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.add_argument("--detailed-exitcode", action="store_true", help="0 none, 2 targets, 1 error")
    plan.add_argument("--all", dest="show_all", action="store_true", help="list every session")
    plan.set_defaults(run=run)


def run(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    options = PlanOptions(
        fleet=fleet_options(args),
        select=select_options(args),
        output=args.output,
        format=args.format,
        detailed_exitcode=args.detailed_exitcode,
        show_all=args.show_all,
    )
    return run_plan(options, env, connector)
