"""`fleetlogoff lab`: build a simulated fleet, serve it until SIGINT/SIGTERM, then dump state.

Runnable on its own as `python -m fleetlogoff.lab.runner ARGS` (the main CLI wiring lives
elsewhere). Prints one line containing `ready` once every host serves. With
`--auth kerberos` it first starts a private MIT KDC (kdc.py) and stops it on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from fleetlogoff.lab.contract import SimulatedHost
from fleetlogoff.lab.inventory_out import KerberosInventory, write_inventory
from fleetlogoff.lab.kdc import DEFAULT_REALM, KerberosRealm
from fleetlogoff.lab.kerberos_lab import admin_principal, start_lab_realm, usage_lines
from fleetlogoff.lab.population import build_fleet
from fleetlogoff.lab.scenario import ScenarioError, load_scenario
from fleetlogoff.lab.server import (
    Endpoint,
    KerberosOptions,
    LabServer,
    ServerOptions,
    pick_addresses,
)
from fleetlogoff.lab.server_errors import LabError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
_MAX_HOSTS = 60000  # two listeners per host must fit in the fd limit and 127/8


class _UsageError(LabError):
    """A bad flag or scenario file (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


_DESCRIPTION = """\
Serve a simulated fleet of Windows RDS hosts that speak real WinRM on loopback addresses,
write its Ansible inventory, and run until Ctrl-C or SIGTERM.

Authentication: NTLM (and Basic over HTTPS) by default. With --auth kerberos the lab also
starts a private MIT Kerberos KDC on 127.0.0.1 (krb5kdc as its own child process; needs the
Debian packages krb5-kdc and krb5-admin-server, and fleetlogoff[kerberos] for the tool), with
realm files in a temp folder, a user principal for every lab account and HTTP/, host/ and
WSMAN/ principals for every host (by address and by name); its hosts accept Kerberos and
Negotiate with message encryption over HTTP, and with channel binding over HTTPS. The
inventory then uses ansible_winrm_transport: kerberos, and the lab prints the krb5.conf to
use: KRB5_CONFIG=<krb5.conf> fleetlogoff plan <inventory>, or without a password
KRB5_CONFIG=<krb5.conf> KRB5CCNAME=<cache> kinit Administrator@LAB.TEST first.
The KDC stops with the lab."""


def _ascii_number(text: str) -> int:
    """A whole number in ASCII digits (int() would take '٤', '1_0', ' 4' and '+4')."""
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(text)


def _build_parser() -> _Parser:
    parser = _Parser(prog="fleetlogoff lab", add_help=False, description=_DESCRIPTION)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    parser.add_argument(
        "--hosts", type=_ascii_number, required=True, help="how many hosts to serve"
    )
    parser.add_argument(
        "--inventory-out", type=Path, required=True, help="where to write the inventory"
    )
    parser.add_argument("--state-out", type=Path, help="write host state here on shutdown")
    parser.add_argument("--scenario", help="a scenario file (docs/lab-scenarios.md)")
    parser.add_argument(
        "--seed", type=_ascii_number, default=0, help="seed of the fleet's randomness"
    )
    parser.add_argument("--https", action="store_true", help="also serve HTTPS (lab CA)")
    parser.add_argument("--bind-base", help="first loopback address (default: random block)")
    parser.add_argument(
        "--auth",
        choices=AUTH_CHOICES,
        default="ntlm",
        help="ntlm (default), or kerberos: start a KDC and write a Kerberos inventory",
    )
    parser.add_argument(
        "--realm", default=DEFAULT_REALM, help=f"Kerberos realm (default {DEFAULT_REALM})"
    )
    parser.add_argument(
        "--cbt",
        choices=("relaxed", "strict"),
        default="relaxed",
        help="HTTPS channel binding: relaxed (Windows' default) or strict (refuse Kerberos "
        "and NTLM clients that send no bindings, as CbtHardeningLevel=Strict)",
    )
    parser.add_argument(
        "--kerberos-only",
        action="store_true",
        help="offer only the Kerberos scheme, not Negotiate (Auth/Negotiate=false)",
    )
    return parser


AUTH_CHOICES = ("ntlm", "kerberos")


def lab_help() -> str:
    """The `fleetlogoff lab --help` text."""
    return _build_parser().format_help()


@dataclass(frozen=True, slots=True)
class LabArgs:
    """Parsed `fleetlogoff lab` flags."""

    hosts: int
    inventory_out: Path
    state_out: Path | None
    scenario: str | None
    seed: int
    https: bool
    bind_base: str | None
    auth: str = "ntlm"
    realm: str = DEFAULT_REALM
    strict_cbt: bool = False
    kerberos_only: bool = False
    show_help: bool = False


def parse_args(argv: Sequence[str]) -> LabArgs:
    """Parse the runner's flags.

    Raises:
        _UsageError: unknown flag, missing --hosts/--inventory-out, or a value out of range.
    """
    if any(arg in ("-h", "--help") for arg in argv):
        return LabArgs(0, Path(), None, None, 0, False, None, show_help=True)
    ns = _build_parser().parse_args(list(argv))
    if not 1 <= ns.hosts <= _MAX_HOSTS:
        raise _UsageError(f"--hosts {ns.hosts}: must be between 1 and {_MAX_HOSTS}")
    if ns.bind_base is not None:
        try:
            pick_addresses(ns.hosts, ns.bind_base)
        except (LabError, OSError) as exc:
            raise _UsageError(str(exc)) from None
    if not ns.inventory_out.parent.is_dir():
        raise _UsageError(f"--inventory-out {ns.inventory_out}: directory does not exist")
    if not ns.realm or not all(ch.isalnum() or ch in ".-" for ch in ns.realm):
        raise _UsageError(f"--realm {ns.realm!r}: letters, digits, dots and dashes only")
    return LabArgs(
        ns.hosts,
        ns.inventory_out,
        ns.state_out,
        ns.scenario,
        ns.seed,
        ns.https,
        ns.bind_base,
        auth=ns.auth,
        realm=ns.realm.upper(),
        strict_cbt=ns.cbt == "strict",
        kerberos_only=ns.kerberos_only,
    )


def build_hosts(args: LabArgs) -> list[SimulatedHost]:
    """Build the fleet with the host engineer's population/scenario modules.

    Raises:
        _UsageError: the scenario file is wrong (its one-line ScenarioError message).
    """
    scenario = None
    if args.scenario is not None:
        try:
            scenario = load_scenario(args.scenario)
        except ScenarioError as exc:
            raise _UsageError(str(exc)) from None
    return list(build_fleet(args.hosts, args.seed, scenario))


def run_lab(argv: list[str], stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run `fleetlogoff lab` until SIGINT/SIGTERM.

    Args:
        argv: flags, e.g. ["--hosts", "50", "--inventory-out", "inv.yml"].
        stdout: where the `ready` line goes (default sys.stdout).
        stderr: where the one-line error goes (default sys.stderr).

    Returns:
        0 after a clean shutdown, 2 for bad flags or scenario, 1 when serving failed.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = parse_args(argv)
        if args.show_help:
            print(lab_help(), file=out, end="")
            return EXIT_OK
        hosts = build_hosts(args)
    except _UsageError as exc:
        print(f"fleetlogoff lab: error: {exc}", file=err)
        return EXIT_USAGE
    except LabError as exc:
        print(f"fleetlogoff lab: error: {exc}", file=err)
        return EXIT_FAILURE
    realm: KerberosRealm | None = None
    try:
        if args.auth == "kerberos":
            realm = start_lab_realm(args.realm)
        asyncio.run(serve_until_signal(hosts, args, out, realm))
    except (LabError, OSError) as exc:
        print(f"fleetlogoff lab: error: {exc}", file=err)
        return EXIT_FAILURE
    finally:
        if realm is not None:
            realm.stop()
    return EXIT_OK


async def serve_until_signal(
    hosts: list[SimulatedHost],
    args: LabArgs,
    out: TextIO,
    realm: KerberosRealm | None = None,
) -> None:
    """Serve, announce `ready`, wait for SIGINT/SIGTERM, stop and write the state file."""
    kerberos = None
    if realm is not None:
        kerberos = KerberosOptions(
            realm, offer_negotiate=not args.kerberos_only, strict_cbt=args.strict_cbt
        )
    options = ServerOptions(
        https=args.https, bind_base=args.bind_base, seed=args.seed, kerberos=kerberos
    )
    server = LabServer(hosts, options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        endpoints = await server.start()
        names = [site.dns_name for site in server.sites]
        inventory_kerberos = (
            KerberosInventory(realm.realm, str(realm.krb5_conf), names) if realm else None
        )
        write_inventory(args.inventory_out, hosts, endpoints, inventory_kerberos)
        print(f"ready: {len(endpoints)} hosts serving, inventory {args.inventory_out}", file=out)
        if realm is not None:
            for line in usage_lines(realm, args.inventory_out, admin_principal(hosts, realm)):
                print(line, file=out)
        out.flush()
        await stop.wait()
    finally:
        await server.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if args.state_out is not None:
        write_state(args.state_out, hosts, server.endpoints)


def write_state(path: Path, hosts: Sequence[SimulatedHost], endpoints: Sequence[Endpoint]) -> None:
    """Write each host's state() (when it has one) with its endpoint as JSON."""
    entries: list[dict[str, Any]] = []
    for host, endpoint in zip(hosts, endpoints, strict=False):
        state = getattr(host, "state", None)
        entries.append(
            {
                "name": host.name,
                "endpoint": asdict(endpoint),
                "state": state() if callable(state) else None,
            }
        )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"hosts": entries}, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run_lab(sys.argv[1:]))
