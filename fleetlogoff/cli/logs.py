"""-v levels as logger levels, and a handler that prints log records to stderr with host
text made visible. What each level adds is in helptext.VERBOSITY.

Loggers by what they carry (library code logs through logging.getLogger(__name__)):
  fleetlogoff.*                 the tool: INFO at -v, DEBUG at -vv
  fleetlogoff.commands          every command and its raw output (DEBUG): -vv
  fleetlogoff.transport.*       connections and authentication: INFO at -v, DEBUG at -vvv
  fleetlogoff.transport.wire    WinRM messages as sent and received (redacted): -vvvv
  pypsrp, spnego, urllib3, ...  the libraries under the transport, which log wire
                                content at DEBUG: -vvvv only
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TextIO

from fleetlogoff.visible import visible

COMMANDS_LOGGER = "fleetlogoff.commands"
TRANSPORT_LOGGER = "fleetlogoff.transport"
WIRE_LOGGER = "fleetlogoff.transport.wire"
LIBRARY_LOGGERS = (
    "pypsrp",
    "spnego",
    "urllib3",
    "requests",
    "requests_ntlm",
    "requests_credssp",
    "krb5",
    "gssapi",
)
DEBUG_VERBOSITY = 3  # --debug logs what -vvv logs, never the wire


def logger_levels(verbosity: int) -> dict[str, int]:
    """The level of each logger for a -v count (0: warnings and errors only)."""

    def at(level_from: int, level: int) -> int:
        return level if verbosity >= level_from else logging.WARNING

    tool = logging.DEBUG if verbosity >= 2 else at(1, logging.INFO)
    levels = {
        "fleetlogoff": tool,
        COMMANDS_LOGGER: at(2, logging.DEBUG),
        TRANSPORT_LOGGER: logging.DEBUG if verbosity >= 3 else at(1, logging.INFO),
        WIRE_LOGGER: at(4, logging.DEBUG),
    }
    levels.update({name: at(4, logging.DEBUG) for name in LIBRARY_LOGGERS})
    return levels


class VisibleFormatter(logging.Formatter):
    """One record per line (more for raw outputs and tracebacks, indented under it), with
    every control and bidi character from a host escaped."""

    def __init__(self, verbosity: int) -> None:
        detail = "%(asctime)s %(levelname)s %(name)s: %(message)s"
        super().__init__(detail if verbosity >= 2 else "fleetlogoff: %(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        lines = super().format(record).replace("\r\n", "\n").split("\n")
        return "\n    ".join(visible(line) for line in lines)


def configure_logging(verbosity: int, stream: TextIO) -> Callable[[], None]:
    """Send log records to `stream` at the levels of `verbosity`; return an undo.

    main() runs many times in one test process: the undo restores every level it changed
    and removes its handler, so one run's stream never receives another run's records.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(VisibleFormatter(verbosity))
    root = logging.getLogger()
    root.addHandler(handler)
    previous: dict[str, int] = {}
    for name, level in logger_levels(verbosity).items():
        logger = logging.getLogger(name)
        previous[name] = logger.level
        logger.setLevel(level)

    def undo() -> None:
        root.removeHandler(handler)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)

    return undo
