"""Command line: parse flags into options, call the app, map errors to one line and an
exit code. `main(argv, env)` never exits the process; only __main__ does."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Sequence
from typing import NoReturn

from fleetlogoff import __version__
from fleetlogoff.app import (
    ExitStatus,
    FleetOptions,
    PlanOptions,
    SelectOptions,
    run_plan,
    run_sessions,
)
from fleetlogoff.env import Environment
from fleetlogoff.errors import ConfigError, FleetLogoffError, UsageError
from fleetlogoff.transport import Connector

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    from fleetlogoff.durations import parse_duration

    try:
        return float(parse_duration(text))
    except FleetLogoffError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_fleet_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inventory", help="Ansible-style YAML inventory of RDS hosts")
    parser.add_argument("-l", "--limit", help="host pattern (Ansible syntax: a,b  g1:&g2  all:!h)")
    parser.add_argument(
        "-f", "--forks", type=_positive_int, default=50, help="hosts at once (default 50)"
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=30.0,
        help="per-host deadline, e.g. 30s or 2m (default 30s)",
    )
    parser.add_argument("-k", "--ask-pass", action="store_true", help="prompt for the password")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def _add_select_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", dest="rules_file", help="YAML rules file (replaces inventory)")
    parser.add_argument("--user", action="append", default=[], help="user glob (repeatable)")
    parser.add_argument(
        "--state", action="append", default=[], help="session state, e.g. disc (repeatable)"
    )
    parser.add_argument("--idle", help='idle condition, e.g. ">= 2h"')
    parser.add_argument(
        "--session", action="append", default=[], help="session name glob (repeatable)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fleetlogoff", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fleetlogoff {__version__}")
    parser.add_argument("--debug", action="store_true", help="log details; tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = commands.add_parser("plan", help="read sessions fleet-wide and show what would go")
    _add_fleet_flags(plan)
    _add_select_flags(plan)
    plan.add_argument("-o", "--output", help="save the plan (JSON) for apply")
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.add_argument("--detailed-exitcode", action="store_true", help="0 none, 2 targets, 1 error")
    plan.add_argument("--all", dest="show_all", action="store_true", help="list every session")

    sessions = commands.add_parser("sessions", help="fleet-wide quser")
    _add_fleet_flags(sessions)
    sessions.add_argument("--format", choices=("table", "json", "csv"), default="table")

    parse = commands.add_parser("parse", help="parse saved quser/qwinsta output to JSON")
    parse.add_argument("kind", choices=("quser", "qwinsta"))
    parse.add_argument("file", help="file with the output, or - for stdin")
    parse.add_argument("--date-order", choices=("auto", "mdy", "dmy", "ymd"), default="auto")
    parse.add_argument(
        "--codepage", type=int, default=None, help="code page of the file (default: UTF-8)"
    )

    lab = commands.add_parser("lab", help="run a simulated RDS fleet", add_help=False)
    lab.add_argument("lab_args", nargs=argparse.REMAINDER)

    demo = commands.add_parser("demo", help="plan (and apply) against an embedded lab fleet")
    demo.add_argument("--hosts", type=_positive_int, default=8)
    return parser


def _fleet_options(args: argparse.Namespace) -> FleetOptions:
    return FleetOptions(
        inventory=args.inventory,
        limit=args.limit,
        forks=args.forks,
        timeout=args.timeout,
        ask_pass=args.ask_pass,
        quiet=args.quiet,
    )


def _select_options(args: argparse.Namespace) -> SelectOptions:
    return SelectOptions(
        rules_file=args.rules_file,
        users=tuple(args.user),
        states=tuple(args.state),
        idle=args.idle,
        sessions=tuple(args.session),
    )


def _default_connector() -> Connector:
    from fleetlogoff.transport.winrm import WinRMConnector

    return WinRMConnector()


def dispatch(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    if args.command == "plan":
        options = PlanOptions(
            fleet=_fleet_options(args),
            select=_select_options(args),
            output=args.output,
            format=args.format,
            detailed_exitcode=args.detailed_exitcode,
            show_all=args.show_all,
        )
        return run_plan(options, env, connector)
    if args.command == "sessions":
        return run_sessions(_fleet_options(args), args.format, env, connector)
    if args.command == "parse":
        from fleetlogoff.app_parse import run_parse

        return run_parse(args.kind, args.file, args.date_order, args.codepage, env)
    if args.command == "lab":
        from fleetlogoff.lab.runner import run_lab

        return ExitStatus(run_lab(list(args.lab_args)))
    if args.command == "demo":
        from fleetlogoff.demo import run_demo

        return run_demo(args.hosts, env)
    raise UsageError(f"unknown command {args.command!r}")


def main(
    argv: Sequence[str],
    env: Environment | None = None,
    connector: Connector | None = None,
) -> ExitStatus:
    """Run one command line; return its exit status (never raises, never exits)."""
    env = env if env is not None else Environment()
    debug = "--debug" in argv
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=env.stderr)
    try:
        # argparse prints --help and --version to sys.stdout and exits: keep both in env.
        with contextlib.redirect_stdout(env.stdout):
            args = build_parser().parse_args(list(argv))
        return dispatch(args, env, connector if connector is not None else _default_connector())
    except SystemExit as exc:  # --help / --version
        return ExitStatus.OK if exc.code in (0, None) else ExitStatus.USAGE
    except KeyboardInterrupt:
        env.stderr.write("fleetlogoff: interrupted\n")
        return ExitStatus.INTERRUPTED
    except (UsageError, ConfigError) as exc:
        env.stderr.write(f"fleetlogoff: error: {exc}\n")
        return ExitStatus.USAGE
    except FleetLogoffError as exc:
        env.stderr.write(f"fleetlogoff: error: {exc}\n")
        return ExitStatus.ERROR
    except Exception as exc:
        if debug:
            log.exception("internal error")
        env.stderr.write(
            f"fleetlogoff: internal error: {type(exc).__name__}: {exc} (run with --debug)\n"
        )
        return ExitStatus.ERROR
