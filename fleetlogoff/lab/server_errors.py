"""Errors raised by the lab's WinRM server, fleet starter and runner.

The lab imports nothing from the rest of fleetlogoff, so it has its own small tree.
"""

from __future__ import annotations


class LabError(Exception):
    """Root of every error the lab server reports (one line: what and where)."""


class WsmanParseError(LabError):
    """A request body is not a WS-Management envelope the lab can read.

    Attributes:
        reason: what is wrong, in words.
        message_id: the request's wsa:MessageID when it could be read, else "" (the
            fault's RelatesTo).
    """

    def __init__(self, reason: str, message_id: str = "") -> None:
        self.reason = reason
        self.message_id = message_id
        super().__init__(f"bad WS-Management request: {reason}")


class LabStartError(LabError):
    """The lab could not start (bad flags, no address to bind, runner died)."""
