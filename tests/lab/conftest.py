"""Fixtures for the lab server tests: a tiny SimulatedHost and running labs on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from fleetlogoff.lab.contract import Account, CommandRequest, CommandResult, NetworkBehaviour
from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.server_shells import ShellLimits

ADMIN = Account("labadmin", "P@ss:w0rd!")  # a colon exercises the hashed user-file line
USER = Account("plainuser", "Secret1", admin=False)


@dataclass
class FakeHost:
    """A SimulatedHost that answers a handful of commands.

    `hostname`, `echo X`, `delay S X` (prints X after S seconds), `hang`, `exit N`,
    `err X` (stderr + exit 1), `utf8` (non-ASCII in the shell code page), and
    `readin` (reads stdin, echoes it back upper-cased).
    """

    name: str = "RDS01"
    accounts: tuple[Account, ...] = (ADMIN, USER)
    network: NetworkBehaviour = field(default_factory=NetworkBehaviour)
    requests: list[CommandRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wants_stdin(self, command_line: str) -> bool:
        return command_line.strip() == "readin"

    def run(self, request: CommandRequest) -> CommandResult:
        with self.lock:
            self.requests.append(request)
        verb, _, rest = request.command_line.strip().partition(" ")
        if verb == "hostname":
            return CommandResult(f"{self.name}\r\n".encode(), b"", 0)
        if verb == "echo":
            return CommandResult(f"{rest}\r\n".encode(), b"", 0)
        if verb == "delay":
            seconds, _, text = rest.partition(" ")
            return CommandResult(f"{text}\r\n".encode(), b"", 0, delay_s=float(seconds))
        if verb == "hang":
            return CommandResult(b"", b"", 0, hang=True)
        if verb == "exit":
            return CommandResult(b"", b"", int(rest))
        if verb == "err":
            return CommandResult(b"out\r\n", f"{rest}\r\n".encode(), 1)
        if verb == "utf8":
            encoding = "utf-8" if request.codepage == 65001 else "cp437"
            return CommandResult("Jürg Müller\r\n".encode(encoding, "replace"), b"", 0)
        if verb == "readin":
            return CommandResult(request.stdin.upper(), b"", 0)
        message = f"'{verb}' is not recognized as an internal or external command,\r\n"
        return CommandResult(b"", message.encode(), 9009)


@pytest.fixture(scope="module")
def lab() -> Iterator[RunningFleet]:
    """Two well-behaved hosts with HTTPS, short idle timeout, tiny shell quota."""
    hosts = [FakeHost("RDS01"), FakeHost("RDS02")]
    limits = ShellLimits(idle_timeout_s=3.0, max_shells_per_user=3)
    with start_fleet(hosts, https=True, limits=limits, seed=7) as fleet:
        yield fleet
