"""Command line: parse flags into options, call the app, map errors to one line and an
exit code. `main(argv, env)` never exits the process; only __main__ does. Each command's
flags live in the module of the same name (plan, apply, show, sessions, parse, lab,
completion); the help texts in helptext.py; -v levels in logs.py."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Sequence

from fleetlogoff import __version__
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli import (
    apply,
    completion,
    helptext,
    lab,
    logoff,
    parse,
    plan,
    sessions,
    show,
)
from fleetlogoff.cli.flags import Commands, Parser, add_common_flags
from fleetlogoff.cli.logs import DEBUG_VERBOSITY, configure_logging
from fleetlogoff.env import Environment
from fleetlogoff.errors import ConfigError, FleetLogoffError, UsageError
from fleetlogoff.transport import Connector
from fleetlogoff.visible import visible

log = logging.getLogger(__name__)

# In the order `fleetlogoff --help` lists them: the daily path first.
COMMAND_MODULES = (sessions, plan, show, apply, logoff, parse, lab, completion)
# Commands whose arguments belong to another parser (the lab's own).
_PASS_THROUGH = frozenset({"lab"})


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fleetlogoff",
        description=helptext.TOOL,
        epilog=helptext.TOOL_EPILOG,
        usage="fleetlogoff [-h] [--version] [-v] [--debug] COMMAND ...",
    )
    parser.add_argument("--version", action="version", version=f"fleetlogoff {__version__}")
    add_common_flags(parser, top=True)
    commands: Commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands", parser_class=Parser, prog="fleetlogoff"
    )
    for module in COMMAND_MODULES:
        module.register(commands)
    for name, command in commands.choices.items():
        description, examples = helptext.COMMANDS.get(name, (None, None))
        command.description = description or command.description
        command.epilog = examples or command.epilog
        if name not in _PASS_THROUGH:
            add_common_flags(command, top=False)
    commands.choices["completion"].set_defaults(root_parser=parser)
    return parser


def parse_command_line(argv: Sequence[str]) -> argparse.Namespace:
    """Parse flags; everything after `lab` belongs to the lab's own parser. -v and --debug
    count wherever they stand."""
    parser = build_parser()
    args, extra = parser.parse_known_args(list(argv))
    if args.command in _PASS_THROUGH:
        args.lab_args = extra + list(args.lab_args)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "logoff":
        args.words, debug = logoff.take_debug(args.words)
        args.sub_debug = args.sub_debug or debug
    # A command's own -v (logoff's, for logoff.exe's /V) counts as one more level.
    own = int(bool(getattr(args, "verbose", 0)))
    args.verbose = args.global_verbose + getattr(args, "sub_verbose", 0) + own
    args.debug = args.global_debug or getattr(args, "sub_debug", False)
    args.parser = parser
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
    undo_logging = configure_logging(DEBUG_VERBOSITY if debug else 0, env.stderr)
    try:
        # argparse prints --help and --version to sys.stdout and exits: keep both in env.
        with contextlib.redirect_stdout(env.stdout):
            args = parse_command_line(argv)
        if args.command is None:  # a bare `fleetlogoff`: what can it do?
            args.parser.print_help(env.stdout)
            return ExitStatus.OK
        debug = args.debug
        undo_logging()
        verbosity = max(args.verbose, DEBUG_VERBOSITY if debug else 0)
        undo_logging = configure_logging(verbosity, env.stderr)
        chosen = connector if connector is not None else _default_connector()
        if verbosity >= 2:
            from fleetlogoff.app.commands_log import LoggingConnector  # -vv only

            chosen = LoggingConnector(chosen)
        status: ExitStatus = args.run(args, env, chosen)
        return status
    except SystemExit as exc:  # --help / --version
        return ExitStatus.OK if exc.code in (0, None) else ExitStatus.USAGE
    except KeyboardInterrupt:
        env.stderr.write("fleetlogoff: interrupted\n")
        return ExitStatus.INTERRUPTED
    except (UsageError, ConfigError) as exc:
        _error_line(env, "error", exc)
        return ExitStatus.USAGE
    except FleetLogoffError as exc:
        _error_line(env, "error", exc)
        return ExitStatus.ERROR
    except Exception as exc:
        if debug:
            log.exception("internal error")
        _error_line(env, "internal error", f"{type(exc).__name__}: {exc} (run with --debug)")
        return ExitStatus.ERROR
    finally:
        undo_logging()


def _error_line(env: Environment, label: str, what: object) -> None:
    """One line on stderr; an error's text may quote a host, so it is made visible."""
    env.stderr.write(f"fleetlogoff: {label}: {visible(str(what))}\n")
