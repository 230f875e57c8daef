"""Command line: parse flags into options, call the app, map errors to one line and an
exit code. `main(argv, env)` never exits the process; only __main__ does."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Sequence
from datetime import timedelta
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
from fleetlogoff.app_apply import ApplyOptions, run_apply
from fleetlogoff.env import Environment
from fleetlogoff.errors import ConfigError, FleetLogoffError, UsageError
from fleetlogoff.executor import ApplySettings
from fleetlogoff.messages import DEFAULT_MESSAGE
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


def _default_processes() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def _add_fleet_flags(parser: argparse.ArgumentParser, *, positional: bool = True) -> None:
    if positional:
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
    parser.add_argument(
        "--processes",
        type=_positive_int,
        default=_default_processes(),
        help="worker processes for reading large fleets (default: cores, at most 4)",
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

    _add_apply_parser(commands)

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


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text}")
    return value


def _serial(text: str) -> tuple[float, bool]:
    """--serial N (hosts) or N% (of the hosts with targets)."""
    if text.endswith("%"):
        value = _percent(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be more than 0%")
        return value, True
    return float(_positive_int(text)), False


def _duration(text: str) -> timedelta:
    return timedelta(seconds=_non_negative_seconds(text))


def _non_negative_seconds(text: str) -> float:
    from fleetlogoff.durations import parse_duration

    try:
        return float(parse_duration(text)) if text.strip() not in ("0", "0s") else 0.0
    except FleetLogoffError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_apply_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    apply = commands.add_parser("apply", help="warn, wait, re-verify and log off")
    apply.add_argument("source", help="a saved plan (JSON) or an inventory to plan from now")
    apply.add_argument("--inventory", help="inventory to check a saved plan against")
    _add_fleet_flags(apply, positional=False)
    _add_select_flags(apply)
    apply.add_argument("--warn", type=_duration, default=timedelta(0), help="e.g. 5m")
    apply.add_argument("--message", default=DEFAULT_MESSAGE, help="warning text")
    apply.add_argument(
        "--remind",
        type=_duration,
        action="append",
        default=[],
        help="also remind this long before the deadline, e.g. 1m (repeatable)",
    )
    apply.add_argument("-y", "--yes", action="store_true", help="act without asking")
    apply.add_argument("--serial", type=_serial, help="rolling batches: N hosts or N%%")
    apply.add_argument("--max-fail-percentage", type=_percent, help="stop new batches above")
    apply.add_argument("--wait-for-window", action="store_true")
    apply.add_argument("--ignore-windows", action="store_true", help="act outside windows")
    apply.add_argument("--window-margin", type=_duration, default=timedelta(minutes=5))
    apply.add_argument("--max-plan-age", type=_duration, default=timedelta(hours=1))
    apply.add_argument("--audit-log", help="JSON-lines audit file (default: XDG state dir)")
    apply.add_argument("--report", help="write the outcome as JSON")
    apply.add_argument("--no-cancel-notice", action="store_true", help="no 'cancelled' message")


def _apply_options(args: argparse.Namespace) -> ApplyOptions:
    serial = args.serial
    for before in args.remind:
        if before >= args.warn:
            raise UsageError(f"--remind {before} must be shorter than --warn {args.warn}")
    settings = ApplySettings(
        warn=args.warn,
        message=args.message,
        forks=args.forks,
        batch_size=int(serial[0]) if serial and not serial[1] else None,
        batch_percent=serial[0] if serial and serial[1] else None,
        max_fail_percentage=args.max_fail_percentage,
        host_timeout_s=max(args.timeout, 60.0),
        command_timeout_s=args.timeout,
        notify_cancel=not args.no_cancel_notice,
        reminders=tuple(args.remind),
    )
    return ApplyOptions(
        source=args.source,
        fleet=_fleet_options(args, inventory=args.source),
        select=_select_options(args),
        inventory=args.inventory,
        settings=settings,
        yes=args.yes,
        wait_for_window=args.wait_for_window,
        ignore_windows=args.ignore_windows,
        window_margin=args.window_margin,
        max_plan_age=args.max_plan_age,
        audit_log=args.audit_log,
        report=args.report,
    )


def _run_apply_with_signals(
    args: argparse.Namespace, env: Environment, connector: Connector
) -> ExitStatus:
    """Ctrl-C and SIGTERM ask apply to stop starting new work; they never kill it mid-act."""
    stop = threading.Event()
    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.Signals.SIGINT, signal.Signals.SIGTERM):
            previous[number] = signal.signal(number, lambda *_: stop.set())
    try:
        return run_apply(_apply_options(args), env, connector, stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]  # what signal() returned


def parse_command_line(argv: Sequence[str]) -> argparse.Namespace:
    """Parse flags; everything after `lab` belongs to the lab's own parser."""
    parser = build_parser()
    args, extra = parser.parse_known_args(list(argv))
    if args.command == "lab":
        args.lab_args = extra + list(args.lab_args)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _fleet_options(args: argparse.Namespace, inventory: str | None = None) -> FleetOptions:
    return FleetOptions(
        inventory=inventory if inventory is not None else args.inventory,
        limit=args.limit,
        forks=args.forks,
        timeout=args.timeout,
        ask_pass=args.ask_pass,
        quiet=args.quiet,
        processes=args.processes,
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
    if args.command == "apply":
        return _run_apply_with_signals(args, env, connector)
    if args.command == "sessions":
        return run_sessions(_fleet_options(args), args.format, env, connector)
    if args.command == "parse":
        from fleetlogoff.app_parse import run_parse

        return run_parse(args.kind, args.file, args.date_order, args.codepage, env)
    if args.command == "lab":
        from fleetlogoff.lab.runner import run_lab

        # The lab answers 0 (stopped cleanly), 1 (serving failed) or 2 (bad flags/scenario).
        code = run_lab(list(args.lab_args), stdout=env.stdout, stderr=env.stderr)
        return {0: ExitStatus.OK, 2: ExitStatus.USAGE}.get(code, ExitStatus.ERROR)
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
            args = parse_command_line(argv)
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
