"""`fleetlogoff parse quser|qwinsta FILE`: flags."""

from __future__ import annotations

import argparse

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import Commands, positive_int
from fleetlogoff.env import Environment
from fleetlogoff.transport import Connector


def register(commands: Commands) -> None:
    parse = commands.add_parser("parse", help="parse saved quser/qwinsta output to JSON")
    parse.add_argument("kind", choices=("quser", "qwinsta"), help="the command that printed it")
    parse.add_argument("file", help="file with the output, or - for stdin")
    parse.add_argument(
        "--date-order",
        choices=("auto", "mdy", "dmy", "ymd"),
        default="auto",
        help="how to read numeric dates; auto decides from the dates themselves",
    )
    parse.add_argument(
        "--international",
        metavar="FILE",
        help='the host\'s saved `reg query "HKCU\\Control Panel\\International"` output: '
        "read logon times with its own date and time format",
    )
    parse.add_argument(
        "--codepage",
        type=positive_int,
        default=None,
        help="code page of the file (default: UTF-8)",
    )
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    from fleetlogoff.app.parse import run_parse  # when it runs: other commands start faster

    return run_parse(args.kind, args.file, args.date_order, args.codepage, env, args.international)
