"""Sessions of one simulated host and the lab clock.

A `Session` is an immutable value; `SessionStore` holds a host's sessions and is NOT
thread-safe by itself: the owning host serialises access with its lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from fleetlogoff.lab.locales import SessionState

Clock = Callable[[], float]
"""A callable returning the current time as epoch seconds (default time.time)."""

SYSTEM_CLOCK: Clock = time.time

SERVICES_ID = 0
CONSOLE_ID = 1
# Listener sessions are numbered from 65536 on (FORMATS.md 2, qwinsta samples).
FIRST_LISTENER_ID = 65536


@dataclass(frozen=True, slots=True)
class Session:
    """One Windows session (WinStation).

    Attributes:
        id: session id.
        name: WinStation name as Windows spells it ("Services", "Console",
            "RDP-Tcp#3", "RDP-Tcp" for the listener); "" while disconnected
            (modern Windows drops the name, FORMATS.md pitfall 1).
        user: user name, or "" for services, listeners and an empty console.
        state: connect state.
        logon_time: epoch seconds of the logon (0 for sessions without a user).
        last_input: epoch seconds of the last keyboard/mouse input, None when the
            session has no idle time (quser prints the "none" word).
    """

    id: int
    name: str
    user: str = ""
    state: SessionState = SessionState.ACTIVE
    logon_time: float = 0.0
    last_input: float | None = None

    @property
    def is_user_session(self) -> bool:
        """True when a user is logged on (quser lists only these)."""
        return bool(self.user)

    def to_json(self, now: float) -> dict[str, object]:
        """Return a JSON-able description, with idle seconds at `now`."""
        idle = None if self.last_input is None else max(0.0, now - self.last_input)
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "state": self.state.value,
            "logon_time": self.logon_time,
            "last_input": self.last_input,
            "idle_seconds": idle,
        }


def make_infrastructure(console_user: str = "", now: float = 0.0) -> list[Session]:
    """Return the sessions every RDS host has: services (0), console (1), the listener.

    Args:
        console_user: user logged on at the console, "" for none (console is then Conn).
        now: logon time of the console user.
    """
    if console_user:
        console = Session(CONSOLE_ID, "Console", console_user, SessionState.ACTIVE, now, None)
    else:
        console = Session(CONSOLE_ID, "Console", "", SessionState.CONNECTED)
    return [
        Session(SERVICES_ID, "Services", "", SessionState.DISCONNECTED),
        console,
        Session(FIRST_LISTENER_ID, "RDP-Tcp", "", SessionState.LISTEN),
    ]


class SessionStore:
    """The sessions of one host, keyed by id, plus the rdp-tcp#N connection counter."""

    def __init__(self, sessions: list[Session], next_connection: int = 0) -> None:
        self._sessions: dict[int, Session] = {s.id: s for s in sessions}
        numbers = [_connection_number(s.name) for s in sessions]
        self._next_connection = max([next_connection, *[n + 1 for n in numbers if n >= 0]])

    def __iter__(self) -> Iterator[Session]:
        return iter(sorted(self._sessions.values(), key=lambda s: s.id))

    def get(self, session_id: int) -> Session | None:
        """Return the session with that id, or None."""
        return self._sessions.get(session_id)

    def find_by_name(self, name: str) -> Session | None:
        """Return the session whose WinStation name matches (case-insensitively)."""
        for session in self:
            if session.name and session.name.lower() == name.lower():
                return session
        return None

    def find_by_user(self, user: str) -> list[Session]:
        """Return the sessions of a user (case-insensitively), by id."""
        return [s for s in self if s.user and s.user.lower() == user.lower()]

    def remove(self, session_id: int) -> Session | None:
        """Remove a session (a logoff); its id becomes free for a later logon."""
        return self._sessions.pop(session_id, None)

    def put(self, session: Session) -> None:
        """Add or replace a session."""
        self._sessions[session.id] = session

    def new_connection_name(self) -> str:
        """Return the next "RDP-Tcp#N" name (Windows numbers connections upward)."""
        name = f"RDP-Tcp#{self._next_connection}"
        self._next_connection += 1
        return name

    def free_id(self) -> int:
        """Return the lowest user session id not in use (2 upward, below listeners)."""
        session_id = CONSOLE_ID + 1
        while session_id in self._sessions:
            session_id += 1
        return session_id

    def disconnect(self, session_id: int, now: float) -> None:
        """Disconnect a session: its name becomes empty, its idle keeps counting."""
        session = self._sessions[session_id]
        self._sessions[session_id] = replace(
            session, name="", state=SessionState.DISCONNECTED, last_input=session.last_input or now
        )

    def reconnect(self, session_id: int, now: float) -> None:
        """Reconnect a disconnected session over a new RDP connection, with fresh input."""
        session = self._sessions[session_id]
        name = session.name or self.new_connection_name()
        self._sessions[session_id] = replace(
            session, name=name, state=SessionState.ACTIVE, last_input=now
        )

    def touch(self, session_id: int, now: float) -> None:
        """Record user input now (the session becomes active, idle '.')."""
        session = self._sessions[session_id]
        if session.state is SessionState.DISCONNECTED:
            self.reconnect(session_id, now)
        else:
            self._sessions[session_id] = replace(session, last_input=now)


def _connection_number(name: str) -> int:
    prefix, sep, number = name.partition("#")
    if sep and prefix.lower() == "rdp-tcp" and number.isascii() and number.isdigit():
        return int(number)
    return -1
