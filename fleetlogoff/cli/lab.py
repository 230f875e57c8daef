"""`fleetlogoff lab ...` and `fleetlogoff demo`: the commands that start the embedded lab.
Everything after `lab` belongs to the lab's own parser."""

from __future__ import annotations

import argparse

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import Commands, positive_int
from fleetlogoff.env import Environment
from fleetlogoff.transport import Connector


def register(commands: Commands) -> None:
    # add_help=False: `fleetlogoff lab --help` reaches the lab's own parser, which knows
    # its flags.
    lab = commands.add_parser("lab", help="run a simulated RDS fleet", add_help=False)
    lab.add_argument("lab_args", nargs=argparse.REMAINDER, help="the lab's own flags")
    lab.set_defaults(run=run_lab)
    demo = commands.add_parser("demo", help="plan and apply against an embedded lab fleet")
    demo.add_argument("--hosts", type=positive_int, default=8, help="lab hosts to start")
    demo.set_defaults(run=run_demo)


def run_lab(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    from fleetlogoff.lab.runner import run_lab as lab_main

    # The lab answers 0 (stopped cleanly), 1 (serving failed) or 2 (bad flags/scenario).
    code = lab_main(list(args.lab_args), stdout=env.stdout, stderr=env.stderr)
    return {0: ExitStatus.OK, 2: ExitStatus.USAGE}.get(code, ExitStatus.ERROR)


def run_demo(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    from fleetlogoff.demo import run_demo as demo_main

    return demo_main(args.hosts, env)
