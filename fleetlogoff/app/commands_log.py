"""-vv: every command run on a host, with its exit code and raw output, logged as it
returns. A wrapper around any Connector, so every command of every phase is seen the same
way, whichever transport ran it."""

from __future__ import annotations

import logging
import time

from fleetlogoff.inventory.settings import host_codepage
from fleetlogoff.model import Host
from fleetlogoff.parsers import decode_output
from fleetlogoff.transport import CommandOutput, Connector, HostSession

log = logging.getLogger("fleetlogoff.commands")


class LoggingSession:
    """A HostSession that logs each command and what came back."""

    def __init__(self, inner: HostSession, host: Host) -> None:
        self._inner = inner
        self._host = host

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        started = time.monotonic()
        try:
            output = self._inner.run(command_line, stdin=stdin, timeout=timeout)
        except Exception as exc:
            log.debug("%s: %s: failed: %s", self._host.name, command_line, exc)
            raise
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", describe(self._host, command_line, stdin, output, started))
        return output

    def close(self) -> None:
        self._inner.close()


def describe(
    host: Host, command_line: str, stdin: bytes | None, output: CommandOutput, started: float
) -> str:
    """One header line, then stdin and the outputs as the host's code page reads them."""
    codepage = host_codepage(host)
    elapsed_ms = (time.monotonic() - started) * 1000
    parts = [f"{host.name}: {command_line} -> exit {output.exit_code} in {elapsed_ms:.0f} ms"]
    streams = (("stdin", stdin or b""), ("stdout", output.stdout), ("stderr", output.stderr))
    for name, data in streams:
        if data:
            parts.append(f"{name} ({len(data)} bytes):")
            parts.extend(decode_output(data, codepage).rstrip("\r\n").splitlines())
    return "\n".join(parts)


class LoggingConnector:
    """A Connector whose sessions log every command (used from -vv)."""

    def __init__(self, inner: Connector) -> None:
        self._inner = inner

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        return LoggingSession(self._inner.open(host, deadline_s=deadline_s), host)

    def __getattr__(self, name: str) -> object:
        # Anything else a transport offers (options, pools) is the inner connector's.
        # Private names are not: unpickling in a spawned worker looks some up before
        # _inner exists.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)
