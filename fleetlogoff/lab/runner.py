"""`fleetlogoff lab`: build a simulated fleet, serve it until SIGINT/SIGTERM, then dump state.

Runnable on its own as `python -m fleetlogoff.lab.runner ARGS` (the main CLI wiring lives
elsewhere). Prints one line containing `ready` once every host serves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from fleetlogoff.lab.contract import SimulatedHost
from fleetlogoff.lab.inventory_out import write_inventory
from fleetlogoff.lab.population import build_fleet
from fleetlogoff.lab.scenario import ScenarioError, load_scenario
from fleetlogoff.lab.server import Endpoint, LabServer, ServerOptions, pick_addresses
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


def parse_args(argv: Sequence[str]) -> LabArgs:
    """Parse the runner's flags.

    Raises:
        _UsageError: unknown flag, missing --hosts/--inventory-out, or a value out of range.
    """
    parser = _Parser(prog="fleetlogoff lab", add_help=False)
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--inventory-out", type=Path, required=True)
    parser.add_argument("--state-out", type=Path)
    parser.add_argument("--scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--https", action="store_true")
    parser.add_argument("--bind-base")
    ns = parser.parse_args(list(argv))
    if not 1 <= ns.hosts <= _MAX_HOSTS:
        raise _UsageError(f"--hosts {ns.hosts}: must be between 1 and {_MAX_HOSTS}")
    if ns.bind_base is not None:
        try:
            pick_addresses(ns.hosts, ns.bind_base)
        except (LabError, OSError) as exc:
            raise _UsageError(str(exc)) from None
    if not ns.inventory_out.parent.is_dir():
        raise _UsageError(f"--inventory-out {ns.inventory_out}: directory does not exist")
    return LabArgs(
        ns.hosts, ns.inventory_out, ns.state_out, ns.scenario, ns.seed, ns.https, ns.bind_base
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
        hosts = build_hosts(args)
    except _UsageError as exc:
        print(f"fleetlogoff lab: error: {exc}", file=err)
        return EXIT_USAGE
    except LabError as exc:
        print(f"fleetlogoff lab: error: {exc}", file=err)
        return EXIT_FAILURE
    try:
        asyncio.run(serve_until_signal(hosts, args, out))
    except (LabError, OSError) as exc:
        print(f"fleetlogoff lab: error: {exc}", file=err)
        return EXIT_FAILURE
    return EXIT_OK


async def serve_until_signal(hosts: list[SimulatedHost], args: LabArgs, out: TextIO) -> None:
    """Serve, announce `ready`, wait for SIGINT/SIGTERM, stop and write the state file."""
    options = ServerOptions(https=args.https, bind_base=args.bind_base, seed=args.seed)
    server = LabServer(hosts, options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        endpoints = await server.start()
        write_inventory(args.inventory_out, hosts, endpoints)
        print(f"ready: {len(endpoints)} hosts serving, inventory {args.inventory_out}", file=out)
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
