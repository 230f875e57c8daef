"""Command line: parse flags into options, call the app, map errors to one line and an
exit code. `main(argv, env)` never exits the process; only __main__ does. Each command's
flags live in the module of the same name (plan, apply, sessions, parse, lab)."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Sequence

from fleetlogoff import __version__
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli import apply, lab, parse, plan, sessions
from fleetlogoff.cli.flags import Parser
from fleetlogoff.env import Environment
from fleetlogoff.errors import ConfigError, FleetLogoffError, UsageError
from fleetlogoff.transport import Connector

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fleetlogoff", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fleetlogoff {__version__}")
    parser.add_argument("--debug", action="store_true", help="log details; tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in (plan, apply, sessions, parse, lab):
        command.register(commands)
    return parser


def parse_command_line(argv: Sequence[str]) -> argparse.Namespace:
    """Parse flags; everything after `lab` belongs to the lab's own parser."""
    parser = build_parser()
    args, extra = parser.parse_known_args(list(argv))
    if args.command == "lab":
        args.lab_args = extra + list(args.lab_args)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _default_connector() -> Connector:
    from fleetlogoff.transport.connector import FleetConnector

    return FleetConnector()


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
            args = parse_command_line(argv)
        status: ExitStatus = args.run(
            args, env, connector if connector is not None else _default_connector()
        )
        return status
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
