"""How the tool runs commands on hosts. The protocol is here; the only WinRM implementation is
transport/winrm.py (the one module that imports pypsrp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fleetlogoff.model import Host


@dataclass(frozen=True, slots=True)
class CommandOutput:
    """Raw result of one command: bytes as the host sent them, and its exit code.

    Exit codes of query.exe and friends are unreliable (corpus FORMATS.md §1.6): callers
    classify results by content, and keep the code only as evidence.
    """

    stdout: bytes
    stderr: bytes
    exit_code: int | None


class HostSession(Protocol):
    """An open connection to one host; used by exactly one thread, then closed."""

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        """Run one command line in the host's shell and wait for it to finish.

        Args:
            command_line: what cmd.exe runs. Never contains text from users (messages go
                through stdin).
            stdin: bytes sent to the command's stdin, then end of input.
            timeout: seconds after which the command is abandoned (TransportError "timeout").
        """
        ...

    def close(self) -> None:
        """Release the shell and the connection; never raises."""
        ...


class Connector(Protocol):
    """Opens sessions to hosts."""

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        """Connect and authenticate to one host within `deadline_s` seconds."""
        ...
