"""Carry out a plan: warn, one shared wait, re-verify, log off, confirm, tell the warned
users who were not logged off.

settings.py says how (ApplySettings) and on what (Work); policy.py runs the phases, batches
and failure limit (Executor); steps.py is each host's part of a phase; acts.py the commands
on one host (read, message, logoff); ledger.py books every promise and outcome. Every fact
goes out through `emit` as an Event (audit log, recap, live view).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from fleetlogoff.executor.policy import Executor


def __getattr__(name: str) -> object:
    """Executor on first use: the phases, workers and steps behind it are about 20 ms of
    imports that every command paid at start for the flag defaults in settings.py."""
    if name == "Executor":
        from fleetlogoff.executor.policy import Executor

        return Executor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
