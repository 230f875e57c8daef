"""Which sessions `fleetlogoff logoff SESSIONNAME|SESSIONID|USER` means on one host, and
the ones it must refuse, in the words Windows uses (pure: no I/O).

logoff.exe takes a session id or a session name (`LOGOFF [sessionname | sessionid]
[/SERVER:servername] [/V] [/VM]`, [logoff-en-us-usage-invalid-param]); fleetlogoff also
takes a user name, whose sessions it looks up on each host. Ids and names are resolved
against qwinsta's rows (every WinStation: services, console, listeners, sessions), so
what Windows refuses is recognised and refused before anything is sent:

* "You cannot log off a user from the console session." (Microsoft's logoff reference,
  Remarks: MicrosoftDocs/windowsserverdocs WindowsServerDocs/Logoff.md; also the TechNet
  and Windows XP pages of the command);
* services, listeners and sessions without a user fail with error 5 in KB 259436's form
  `Could not logoff session ID 0 from session Console, Error code 5` /
  `Error [5]: Access is denied.` [logoff-en-us-errors];
* an id or name that matches nothing: ERROR_CTX_WINSTATION_NOT_FOUND (7022), "The
  specified session cannot be found." (logoff's own wording for it was NOT FOUND in
  public captures, FORMATS.md §3).

A name shared by several WinStations (qwinsta truncates long names to the same text,
e.g. a Hyper-V listener and its session, FORMATS.md §2) is refused as ambiguous: the id
says which one is meant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetlogoff.model import Session, SessionState

SERVICES_ID = 0
FIRST_LISTENER_ID = 65536  # listeners are numbered from 65536 (FORMATS.md §2)
CONSOLE = "console"
CONSOLE_REFUSAL = "You cannot log off a user from the console session."
NOT_FOUND = "The specified session cannot be found (Windows error 7022)"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A session the command names but will not log off.

    Attributes:
        session_id: its id.
        session_name: its name as qwinsta printed it.
        text: one line, in Windows' words where Windows has them.
    """

    session_id: int
    session_name: str
    text: str


@dataclass(frozen=True, slots=True)
class HostChoice:
    """What the selector means on one host.

    Attributes:
        targets: user sessions (quser rows) to log off, subject to the planner's
            protections.
        refused: sessions named but refused as Windows refuses them.
        missing: why nothing matched, when nothing did.
    """

    targets: tuple[Session, ...] = ()
    refused: tuple[Refusal, ...] = ()
    missing: str | None = None


def access_denied(session_id: int, session_name: str) -> str:
    """KB 259436's two lines as one: what logoff.exe prints for a session it may not end."""
    return (
        f"Could not logoff session ID {session_id} from session {session_name or '-'}, "
        "Error code 5: Access is denied."
    )


def is_session_id(selector: str) -> bool:
    """True for ASCII digits only (the only digits Windows tools read as an id)."""
    return selector.isascii() and selector.isdigit()


def choose_sessions(
    selector: str, users: Sequence[Session], stations: Sequence[Session]
) -> HostChoice:
    """Resolve a selector on one host.

    Args:
        selector: a session id, a session name (case-insensitive) or a user name.
        users: the host's quser rows (user sessions, with idle and logon times).
        stations: the host's qwinsta rows (every WinStation).
    """
    by_id = {s.id: s for s in users}
    if is_session_id(selector):
        wanted = int(selector)
        named = [s for s in stations if s.id == wanted] or [s for s in users if s.id == wanted]
        if not named:
            return HostChoice(missing=f"no session ID {wanted}: {NOT_FOUND}")
        return _resolve(named[0], by_id)
    named = [
        s for s in stations if s.session_name and s.session_name.casefold() == selector.casefold()
    ]
    if len(named) > 1:
        ids = ", ".join(str(s.id) for s in named)
        refusal = Refusal(
            named[0].id,
            named[0].session_name,
            f"the name {selector!r} is shared by sessions {ids}: give the session id",
        )
        return HostChoice(refused=(refusal,))
    if named:
        return _resolve(named[0], by_id)
    mine = tuple(s for s in users if s.username.casefold() == selector.casefold())
    if mine:
        choices = [_resolve(s, by_id) for s in mine]
        return HostChoice(
            targets=tuple(t for c in choices for t in c.targets),
            refused=tuple(r for c in choices for r in c.refused),
        )
    return HostChoice(missing=f"no session or user named {selector!r}: {NOT_FOUND}")


def _resolve(station: Session, by_id: dict[int, Session]) -> HostChoice:
    """One named WinStation: a target when it is a user's session, else refused."""
    name = station.session_name
    if station.id == SERVICES_ID or name.casefold() == "services":
        return HostChoice(refused=(Refusal(station.id, name, access_denied(station.id, name)),))
    if station.id >= FIRST_LISTENER_ID or station.state is SessionState.LISTEN:
        text = access_denied(station.id, name) + " (a listener, not a user's session)"
        return HostChoice(refused=(Refusal(station.id, name, text),))
    if name.casefold() == CONSOLE:
        text = f"{CONSOLE_REFUSAL} ({access_denied(station.id, name)})"
        return HostChoice(refused=(Refusal(station.id, name, text),))
    session = by_id.get(station.id)
    if session is None or not session.username:
        text = access_denied(station.id, name) + " (no user is logged on to it)"
        return HostChoice(refused=(Refusal(station.id, name, text),))
    return HostChoice(targets=(session,))
