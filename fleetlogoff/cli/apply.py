"""`fleetlogoff apply PLAN|INVENTORY`: flags, and the signals that ask a run to stop."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING

from fleetlogoff.app.apply_plan import DEFAULT_MAX_PLAN_AGE
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import (
    Commands,
    Once,
    add_fleet_flags,
    add_format_flag,
    add_select_flags,
    duration,
    fleet_options,
    inventory_sources,
    percent,
    positive_int,
    select_options,
)
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.executor import DEFAULT_WARN, DEFAULT_WINDOW_MARGIN, ApplySettings
from fleetlogoff.messages import DEFAULT_MESSAGE
from fleetlogoff.transport import Connector

if TYPE_CHECKING:
    from fleetlogoff.app.apply import ApplyOptions


def serial(text: str) -> tuple[float, bool]:
    """--serial N (hosts) or N% (of the hosts with targets)."""
    if text.endswith("%"):
        value = percent(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be more than 0%")
        return value, True
    return float(positive_int(text)), False


def register(commands: Commands) -> None:
    apply = commands.add_parser("apply", help="warn, wait, re-verify and log off")
    apply.add_argument("source", help="a saved plan (JSON) or an inventory to plan from now")
    add_fleet_flags(apply, positional=False)
    add_select_flags(apply)
    apply.add_argument(
        "--warn",
        type=duration,
        action=Once,
        default=DEFAULT_WARN,
        help="warn users this long before the logoff; --warn 0: no warning at all",
    )
    apply.add_argument("--message", action=Once, default=DEFAULT_MESSAGE, help="warning text")
    apply.add_argument(
        "--remind",
        type=duration,
        action="append",
        default=[],
        help="also remind this long before the deadline, e.g. 1m (repeatable)",
    )
    apply.add_argument("-y", "--yes", action="store_true", help="act without asking")
    apply.add_argument("--serial", type=serial, help="rolling batches: N hosts or N%%")
    apply.add_argument("--max-fail-percentage", type=percent, help="stop new batches above")
    apply.add_argument(
        "--wait-for-window", action="store_true", help="wait for the first window to open"
    )
    apply.add_argument("--ignore-windows", action="store_true", help="act outside windows")
    apply.add_argument(
        "--window-margin",
        type=duration,
        default=DEFAULT_WINDOW_MARGIN,
        help="a window must stay open this long beyond --warn",
    )
    apply.add_argument(
        "--max-plan-age",
        type=duration,
        default=DEFAULT_MAX_PLAN_AGE,
        help="refuse a saved plan older than this",
    )
    apply.add_argument("--audit-log", help="JSON-lines audit file (default: XDG state dir)")
    apply.add_argument("--report", help="write the outcome as JSON")
    apply.add_argument("--no-cancel-notice", action="store_true", help="no 'cancelled' message")
    apply.add_argument(
        "--check", action="store_true", help="show what would happen and act on nothing"
    )
    apply.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 3 when there is nothing to log off (default 0)",
    )
    add_format_flag(apply, ("table", "json"), bom=False)
    apply.set_defaults(run=run)


def apply_options(args: argparse.Namespace) -> ApplyOptions:
    from fleetlogoff.app.apply import ApplyOptions  # see run()

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
        ignore_windows=args.ignore_windows,
        window_margin=args.window_margin,
        processes=args.processes,
        auth_failure_limit=args.auth_failure_limit,
    )
    return ApplyOptions(
        source=args.source,
        fleet=fleet_options(args, inventory=args.source),
        select=select_options(args),
        inventory=inventory_sources(args),  # -i: what a saved plan is checked against
        settings=settings,
        yes=args.yes,
        wait_for_window=args.wait_for_window,
        max_plan_age=args.max_plan_age,
        audit_log=args.audit_log,
        report=args.report,
        output_format=args.format,
        check=args.check,
        detailed_exitcode=args.detailed_exitcode,
    )


# A dropped SSH session (SIGHUP) or a service stop (SIGTERM) is a stop request like Ctrl-C:
# warned users are told, the audit log gets its end, the exit code is 130.
STOP_SIGNALS = (signal.Signals.SIGINT, signal.Signals.SIGTERM, signal.Signals.SIGHUP)


def run(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    """Stop signals ask apply to stop starting new work; they never kill it mid-act."""
    # Imported here, as each command's use case: `plan` and the others start faster.
    from fleetlogoff.app.apply import StopRequest, run_apply

    options = apply_options(args)
    request = StopRequest(threading.Event())
    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():
        for number in STOP_SIGNALS:
            previous[number] = signal.signal(number, request)
    try:
        return run_apply(options, env, connector, request)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]  # what signal() returned
