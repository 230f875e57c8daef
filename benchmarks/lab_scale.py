"""Scale check: 1,000 simulated hosts served by one lab process.

Starts the lab in a subprocess (`python -m fleetlogoff.lab.runner` when the population module
exists, else this script's own `--serve` child with minimal hosts), reports the startup time
until `ready` and the idle RSS of the lab process (from /proc), then runs a quick pypsrp
smoke (NTLM + message encryption) against a few hosts. Prints figures; asserts nothing.

Usage (from the repo root): PYTHONPATH=. .venv/bin/python benchmarks/lab_scale.py [--hosts 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pypsrp.client import Client

from fleetlogoff.lab.contract import Account, CommandRequest, CommandResult, NetworkBehaviour
from fleetlogoff.lab.fleet import start_fleet_subprocess
from fleetlogoff.lab.inventory_out import write_inventory
from fleetlogoff.lab.server import LabServer, ServerOptions

_ACCOUNT = Account("labadmin", "Bench-Passw0rd")


@dataclass
class _MinimalHost:
    name: str
    accounts: tuple[Account, ...] = (_ACCOUNT,)
    network: NetworkBehaviour = field(default_factory=NetworkBehaviour)

    def wants_stdin(self, command_line: str) -> bool:
        return False

    def run(self, request: CommandRequest) -> CommandResult:
        return CommandResult(f"{self.name}\r\n".encode(), b"", 0)


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB, from /proc/PID/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _serve_minimal(count: int, inventory: Path, https: bool) -> None:
    hosts = [_MinimalHost(f"BENCH{i:04d}") for i in range(count)]
    server = LabServer(hosts, ServerOptions(https=https))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    endpoints = await server.start()
    write_inventory(inventory, hosts, endpoints)
    print(f"ready: {count} hosts", flush=True)
    await stop.wait()
    await server.stop()


def _smoke(address: str, port: int, user: str, password: str) -> float:
    started = time.monotonic()
    with Client(
        address, port=port, ssl=False, auth="ntlm", username=user, password=password, no_proxy=True
    ) as client:
        stdout, _, rc = client.execute_cmd("hostname")
    if rc != 0 or not stdout.strip():
        raise RuntimeError(f"{address}:{port}: unexpected reply rc={rc} stdout={stdout!r}")
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--smoke", type=int, default=5)
    parser.add_argument("--https", action="store_true")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(_serve_minimal(args.hosts, args.serve, args.https))
        return 0
    work = Path(tempfile.mkdtemp(prefix="lab-scale-"))
    flags = ["--hosts", str(args.hosts)] + (["--https"] if args.https else [])
    started = time.monotonic()
    if importlib.util.find_spec("fleetlogoff.lab.population") is not None:
        mode = "runner (population.build_fleet)"
        fleet = start_fleet_subprocess(flags, work_dir=work)
        process, inventory = fleet.process, fleet.inventory_path
    else:
        mode = "minimal hosts (population module not available)"
        inventory = work / "inventory.yml"
        process = subprocess.Popen(
            [sys.executable, __file__, *flags, "--serve", str(inventory)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        if "ready" not in process.stdout.readline():
            raise SystemExit("lab child did not get ready")
    startup = time.monotonic() - started
    time.sleep(2.0)  # let the lab settle before reading its idle RSS
    idle = rss_mb(process.pid)
    import yaml

    hosts = yaml.safe_load(inventory.read_text())["all"]["children"]["rds"]["hosts"]
    picks = list(hosts.values())[:: max(1, len(hosts) // max(1, args.smoke))][: args.smoke]
    times = [
        _smoke(h["ansible_host"], h["ansible_port"], h["ansible_user"], h["ansible_password"])
        for h in picks
    ]
    addresses = {h["ansible_host"] for h in hosts.values()}
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    print(f"mode:            {mode}")
    print(f"hosts:           {len(hosts)} on {len(addresses)} distinct addresses")
    print(f"startup:         {startup:.2f} s (spawn to 'ready')")
    print(f"idle RSS:        {idle:.1f} MB")
    print(
        f"pypsrp smoke:    {len(times)} hosts ok, execute_cmd {min(times):.3f}-{max(times):.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
