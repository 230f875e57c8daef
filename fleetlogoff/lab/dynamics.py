"""Opt-in session dynamics: users who log off, reconnect or come back on their own.

Rules are values (from a scenario or built in tests). A `Timeline` turns them into
timed events that the host applies lazily, whenever it is asked something, with each
event taking effect at its own due time (so idle times stay exact).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


class Trigger(Enum):
    """What a rule does (and, for the event-driven ones, what starts its timer)."""

    LOGS_OFF = "logs_off_after"  # the user logs off by themselves T after lab start
    DISCONNECTS = "disconnects_after"  # the session disconnects T after lab start
    RECONNECTS = "reconnects_after"  # a disconnected session becomes active T after start
    ACTIVE_AFTER_MESSAGE = "active_after_message"  # input T after a message reached it
    REUSE_FREED_ID = "reuse_freed_id"  # a new user logs on with a freed id T after a logoff
    # The user logs off just before the host runs its Nth command (counted from lab start):
    # a departure at an exact point between two commands of a client, e.g. between the
    # read that verified a session and the logoff that follows it.
    LOGS_OFF_BEFORE_COMMAND = "logs_off_before_command"


@dataclass(frozen=True, slots=True)
class DynamicRule:
    """One dynamic behaviour of a host.

    Attributes:
        trigger: what happens.
        after_s: the delay T in seconds; for REUSE_FREED_ID, 0 means at once (the
            newcomer is there as the logoff returns, before any next command); for
            LOGS_OFF_BEFORE_COMMAND, the command number N.
        user: the user the rule applies to (case-insensitive); "" for every user.
            For REUSE_FREED_ID: the new user's name ("" picks "new.userN").
        session_id: the session the rule applies to, None for any.
    """

    trigger: Trigger
    after_s: float
    user: str = ""
    session_id: int | None = None

    def matches(self, session_id: int, user: str) -> bool:
        """True when the rule targets this session."""
        if self.session_id is not None and self.session_id != session_id:
            return False
        return not self.user or self.user.lower() == user.lower()


Action = Callable[[float], None]


@dataclass(order=True, slots=True)
class _Event:
    due: float
    seq: int
    action: Action = field(compare=False)


class Timeline:
    """Pending timed events, applied in due order (not thread-safe: the host locks)."""

    def __init__(self) -> None:
        self._events: list[_Event] = []
        self._seq = 0

    def schedule(self, due: float, action: Action) -> None:
        """Run `action(due)` once the clock reaches `due`."""
        self._seq += 1
        heapq.heappush(self._events, _Event(due, self._seq, action))

    def run_due(self, now: float) -> int:
        """Apply every event due at or before `now`; return how many ran."""
        count = 0
        while self._events and self._events[0].due <= now:
            event = heapq.heappop(self._events)
            event.action(event.due)
            count += 1
        return count

    def __len__(self) -> int:
        return len(self._events)
