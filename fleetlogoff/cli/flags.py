"""What the commands' parsers share: an argparse that raises instead of exiting, value
types that name what is wrong, and the fleet and selection flags with their options."""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from typing import NoReturn, TypeAlias

from fleetlogoff.app.fleet import FleetOptions, SelectOptions
from fleetlogoff.auth_guard import DEFAULT_LIMIT as DEFAULT_AUTH_FAILURE_LIMIT
from fleetlogoff.concurrency import DEFAULT_FORKS
from fleetlogoff.durations import parse_duration
from fleetlogoff.errors import FleetLogoffError, UsageError


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


# argparse exports no public name for the object add_subparsers() returns; at run time it
# is not subscriptable, so the alias is for the type checker only.
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_seconds(text: str) -> float:
    try:
        return float(parse_duration(text))
    except FleetLogoffError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative_seconds(text: str) -> float:
    try:
        return float(parse_duration(text)) if text.strip() not in ("0", "0s") else 0.0
    except FleetLogoffError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def duration(text: str) -> timedelta:
    return timedelta(seconds=non_negative_seconds(text))


def percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text}")
    return value


def default_processes() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def add_fleet_flags(parser: argparse.ArgumentParser, *, positional: bool = True) -> None:
    if positional:
        parser.add_argument("inventory", help="Ansible-style YAML inventory of RDS hosts")
    parser.add_argument("-l", "--limit", help="host pattern (Ansible syntax: a,b  g1:&g2  all:!h)")
    parser.add_argument(
        "-f",
        "--forks",
        type=positive_int,
        default=DEFAULT_FORKS,
        help=f"hosts at once (default {DEFAULT_FORKS})",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=30.0,
        help="per-host deadline, e.g. 30s or 2m (default 30s)",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=default_processes(),
        help="worker processes for reading large fleets (default: cores, at most 4)",
    )
    parser.add_argument(
        "--auth-failure-limit",
        type=non_negative_int,
        default=DEFAULT_AUTH_FAILURE_LIMIT,
        metavar="N",
        help="stop starting hosts after N authentication failures with the same "
        "credentials and no success, against account lockout (default 3, 0: no limit)",
    )
    parser.add_argument("-k", "--ask-pass", action="store_true", help="prompt for the password")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def add_select_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", dest="rules_file", help="YAML rules file (replaces inventory)")
    parser.add_argument("--user", action="append", default=[], help="user glob (repeatable)")
    parser.add_argument(
        "--state", action="append", default=[], help="session state, e.g. disc (repeatable)"
    )
    parser.add_argument("--idle", help='idle condition, e.g. ">= 2h"')
    parser.add_argument(
        "--session", action="append", default=[], help="session name glob (repeatable)"
    )


def fleet_options(args: argparse.Namespace, inventory: str | None = None) -> FleetOptions:
    return FleetOptions(
        inventory=inventory if inventory is not None else args.inventory,
        limit=args.limit,
        forks=args.forks,
        timeout=args.timeout,
        ask_pass=args.ask_pass,
        quiet=args.quiet,
        processes=args.processes,
        auth_failure_limit=args.auth_failure_limit,
    )


def select_options(args: argparse.Namespace) -> SelectOptions:
    return SelectOptions(
        rules_file=args.rules_file,
        users=tuple(args.user),
        states=tuple(args.state),
        idle=args.idle,
        sessions=tuple(args.session),
    )
