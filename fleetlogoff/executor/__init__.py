"""Carry out a plan: warn, one shared wait, re-verify, log off, confirm, tell the warned
users who were not logged off.

settings.py says how (ApplySettings) and on what (Work); policy.py runs the phases, batches
and failure limit (Executor); steps.py is each host's part of a phase; acts.py the commands
on one host (read, message, logoff); ledger.py books every promise and outcome. Every fact
goes out through `emit` as an Event (audit log, recap, live view).
"""

from __future__ import annotations

from fleetlogoff.executor.policy import Executor
from fleetlogoff.executor.settings import (
    DEFAULT_WARN,
    DEFAULT_WINDOW_MARGIN,
    ApplySettings,
    Clock,
    Emit,
    RunResult,
    Sleep,
    Work,
)

__all__ = [
    "DEFAULT_WARN",
    "DEFAULT_WINDOW_MARGIN",
    "ApplySettings",
    "Clock",
    "Emit",
    "Executor",
    "RunResult",
    "Sleep",
    "Work",
]
