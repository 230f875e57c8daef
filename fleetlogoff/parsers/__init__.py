"""Locale-proof parsers of quser/qwinsta and reg.exe output (pure: no I/O, no clock)."""

from __future__ import annotations

from fleetlogoff.parsers.dates import DateOrder
from fleetlogoff.parsers.encoding import decode_output
from fleetlogoff.parsers.json_out import session_document, sessions_to_json
from fleetlogoff.parsers.quser import parse_quser
from fleetlogoff.parsers.qwinsta import parse_qwinsta

__all__ = [
    "DateOrder",
    "decode_output",
    "parse_quser",
    "parse_qwinsta",
    "session_document",
    "sessions_to_json",
]
