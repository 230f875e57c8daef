"""How apply carries out a plan (its settings), what it works on, and the outside world it
is given (an event sink, a clock, a way to sleep): injected so the executor runs in tests
with a fake connector and a fake clock, without sleeping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from fleetlogoff.auth_guard import DEFAULT_LIMIT
from fleetlogoff.events import Event
from fleetlogoff.messages import DEFAULT_MESSAGE
from fleetlogoff.model import Host
from fleetlogoff.planner import HostPlan

Emit = Callable[[Event], None]
EmitMany = Callable[[Sequence[Event]], None]
Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


class StopFlag(Protocol):
    """Set when no new act may start (a threading.Event, or a multiprocessing one that
    worker processes share)."""

    def is_set(self) -> bool:
        """Whether a stop was requested."""
        ...


# Five minutes: enough for a user who reads the message to save and close their work, short
# enough not to stretch a maintenance window. Any run that forgets --warn still warns; only
# an explicit `--warn 0` ends sessions without a word (README, "How apply keeps its promises").
DEFAULT_WARN = timedelta(minutes=5)
# Time a host's logoffs need once started (apply's --window-margin default).
DEFAULT_WINDOW_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ApplySettings:
    """How to carry out the plan.

    Attributes:
        warn: time between the warning and the logoff; zero (only when asked for
            explicitly) means no warning at all.
        message: warning template ({user}, {host}, {minutes}, {time_left}, {deadline}).
        forks: hosts at once.
        batch_size: hosts per rolling batch (None: all at once).
        batch_percent: batch size as a percentage of the hosts acted on.
        max_fail_percentage: stop starting new batches once failed hosts exceed it.
        host_timeout_s: deadline for one host's whole work in one phase, retries included.
        command_timeout_s: deadline for one command (a hung logoff).
        confirm_attempts: quser re-reads to see a logged-off session disappear.
        confirm_pause_s: pause between those re-reads.
        notify_cancel: tell warned users when their logoff will not happen.
        reminders: how long before the deadline to remind warned users (each < warn).
        retries: extra attempts after a transient transport error (reset, protocol error,
            timeout) while reading, warning or confirming, within host_timeout_s.
        retry_pause_s: pause before such an attempt.
        ignore_windows: act outside maintenance windows.
        window_margin: time a host's logoffs need: a host acts only while its window
            stays open that long (at the start: warn + margin).
        processes: worker processes sharing the hosts (and the forks) when the fleet is
            large enough (workers.py); 1 keeps every host in this process.
        auth_failure_limit: rejections of one set of credentials, with no success, after
            which no further host is started with them (0: no limit; auth_guard.py).
    """

    warn: timedelta = DEFAULT_WARN
    message: str = DEFAULT_MESSAGE
    forks: int = 50
    batch_size: int | None = None
    batch_percent: float | None = None
    max_fail_percentage: float | None = None
    host_timeout_s: float = 60.0
    command_timeout_s: float = 30.0
    confirm_attempts: int = 4
    confirm_pause_s: float = 1.0
    notify_cancel: bool = True
    reminders: tuple[timedelta, ...] = ()
    retries: int = 4
    retry_pause_s: float = 0.5
    ignore_windows: bool = False
    window_margin: timedelta = DEFAULT_WINDOW_MARGIN
    processes: int = 1
    auth_failure_limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class Work:
    """One host to act on: its inventory entry and its part of the plan."""

    host: Host
    plan: HostPlan


@dataclass(frozen=True, slots=True)
class RunResult:
    """What the executor tells its caller beyond the events.

    Attributes:
        hosts_in_window: hosts whose maintenance window allowed the run to start there.
    """

    hosts_in_window: int
