"""The seam between the lab's WinRM server (wire, auth, faults) and its simulated hosts
(sessions, commands, locales). The server knows nothing of RDS; a host knows nothing of HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NetworkBehaviour:
    """How a host's endpoint misbehaves on the network (all off by default).

    Attributes:
        down: nothing listens: connections are refused.
        black_hole: connections are accepted and never answered.
        latency_s: delay added before every HTTP response.
        reset_rate: fraction (0..1) of requests answered by resetting the connection.
        error_rate: fraction (0..1) of requests answered with a bare HTTP 500 (no SOAP).
        auth_fails: every credential is rejected with 401, as a changed password would.
    """

    down: bool = False
    black_hole: bool = False
    latency_s: float = 0.0
    reset_rate: float = 0.0
    error_rate: float = 0.0
    auth_fails: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    """A local account the host accepts over WinRM."""

    username: str
    password: str
    admin: bool = True


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One WinRS command as the server received it.

    Attributes:
        command_line: rsp:Command joined with every rsp:Arguments by one blank, as cmd.exe
            would see it (the server does not interpret it).
        codepage: WINRS_CODEPAGE from the shell's Create options, None when absent
            (then the host answers in its OEM code page).
        account: the authenticated user name (without domain).
        stdin: everything the client sent with rsp:Send before End=true.
        skip_cmd_shell: WINRS_SKIP_CMD_SHELL was TRUE (run the executable without cmd.exe).
    """

    command_line: str
    codepage: int | None
    account: str
    stdin: bytes = b""
    skip_cmd_shell: bool = False


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command printed, in the bytes the client will receive.

    Attributes:
        stdout: bytes in the shell's code page.
        stderr: bytes in the shell's code page.
        exit_code: the process exit code.
        delay_s: seconds the command runs before it finishes (the server long-polls).
        hang: the command never finishes (a hung logoff); the server keeps answering
            Receive with OperationTimeout faults until the client gives up.
    """

    stdout: bytes
    stderr: bytes
    exit_code: int
    delay_s: float = 0.0
    hang: bool = False


class SimulatedHost(Protocol):
    """A host as the WinRM server sees it."""

    @property
    def name(self) -> str:
        """Computer name (what `hostname` prints), also the fault `Machine` attribute."""
        ...

    @property
    def accounts(self) -> tuple[Account, ...]:
        """Accounts that may authenticate."""
        ...

    @property
    def network(self) -> NetworkBehaviour:
        """Network misbehaviour of this host's endpoint, read on every request."""
        ...

    def wants_stdin(self, command_line: str) -> bool:
        """True when the command reads stdin (e.g. `msg *` without a text), so the server
        waits for the client's Send with End=true before running it."""
        ...

    def run(self, request: CommandRequest) -> CommandResult:
        """Run one command line (thread-safe; records it for the state file)."""
        ...
