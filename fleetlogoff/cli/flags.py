"""What the commands' parsers share: an argparse that raises instead of exiting and shows
every default, value types that name what is wrong, and the fleet, selection and output
flags with their options."""

from __future__ import annotations

import argparse
import os
import re
from datetime import timedelta
from typing import NoReturn, TypeAlias

from fleetlogoff.app.fleet import FleetOptions, SelectOptions
from fleetlogoff.auth_guard import DEFAULT_LIMIT as DEFAULT_AUTH_FAILURE_LIMIT
from fleetlogoff.concurrency import DEFAULT_FORKS
from fleetlogoff.durations import format_duration, parse_duration
from fleetlogoff.errors import FleetLogoffError, UsageError
from fleetlogoff.inventory.files import join_sources
from fleetlogoff.inventory.vault_secrets import VaultOptions


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; every flag's default shown after its help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = not (
            "%(default)" in text
            or "(default" in text
            or not action.option_strings
            or default in (None, False, argparse.SUPPRESS)
            or (isinstance(default, list | tuple) and not default)
            or isinstance(action, argparse._CountAction)  # -v: starts at 0, says nothing
        )
        if not shown:
            return text
        if isinstance(default, timedelta):
            # argparse formats the help with %: a literal % in a default must be doubled.
            return f"{text} (default: {_duration_text(default)})"
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit.

    Abbreviated long flags are refused (`--lim` is not `--limit`): a later flag could make
    an abbreviation mean something else, and this tool ends people's sessions.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # argparse's own keywords

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


class Once(argparse.Action):
    """Store a flag's value, and refuse the flag given twice: for the flags that say
    whether and how users are warned, and which host is acted on, the last of two values
    silently winning (argparse's way) could drop a warning a script's earlier flag asked
    for (`--warn 5m ... --warn 0`)."""

    _SEEN = "_once_seen"  # the namespace attribute that records the flags given

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        seen: dict[str, object] = getattr(namespace, self._SEEN, {})
        if self.dest in seen:
            raise argparse.ArgumentError(
                self,
                f"given twice ({_shown(seen[self.dest])}, then {_shown(values)}): give it once",
            )
        seen[self.dest] = values
        setattr(namespace, self._SEEN, seen)
        setattr(namespace, self.dest, values)


def _duration_text(value: timedelta) -> str:
    """A duration as the flags take it: 5m, 1h30m, 0s."""
    return format_duration(int(value.total_seconds())) or "0s"


def _shown(value: object) -> str:
    if isinstance(value, timedelta):
        return _duration_text(value)
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# argparse exports no public name for the object add_subparsers() returns; at run time it
# is not subscriptable, so the alias is for the type checker only.
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"


# Numbers on the command line are ASCII digits: int() and float() would also take '٤'
# (ARABIC-INDIC DIGIT FOUR), '1_000', ' 4', '+4', '1e2', 'inf': an admin who typed one of
# those meant something else.
_WHOLE = re.compile(r"-?[0-9]{1,9}")  # a sign, so that -1 is told its range
_PERCENT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?%?")


def whole_number(text: str) -> int:
    """A whole number written in ASCII digits."""
    if not _WHOLE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(text)


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_seconds(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except FleetLogoffError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:  # a deadline of nothing would fail every host as "no answer in time"
        raise argparse.ArgumentTypeError(f"{text.strip()!r} must be longer than 0s")
    return float(seconds)


def non_negative_seconds(text: str) -> float:
    try:
        return float(parse_duration(text)) if text.strip() not in ("0", "0s") else 0.0
    except FleetLogoffError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def duration(text: str) -> timedelta:
    return timedelta(seconds=non_negative_seconds(text))


def percent(text: str) -> float:
    if not _PERCENT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a percentage, got {text!r}")
    value = float(text.rstrip("%"))
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text}")
    return value


