"""`SimHost`: one simulated Windows RDS host as the lab's WinRM server sees it.

It runs command lines the way cmd.exe (or powershell.exe -EncodedCommand) would, with
the programs of commands.py, records everything for `state()`, and answers in the
shell's code page. `run()` and `state()` are thread-safe (one lock per host) and cost
tens of microseconds for a quser.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from fleetlogoff.lab import shell
from fleetlogoff.lab.commands import LogoffBehaviour
from fleetlogoff.lab.contract import Account, CommandRequest, CommandResult, NetworkBehaviour
from fleetlogoff.lab.dynamics import Action, DynamicRule, Timeline, Trigger
from fleetlogoff.lab.locales import INTERNATIONAL_ORDER, Locale, SessionState, get_locale
from fleetlogoff.lab.registry import INTERNATIONAL, TIME_ZONE, RegKey, international_key
from fleetlogoff.lab.render import QwinstaLayout
from fleetlogoff.lab.sessions import SYSTEM_CLOCK, Clock, Session, SessionStore, make_infrastructure
from fleetlogoff.lab.zones import LabZone

logger = logging.getLogger(__name__)

# Lab-only credentials (documented in docs/lab-scenarios.md; nothing real uses them).
LAB_ADMIN = Account("Administrator", "Lab-Admin-Passw0rd!", admin=True)
LAB_USER = Account("labuser", "Lab-User-Passw0rd!", admin=False)
DEFAULT_ACCOUNTS = (LAB_ADMIN, LAB_USER)


def encode_output(text: str, codepage: int) -> bytes:
    """Encode console text in a code page; unencodable characters become '?'.

    Windows' WideCharToMultiByte substitutes the code page's default character ('?')
    for characters the code page lacks, so a console tool never fails to print.
    """
    codec = "utf-8" if codepage == 65001 else f"cp{codepage}"
    try:
        return text.encode(codec, errors="replace")
    except LookupError:
        logger.warning("code page %d unknown to the lab; answering in UTF-8", codepage)
        return text.encode("utf-8", errors="replace")


def decode_input(data: bytes, codepage: int) -> str:
    """Decode stdin bytes the client sent, in the shell's code page."""
    codec = "utf-8" if codepage == 65001 else f"cp{codepage}"
    try:
        return data.decode(codec, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


class SimHost:
    """A simulated Windows RDS host (implements contract.SimulatedHost, plus state())."""

    def __init__(
        self,
        name: str,
        *,
        locale: str | Locale = "en-US",
        sessions: Sequence[Session] | None = None,
        accounts: Sequence[Account] = DEFAULT_ACCOUNTS,
        clock: Clock = SYSTEM_CLOCK,
        utc_offset_minutes: int | None = None,
        time_zone: str | None = None,
        international: Mapping[str, str | None] | None = None,
        international_access: str = "ok",
        time_zone_access: str = "ok",
        layout: QwinstaLayout = QwinstaLayout.CLASSIC,
        network: NetworkBehaviour | None = None,
        logoff: LogoffBehaviour | None = None,
        dynamics: Sequence[DynamicRule] = (),
        powershell: str = "available",
    ) -> None:
        """Create a host.

        Args:
            name: computer name (what `hostname` prints).
            locale: culture tag or Locale (words, date format, OEM code page).
            sessions: all sessions; None gives services, an empty console and the listener.
            accounts: accounts the WinRM server accepts.
            clock: callable returning epoch seconds.
            utc_offset_minutes: a fixed UTC offset for the host (no daylight saving time).
            time_zone: the host's IANA time zone; neither it nor an offset: the locale's.
            international: the connecting account's regional values that differ from
                the locale's (e.g. {"sShortDate": "yyyy-MM-dd"}); None removes a value.
            international_access: "ok", "missing" (no International key) or "denied"
                (reg query of it is refused).
            time_zone_access: the same for the TimeZoneInformation key.
            layout: qwinsta layout (classic, or the newer Windows 11 wide one).
            network: network misbehaviour of the endpoint.
            logoff: how logoff.exe misbehaves.
            dynamics: opt-in session dynamics.
            powershell: "available", "missing" (not installed) or "blocked" (AppLocker
                or a software restriction policy refuses powershell.exe).
        """
        self._name = name
        self._locale = locale if isinstance(locale, Locale) else get_locale(locale)
        self._accounts = tuple(accounts)
        self._clock = clock
        self._zone = (
            LabZone(None, utc_offset_minutes)
            if utc_offset_minutes is not None
            else LabZone(time_zone or self._locale.time_zone)
        )
        self._international: dict[str, str | None] = {
            **self._locale.international,
            **(international or {}),
        }
        self._access = {INTERNATIONAL: international_access, TIME_ZONE: time_zone_access}
        self._layout = layout
        self._network = network or NetworkBehaviour()
        self._logoff = logoff or LogoffBehaviour()
        self._rules = tuple(dynamics)
        self._powershell = powershell
        self._command_count = 0
        self._lock = threading.Lock()
        self._store = SessionStore(
            list(sessions) if sessions is not None else make_infrastructure()
        )
        self._timeline = Timeline()
        self._commands: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._logoffs: list[dict[str, Any]] = []
        self._new_users = 0
        self._started = clock()
        self._schedule_timed_rules()

    # --- contract.SimulatedHost ---------------------------------------------------
    @property
    def name(self) -> str:
        """Computer name."""
        return self._name

    @property
    def accounts(self) -> tuple[Account, ...]:
        """Accounts that may authenticate."""
        return self._accounts

    @property
    def network(self) -> NetworkBehaviour:
        """Network misbehaviour, read by the server on every request."""
        return self._network

    def set_international(self, values: Mapping[str, str | None]) -> None:
        """Change the account's regional values (a user customising them mid-run)."""
        with self._lock:
            self._international.update(values)

    def set_network(self, network: NetworkBehaviour) -> None:
        """Change the network behaviour (e.g. a test takes a host down mid-run)."""
        self._network = network

    def wants_stdin(self, command_line: str) -> bool:
        """True when a command of the line reads stdin (msg without a message text)."""
        return shell.line_reads_stdin(command_line, self._environment("Administrator"))

    def run(self, request: CommandRequest) -> CommandResult:
        """Run one command line, record it, and return its output in the right code page."""
        codepage = request.codepage or self._locale.oem_codepage
        with self._lock:
            now = self._clock()
            self._timeline.run_due(now)
            self._count_command(now)
            account = self._find_account(request.account)
            ctx = shell.ShellContext(
                view=self,
                account=request.account,
                admin=account is not None and account.admin,
                env=self._environment(request.account),
                stdin=decode_input(request.stdin, codepage),
                codepage=codepage,
            )
            out = shell.run_request(ctx, request.command_line, request.skip_cmd_shell)
            self._commands.append(
                {
                    "time": now,
                    "account": request.account,
                    "command_line": request.command_line,
                    "codepage": codepage,
                    "skip_cmd_shell": request.skip_cmd_shell,
                    "exit_code": out.exit_code,
                    "hang": out.hang,
                    "subcommands": ctx.records,
                }
            )
        return CommandResult(
            stdout=encode_output(out.stdout, codepage),
            stderr=encode_output(out.stderr, codepage),
            exit_code=out.exit_code,
            delay_s=out.delay_s,
            hang=out.hang,
        )

    # --- what programs see (commands.HostView) -----------------------------------
    @property
    def locale(self) -> Locale:
        """Language, regional format and OEM code page."""
        return self._locale

    @property
    def layout(self) -> QwinstaLayout:
        """qwinsta layout."""
        return self._layout

    @property
    def zone(self) -> LabZone:
        """The host's time zone."""
        return self._zone

    @property
    def utc_offset_minutes(self) -> int:
        """The host's UTC offset now."""
        return self._zone.offset_at(self._clock())

    @property
    def international(self) -> Mapping[str, str]:
        """The connecting account's regional values (what quser formats dates with)."""
        return {k: v for k, v in self._international.items() if v is not None}

    def registry_key(self, name: str) -> RegKey | None:
        """A registry key `reg query` can show, or None when the lab has no such key."""
        wanted = name.lower()
        if wanted == INTERNATIONAL.lower():
            return international_key(
                self._international, INTERNATIONAL_ORDER, self._access[INTERNATIONAL]
            )
        if wanted == TIME_ZONE.lower():
            return RegKey(self._zone.registry_values(self._clock()), (), self._access[TIME_ZONE])
        return None

    @property
    def store(self) -> SessionStore:
        """The sessions (only touch them holding the host lock, i.e. inside run())."""
        return self._store

    @property
    def logoff_behaviour(self) -> LogoffBehaviour:
        """How logoff.exe misbehaves."""
        return self._logoff

    @property
    def powershell(self) -> str:
        """Whether powershell.exe can run: available, missing or blocked."""
        return self._powershell

    def now(self) -> float:
        """Current epoch seconds from the host's clock."""
        return self._clock()

    def log_off(self, session: Session, now: float) -> None:
        """End a session (logoff.exe or the user); its id becomes free."""
        self._end_session(session, now, by="logoff")

    def deliver_message(self, session: Session, text: str, display_time: int, account: str) -> None:
        """Record a message shown in a session and start message-triggered dynamics."""
        now = self._clock()
        self._messages.append(
            {
                "time": now,
                "session_id": session.id,
                "session_name": session.name,
                "user": session.user,
                "state": session.state.value,
                "text": text,
                "display_time": display_time,
                "from_account": account,
            }
        )
        for rule in self._rules:
            if rule.trigger is Trigger.ACTIVE_AFTER_MESSAGE and rule.matches(
                session.id, session.user
            ):
                self._timeline.schedule(
                    now + rule.after_s, self._make_touch(session.id, session.user)
                )

    # --- state ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Return a JSON-able snapshot: sessions, commands run, messages, logoffs."""
        with self._lock:
            now = self._clock()
            self._timeline.run_due(now)
            return {
                "name": self._name,
                "locale": self._locale.tag,
                "utc_offset_minutes": self._zone.offset_at(now),
                "time_zone": self._zone.name,
                "layout": self._layout.value,
                "time": now,
                "sessions": [s.to_json(now) for s in self._store],
                "commands": [dict(c) for c in self._commands],
                "messages": [dict(m) for m in self._messages],
                "logoffs": [dict(lo) for lo in self._logoffs],
            }

    def sessions(self) -> list[Session]:
        """Return the current sessions (dynamics applied up to now)."""
        with self._lock:
            self._timeline.run_due(self._clock())
            return list(self._store)

    # --- internals -----------------------------------------------------------------
    def _find_account(self, username: str) -> Account | None:
        for account in self._accounts:
            if account.username.lower() == username.lower():
                return account
        return None

    def _environment(self, account: str) -> dict[str, str]:
        return {
            "COMPUTERNAME": self._name.upper(),
            "USERNAME": account,
            "USERDOMAIN": self._name.upper(),
            "USERPROFILE": f"C:\\Users\\{account}",
            "PATH": "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;"
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\",
            "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
            "SYSTEMROOT": "C:\\Windows",
            "WINDIR": "C:\\Windows",
            "SYSTEMDRIVE": "C:",
            "TEMP": f"C:\\Users\\{account}\\AppData\\Local\\Temp",
            "TMP": f"C:\\Users\\{account}\\AppData\\Local\\Temp",
            "COMSPEC": "C:\\Windows\\system32\\cmd.exe",
            "OS": "Windows_NT",
            "PROCESSOR_ARCHITECTURE": "AMD64",
        }

    def _end_session(self, session: Session, now: float, by: str) -> None:
        if self._store.remove(session.id) is None:
            return
        self._logoffs.append(
            {"time": now, "session_id": session.id, "user": session.user, "by": by}
        )
        for rule in self._rules:
            if rule.trigger is not Trigger.REUSE_FREED_ID:
                continue
            logon = self._make_logon(session.id, rule.user)
            if rule.after_s <= 0:
                logon(now)  # at once: the id is taken before anything else can run
            else:
                self._timeline.schedule(now + rule.after_s, logon)

    def _count_command(self, now: float) -> None:
        """Count a command; users due to leave before this one leave now."""
        self._command_count += 1
        for rule in self._rules:
            if rule.trigger is not Trigger.LOGS_OFF_BEFORE_COMMAND:
                continue
            if int(rule.after_s) != self._command_count:
                continue
            for session in list(self._store):
                if session.is_user_session and rule.matches(session.id, session.user):
                    self._end_session(session, now, by="user")

    def _schedule_timed_rules(self) -> None:
        for rule in self._rules:
            for session in self._store:
                if not session.is_user_session or not rule.matches(session.id, session.user):
                    continue
                due = self._started + rule.after_s
                if rule.trigger is Trigger.LOGS_OFF:
                    self._timeline.schedule(due, self._make_self_logoff(session.id, session.user))
                elif rule.trigger is Trigger.RECONNECTS:
                    self._timeline.schedule(due, self._make_reconnect(session.id, session.user))
                elif rule.trigger is Trigger.DISCONNECTS:
                    self._timeline.schedule(due, self._make_disconnect(session.id, session.user))

    def _current(self, session_id: int, user: str) -> Session | None:
        """The session if it still belongs to the same user (ids are reused)."""
        session = self._store.get(session_id)
        return session if session is not None and session.user == user else None

    def _make_self_logoff(self, session_id: int, user: str) -> Action:
        def apply(when: float) -> None:
            session = self._current(session_id, user)
            if session is not None:
                self._end_session(session, when, by="user")

        return apply

    def _make_reconnect(self, session_id: int, user: str) -> Action:
        def apply(when: float) -> None:
            session = self._current(session_id, user)
            if session is not None and session.state is SessionState.DISCONNECTED:
                self._store.reconnect(session_id, when)

        return apply

    def _make_disconnect(self, session_id: int, user: str) -> Action:
        def apply(when: float) -> None:
            session = self._current(session_id, user)
            if session is not None and session.state is SessionState.ACTIVE:
                self._store.disconnect(session_id, when)

        return apply

    def _make_touch(self, session_id: int, user: str) -> Action:
        def apply(when: float) -> None:
            if self._current(session_id, user) is not None:
                self._store.touch(session_id, when)

        return apply

    def _make_logon(self, freed_id: int, user: str) -> Action:
        def apply(when: float) -> None:
            session_id = freed_id if self._store.get(freed_id) is None else self._store.free_id()
            if not user:
                self._new_users += 1
            name = user or f"new.user{self._new_users}"
            session = Session(
                session_id, self._store.new_connection_name(), name, SessionState.ACTIVE, when, when
            )
            self._store.put(session)

        return apply
