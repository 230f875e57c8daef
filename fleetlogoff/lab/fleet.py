"""Start and stop a fleet of simulated WinRM endpoints, in this process or in a subprocess.

In-process: the lab's event loop runs on one background thread (not a thread per host).
Subprocess: `python -m fleetlogoff.lab.runner ...` is started and its `ready` line awaited;
the endpoints are read back from the inventory it writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO

from fleetlogoff.lab.contract import SimulatedHost
from fleetlogoff.lab.inventory_out import read_endpoints
from fleetlogoff.lab.server import Endpoint, KerberosOptions, LabServer, ServerOptions
from fleetlogoff.lab.server_errors import LabStartError
from fleetlogoff.lab.server_shells import ShellLimits

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 120.0


class RunningFleet:
    """A lab serving hosts from a background event-loop thread (a context manager).

    Attributes:
        endpoints: one Endpoint per host, in host order.
        server: the LabServer (for inspection in tests).
    """

    def __init__(self, server: LabServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-loop", daemon=True)
        self.endpoints: list[Endpoint] = []

    def start(self) -> RunningFleet:
        """Start the loop thread and bind every host (blocks until all serve)."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.server.start(), self._loop)
        try:
            self.endpoints = future.result(_START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and join the loop thread (idempotent)."""
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
        try:
            future.result(30)
        except (concurrent.futures.TimeoutError, OSError) as exc:
            log.warning("lab stop incomplete: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    def endpoint(self, name: str) -> Endpoint:
        """Return the endpoint of the host with this name.

        Raises:
            KeyError: no such host.
        """
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        raise KeyError(name)

    def __enter__(self) -> RunningFleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_fleet(
    hosts: Sequence[SimulatedHost],
    *,
    https: bool = True,
    bind_base: str | None = None,
    limits: ShellLimits | None = None,
    seed: int = 0,
    work_dir: Path | None = None,
    connection_idle_s: float | None = None,
    kerberos: KerberosOptions | None = None,
) -> RunningFleet:
    """Serve hosts from this process until `.stop()` (or the end of a `with` block).

    Args:
        hosts: the simulated hosts.
        https: also serve HTTPS with certificates from a lab CA.
        bind_base: first loopback address; None picks a random 127.x.y.1 block.
        limits: Winrs quotas and idle timeout (defaults: Windows 2012+ values).
        seed: seeds the fault-injection randomness.
        work_dir: where the CA PEM and user files go; None uses a temp dir.
        connection_idle_s: how long a connection may wait for its next complete request
            before the lab closes it; None keeps Windows' 120 s.
        kerberos: also accept Kerberos from this running realm (the caller owns the realm
            and sets its KRB5_* variables); None keeps NTLM and Basic only.

    Returns:
        The running fleet, endpoints ready.
    """
    options = ServerOptions(
        https=https,
        bind_base=bind_base,
        limits=limits or ShellLimits(),
        seed=seed,
        work_dir=work_dir,
        kerberos=kerberos,
    )
    if connection_idle_s is not None:
        options = replace(options, connection_idle_s=connection_idle_s)
    return RunningFleet(LabServer(hosts, options)).start()


class SubprocessFleet:
    """A lab running as `python -m fleetlogoff.lab.runner` (a context manager).

    Attributes:
        endpoints: one Endpoint per host, read from the runner's inventory.
        inventory_path: the Ansible inventory the runner wrote.
        state_path: where the runner writes host state on shutdown.
        log_path: the runner's stderr.
        process: the runner process.
    """

    def __init__(self, args: Sequence[str], work_dir: Path) -> None:
        self.inventory_path = work_dir / "inventory.yml"
        self.state_path = work_dir / "state.json"
        argv = [sys.executable, "-m", "fleetlogoff.lab.runner", *args]
        argv += ["--inventory-out", str(self.inventory_path), "--state-out", str(self.state_path)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.log_path = work_dir / "runner.log"
        # stderr goes to a file: a pipe nobody drains would block a chatty runner.
        with self.log_path.open("w", encoding="utf-8") as log_file:
            self.process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env
            )
        self.endpoints: list[Endpoint] = []

    def wait_ready(self, timeout_s: float = _START_TIMEOUT_S) -> SubprocessFleet:
        """Block until the runner prints its `ready` line.

        Raises:
            LabStartError: the runner exited or did not get ready in time.
        """
        line = _read_line_until(self.process.stdout, timeout_s)
        if line is None or "ready" not in line:
            self.stop()
            err = self.log_path.read_text(encoding="utf-8", errors="replace")
            detail = (err.strip().splitlines() or ["no output"])[-1]
            raise LabStartError(f"lab runner did not become ready: {detail}")
        self.endpoints = read_endpoints(self.inventory_path)
        return self

    def stop(self, timeout_s: float = 30.0) -> int:
        """Send SIGTERM, wait for the state file, return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> SubprocessFleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_fleet_subprocess(
    args: Sequence[str], work_dir: Path | None = None, timeout_s: float = _START_TIMEOUT_S
) -> SubprocessFleet:
    """Run the lab runner in a child process and wait until every host serves.

    Args:
        args: runner flags other than --inventory-out/--state-out (e.g. ["--hosts", "50"]).
        work_dir: where the inventory and state files go; None makes a temp dir.
        timeout_s: how long to wait for `ready`.

    Returns:
        The running fleet (stop it, or use it as a context manager).
    """
    directory = work_dir or Path(tempfile.mkdtemp(prefix="fleetlogoff-lab-run-"))
    return SubprocessFleet(args, directory).wait_ready(timeout_s)


def _read_line_until(stream: IO[str] | None, timeout_s: float) -> str | None:
    if stream is None:
        return None
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    reader.join(max(0.0, deadline - time.monotonic()))
    return result[0] if result and result[0] else None