def default_processes() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def add_fleet_flags(parser: argparse.ArgumentParser, *, positional: bool = True) -> None:
    if positional:
        parser.add_argument(
            "inventory", nargs="?", help="Ansible inventory (file, directory or h1,h2,)"
        )
    add_inventory_flag(parser)
    parser.add_argument(
        "-l", "--limit", help="only these hosts: an Ansible pattern (a,b  g1:&g2  all:!h  @file)"
    )
    add_vault_flags(parser)
    parser.add_argument(
        "-f", "--forks", type=positive_int, default=DEFAULT_FORKS, help="hosts at once"
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default="30s",
        help="deadline for one host, e.g. 30s or 2m",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=default_processes(),
        help="worker processes for reading large fleets (the cores, at most 4)",
    )
    parser.add_argument(
        "--auth-failure-limit",
        type=non_negative_int,
        default=DEFAULT_AUTH_FAILURE_LIMIT,
        metavar="N",
        help="stop starting hosts after N authentication failures with the same "
        "credentials and no success, against account lockout (0: no limit)",
    )
    parser.add_argument("-k", "--ask-pass", action="store_true", help="ask for the WinRM password")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress display; problems only"
    )


def add_inventory_flag(
    parser: argparse.ArgumentParser,
    help_text: str = "Ansible inventory: file, directory, h1,h2, list, script (repeatable)",
) -> None:
    """Ansible's -i/--inventory, repeatable."""
    parser.add_argument(
        "-i",
        "--inventory",
        dest="inventories",
        action="append",
        default=[],
        metavar="SOURCE",
        help=help_text,
    )


def add_vault_flags(parser: argparse.ArgumentParser) -> None:
    """Ansible's vault flags (--vault-id, --vault-password-file, -J)."""
    parser.add_argument(
        "--vault-id",
        dest="vault_ids",
        action="append",
        default=[],
        metavar="[LABEL@]SOURCE",
        help="vault password: a file, a script, or prompt (repeatable)",
    )
    parser.add_argument(
        "--vault-password-file",
        "--vault-pass-file",
        dest="vault_password_files",
        action="append",
        default=[],
        metavar="FILE",
        help="vault password file or script (repeatable)",
    )
    parser.add_argument(
        "-J",
        "--ask-vault-password",
        "--ask-vault-pass",
        dest="ask_vault_pass",
        action="store_true",
        help="prompt for the vault password",
    )


def vault_options(args: argparse.Namespace) -> VaultOptions:
    """The vault flags of a command line (add_vault_flags)."""
    return VaultOptions(
        tuple(args.vault_ids), tuple(args.vault_password_files), args.ask_vault_pass
    )


def add_common_flags(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v and --debug, accepted before and after the command (`fleetlogoff -v plan` and
    `fleetlogoff plan -v`); main() adds the counts together. A command that gives -v a
    meaning of its own (logoff's /V) keeps it."""
    prefix = "global_" if top else "sub_"
    taken = parser._option_string_actions
    if "-v" not in taken and "--verbose" not in taken:
        parser.add_argument(
            "-v",
            "--verbose",
            dest=f"{prefix}verbose",
            action="count",
            default=0,
            help="more detail; -vv, -vvv, -vvvv for more (`fleetlogoff --help` says what)",
        )
    if "--debug" not in taken:
        parser.add_argument(
            "--debug",
            dest=f"{prefix}debug",
            action="store_true",
            help="tracebacks on internal errors, and the logs of -vvv",
        )


def add_format_flag(
    parser: argparse.ArgumentParser, choices: tuple[str, ...], *, bom: bool = True
) -> None:
    parser.add_argument(
        "--format", choices=choices, default="table", help="table for people, the others for tools"
    )
    if bom:
        parser.add_argument(
            "--bom",
            action="store_true",
            help="CSV for Excel: a UTF-8 byte order mark first, and cells from hosts that "
            "start with = + - @ prefixed with ' so they stay text",
        )


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


def inventory_sources(args: argparse.Namespace, first: str | None = None) -> str | None:
    """The inventory sources of a command line (a positional one first, then every -i),
    named in one string (files.join_sources), or None when there is none."""
    sources = [s for s in (first, getattr(args, "inventory", None)) if s] + args.inventories
    return join_sources(sources) if sources else None


def fleet_options(args: argparse.Namespace, inventory: str | None = None) -> FleetOptions:
    sources = inventory_sources(args, inventory)
    if sources is None:
        raise UsageError("no inventory: give one, e.g. `-i hosts.yml` (as with Ansible)")
    return FleetOptions(
        inventory=sources,
        limit=args.limit,
        forks=args.forks,
        timeout=args.timeout,
        ask_pass=args.ask_pass,
        quiet=args.quiet,
        processes=args.processes,
        verbose=args.verbose,
        vault=vault_options(args),
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
