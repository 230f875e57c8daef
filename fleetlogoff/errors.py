"""The exception tree. Every error the tool reports to a user derives from FleetLogoffError.

Errors carry named fields (where, what) so the CLI can print one clear line and the
audit log can record structured facts instead of parsing messages.
"""

from __future__ import annotations


class FleetLogoffError(Exception):
    """Root of every error fleetlogoff reports to its user."""


class UsageError(FleetLogoffError):
    """A command-line flag or argument is wrong."""


class ConfigError(FleetLogoffError):
    """A YAML file (inventory, rules, scenario) is wrong.

    Attributes:
        source: file name (or "<string>").
        line: 1-based line, or 0 when unknown.
        column: 1-based column, or 0 when unknown.
        reason: what is wrong, in words.
    """

    def __init__(self, source: str, line: int, column: int, reason: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.reason = reason
        where = source if line <= 0 else f"{source}:{line}:{column}"
        super().__init__(f"{where}: {reason}")


class ParseError(FleetLogoffError):
    """Output of a Windows command could not be read with certainty.

    Attributes:
        command: the command whose output this was (quser, qwinsta, ...).
        reason: why it could not be read.
        line_number: 1-based line of the output at fault, 0 for the whole output.
        raw: the raw output, kept so an admin can see what the host printed.
    """

    def __init__(self, command: str, reason: str, raw: str, line_number: int = 0) -> None:
        self.command = command
        self.reason = reason
        self.raw = raw
        self.line_number = line_number
        where = f" (line {line_number})" if line_number else ""
        super().__init__(f"cannot read {command} output{where}: {reason}")


class HostCommandError(FleetLogoffError):
    """A Windows command ran but reported an error (e.g. `Error [5]:Access is denied.`).

    Attributes:
        command: the command line that failed.
        code: the Windows error number when the output names one, else None.
        reason: the error text the host printed.
    """

    def __init__(self, command: str, reason: str, code: int | None = None) -> None:
        self.command = command
        self.code = code
        self.reason = reason
        suffix = f" [{code}]" if code is not None else ""
        super().__init__(f"{command}: {reason}{suffix}")


class TransportError(FleetLogoffError):
    """Talking to a host failed.

    Attributes:
        host: inventory name of the host.
        kind: one of "unreachable", "auth_failed" (credentials rejected),
            "auth_unsupported" (no common scheme), "access_denied" (authenticated, not
            allowed), "timeout", "reset", "protocol", "tls".
        reason: a one-line cause, never containing credentials.
    """

    def __init__(self, host: str, kind: str, reason: str) -> None:
        self.host = host
        self.kind = kind
        self.reason = reason
        super().__init__(f"{host}: {kind}: {reason}")
