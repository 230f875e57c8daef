"""`fleetlogoff logoff SESSIONNAME|SESSIONID|USER --server NAME`: flags, and the Windows
syntax people type out of habit (`/server:NAME`, `/SERVER:NAME`, `/v`, `/V`).

logoff.exe: `LOGOFF [sessionname | sessionid] [/SERVER:servername] [/V] [/VM]`
[logoff-en-us-usage-invalid-param]. Its switches may come anywhere on the line, so the
words after `logoff` are read again once the Windows switches are translated.
"""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli.flags import (
    Commands,
    Once,
    Parser,
    add_inventory_flag,
    add_vault_flags,
    duration,
    inventory_sources,
    positive_int,
    positive_seconds,
    vault_options,
)
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.executor import ApplySettings
from fleetlogoff.messages import DEFAULT_MESSAGE, check_message
from fleetlogoff.transport import Connector

if TYPE_CHECKING:
    from fleetlogoff.app.logoff import LogoffOptions

VM_UNSUPPORTED = (
    "/VM is not supported: it logs off a session inside a Hyper-V virtual machine through "
    "its host, which WinRM does not reach; run fleetlogoff against the virtual machine "
    "itself (--server VM-NAME)"
)


# Flags followed by a value, which may itself begin with "/" (a path).
_VALUE_FLAGS = frozenset(
    {"--server", "-i", "--inventory", "--warn", "--message", "--force", "--audit-log"}
    | {"--report", "-f", "--forks", "--timeout"}
    | {"--vault-id", "--vault-password-file", "--vault-pass-file"}
)


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server", action=Once, help="inventory host or pattern (with -i), or an address"
    )
    add_inventory_flag(
        parser,
        "Ansible inventory to find --server in: file, directory, h1,h2, list, script "
        "(repeatable, as for plan)",
    )
    add_vault_flags(parser)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show each logoff and the host's own words"
    )
    parser.add_argument("-y", "--yes", action="store_true", help="act without asking")
    parser.add_argument(
        "--warn", type=duration, action=Once, help="warn the user this long before, e.g. 5m"
    )
    parser.add_argument("--message", action=Once, help="warning text (placeholders as for apply)")
    parser.add_argument(
        "--force", action=Once, metavar="REASON", help="log off a protected user (audited)"
    )
    parser.add_argument("--audit-log", help="JSON-lines audit file (default: XDG state dir)")
    parser.add_argument("--report", help="write the outcome as JSON")
    parser.add_argument("-f", "--forks", type=positive_int, help="hosts at once (default 50)")
    parser.add_argument("--timeout", type=positive_seconds, help="per-host deadline (default 30s)")
    parser.add_argument("-k", "--ask-pass", action="store_true", help="prompt for the password")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def register(commands: Commands) -> None:
    logoff = commands.add_parser(
        "logoff",
        help="log off one session (id or name) or a user's sessions, like logoff.exe",
        description="LOGOFF [sessionname | sessionid | user] /SERVER:name [/V], fleet-aware",
    )
    _add_options(logoff)
    logoff.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        metavar="SESSIONNAME|SESSIONID|USER [/SERVER:NAME] [/V]",
    )
    logoff.set_defaults(run=run, forks=50, timeout=30.0)


def take_debug(words: list[str]) -> tuple[list[str], bool]:
    """The words without `--debug`, and whether it was there. logoff's words are read raw
    (logoff.exe's switches may come anywhere), so the common flag `--debug` after the
    session would otherwise reach no parser that knows it; main() needs it before the
    run starts, to configure logging."""
    kept: list[str] = []
    found = False
    for word in words:
        if word == "--debug" and not (kept and kept[-1] in _VALUE_FLAGS):
            found = True
        else:
            kept.append(word)
    return kept, found


def windows_switches(words: list[str]) -> list[str]:
    """Translate logoff.exe's switches into this command's flags; refuse /VM and the rest."""
    out: list[str] = []
    for word in words:
        if not word.startswith("/") or len(word) == 1 or (out and out[-1] in _VALUE_FLAGS):
            out.append(word)  # not a switch, or the value of a flag (-i /path/inventory.yml)
            continue
        key, colon, value = word[1:].partition(":")
        key = key.upper()
        if key == "SERVER":
            if not colon or not value:
                raise UsageError("/SERVER: needs a server name (/SERVER:NAME)")
            out += ["--server", value]
        elif key == "V" and not colon:
            out.append("-v")
        elif key == "?" and not colon:
            out.append("--help")  # logoff.exe /? prints its usage
        elif key == "VM":
            raise UsageError(VM_UNSUPPORTED)
        else:
            raise UsageError(f"unknown switch {word} (logoff.exe's are /SERVER:NAME and /V)")
    return out


def logoff_options(args: argparse.Namespace) -> LogoffOptions:
    from fleetlogoff.app.logoff import LogoffOptions  # see run()

    rest = Parser(prog="fleetlogoff logoff", argument_default=argparse.SUPPRESS)
    _add_options(rest)
    rest.add_argument("target", nargs="*")
    rest.parse_args(windows_switches(list(args.words)), namespace=args)
    targets = getattr(args, "target", [])
    if len(targets) != 1:
        raise UsageError(
            "give one session id, session name or user (logoff.exe's default, the session "
            "it runs in, means nothing over WinRM)"
            if not targets
            else f"one session at a time, not {' '.join(targets)}"
        )
    if not args.server:
        raise UsageError("--server NAME (or /SERVER:NAME) is required")
    if args.force is not None and not args.force.strip():
        raise UsageError("--force needs a reason (it is written to the audit log)")
    message = args.message if args.message is not None else DEFAULT_MESSAGE
    check_message(message)
    warn = args.warn if args.warn is not None else timedelta(0)
    return LogoffOptions(
        selector=targets[0],
        server=args.server,
        inventory=inventory_sources(args),
        vault=vault_options(args),
        verbose=args.verbose,
        force=args.force,
        settings=ApplySettings(
            warn=warn,
            message=message,
            forks=args.forks,
            host_timeout_s=max(args.timeout, 60.0),
            command_timeout_s=args.timeout,
        ),
        yes=args.yes,
        audit_log=args.audit_log,
        report=args.report,
        forks=args.forks,
        timeout=args.timeout,
        ask_pass=args.ask_pass,
        quiet=args.quiet,
    )


def run(args: argparse.Namespace, env: Environment, connector: Connector) -> ExitStatus:
    """Ctrl-C and SIGTERM ask the run to stop starting new work, as for apply."""
    # Imported here, as each command's use case: `plan` and the others start faster.
    from fleetlogoff.app.logoff import run_logoff

    options = logoff_options(args)
    stop = threading.Event()
    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.Signals.SIGINT, signal.Signals.SIGTERM):
            previous[number] = signal.signal(number, lambda *_: stop.set())
    try:
        return run_logoff(options, env, connector, stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]  # what signal() returned
