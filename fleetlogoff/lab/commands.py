"""The Windows programs a simulated host runs: quser, qwinsta, query, logoff, msg, reg,
hostname, whoami and cmd's `echo`; anything else is "not recognized".

Behaviour follows tests/fixtures/corpus/FORMATS.md. Decisions where the corpus is
silent are marked LAB ASSUMPTION. Commands run in session 0 (services), as anything
started by WinRM does: quser prints no `>` marker, qwinsta marks `>services`
(FORMATS.md 1.5).

Non-admin accounts (FORMATS.md 2, "non-interactive / low-privilege WinRM" captures):
quser prints `No User exists for *` and qwinsta `No session exists for *` even when
users are logged on; logoff of another user's session fails with error 5; msg fails
with `Error 5 getting session names`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from fleetlogoff.lab import texts
from fleetlogoff.lab.cmdline import is_number, split_arguments
from fleetlogoff.lab.locales import Locale, SessionState
from fleetlogoff.lab.registry import RegKey, run_reg_query
from fleetlogoff.lab.render import QwinstaLayout, render_quser, render_qwinsta
from fleetlogoff.lab.sessions import SERVICES_ID, Session, SessionStore
from fleetlogoff.lab.zones import LabZone

CRLF = "\r\n"
# msg's default display time in seconds ([msg-en-us-verbose-02]: "display time 60").
MSG_DEFAULT_TIME = 60
# `/SERVER:` values that mean "this computer".
_LOCAL_SERVERS = {"localhost", ".", "127.0.0.1"}


@dataclass(frozen=True, slots=True)
class Output:
    """What a program printed (text, CRLF line endings) and its exit code."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    hang: bool = False
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class LogoffBehaviour:
    """How logoff.exe misbehaves on a host (scenario-driven; all off by default).

    Attributes:
        hang: logoff never returns (the WinRM command stays Running).
        error_code: logoff fails with this Windows error code (e.g. 5, 1460).
        delay_s: seconds logoff takes before it succeeds or fails.
        stuck: logoff reports success but the session stays, in state Down (a session
            whose processes will not end; WTS "Down").
    """

    hang: bool = False
    error_code: int | None = None
    delay_s: float = 0.0
    stuck: bool = False


@dataclass(frozen=True, slots=True)
class Invocation:
    """One program run: who runs it and with what argument text."""

    name: str
    args: str
    account: str
    admin: bool
    stdin: str = ""


class HostView(Protocol):
    """What programs may see and change on their host (the host holds its lock)."""

    @property
    def name(self) -> str: ...
    @property
    def locale(self) -> Locale: ...
    @property
    def layout(self) -> QwinstaLayout: ...
    @property
    def zone(self) -> LabZone: ...
    @property
    def international(self) -> Mapping[str, str]: ...
    @property
    def store(self) -> SessionStore: ...
    @property
    def logoff_behaviour(self) -> LogoffBehaviour: ...
    @property
    def powershell(self) -> str: ...

    def now(self) -> float: ...
    def registry_key(self, name: str) -> RegKey | None: ...
    def log_off(self, session: Session, now: float) -> None: ...
    def deliver_message(
        self, session: Session, text: str, display_time: int, account: str
    ) -> None: ...


def lines(*items: str) -> str:
    """Join lines with CRLF, ending with CRLF (how console tools end every line)."""
    return "".join(item + CRLF for item in items)


def _usage_error(usage: tuple[str, ...]) -> Output:
    return Output(stderr=lines(texts.INVALID_PARAMETERS, *usage), exit_code=1)


def _split_switches(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Split argv into positional values and `/NAME[:value]` switches (upper-cased names)."""
    positional: list[str] = []
    switches: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("/") and len(arg) > 1:
            key, _, value = arg[1:].partition(":")
            switches[key.upper()] = value
        else:
            positional.append(arg)
    return positional, switches


def _rpc_unavailable(kind: str) -> Output:
    # [quser-en-us-error-1722]: an unreachable /SERVER: target.
    return Output(
        stderr=lines(f"Error 0x000006BA {kind}", "Error [1722]:The RPC server is unavailable."),
        exit_code=1,
    )


def _is_remote(view: HostView, switches: dict[str, str]) -> bool:
    server = switches.get("SERVER")
    return server is not None and server.lower() not in _LOCAL_SERVERS | {view.name.lower()}


def _select(store: SessionStore, selector: str, users_only: bool) -> list[Session]:
    """Sessions matching an id, a session name or a user name (quser/qwinsta rules)."""
    sessions = [s for s in store if s.is_user_session or not users_only]
    if is_number(selector):
        return [s for s in sessions if s.id == int(selector)]
    wanted = selector.lower()
    return [s for s in sessions if wanted in (s.name.lower(), s.user.lower())]


def run_quser(view: HostView, inv: Invocation, via_query: bool = False) -> Output:
    """quser.exe / `query user` (FORMATS.md 1 and 1.6)."""
    positional, switches = _split_switches(split_arguments(inv.args))
    if "?" in switches:
        return Output(stdout=lines(*texts.QUSER_USAGE))
    if len(positional) > 1 or set(switches) - {"SERVER"}:
        return _usage_error(texts.QUSER_USAGE)
    if _is_remote(view, switches):
        return _rpc_unavailable("enumerating sessionnames")
    selector = positional[0] if positional else "*"
    chosen = [] if not inv.admin else [s for s in view.store if s.is_user_session]
    if positional and chosen:
        chosen = _select(view.store, selector, users_only=True)
    if not chosen:
        return Output(stderr=lines(f"No User exists for {selector}"), exit_code=1)
    rows = render_quser(chosen, view.locale, view.now(), view.zone, SERVICES_ID, view.international)
    # query.exe reports exit code 1 even when it printed sessions (FORMATS.md 1.6).
    return Output(stdout=lines(*rows), exit_code=1 if via_query else 0)


def run_qwinsta(view: HostView, inv: Invocation, via_query: bool = False) -> Output:
    """qwinsta.exe / `query session` (FORMATS.md 2)."""
    positional, switches = _split_switches(split_arguments(inv.args))
    if "?" in switches:
        return Output(stdout=lines(*texts.QWINSTA_USAGE))
    allowed = {"SERVER", "MODE", "FLOW", "CONNECT", "COUNTER", "VM"}
    if len(positional) > 1 or set(switches) - allowed:
        return _usage_error(texts.QWINSTA_USAGE)
    if _is_remote(view, switches):
        # [qwinsta-en-us-error-5] family; an unreachable server answers 1722 instead.
        return Output(
            stderr=lines(
                f"Error opening Terminal server {switches['SERVER']}",
                "",
                "Error [1722]:The RPC server is unavailable.",
            ),
            exit_code=1,
        )
    selector = positional[0] if positional else "*"
    chosen = [] if not inv.admin else list(view.store)
    if positional and chosen:
        chosen = _select(view.store, selector, users_only=False)
    if not chosen:
        return Output(stderr=lines(f"No session exists for {selector}"), exit_code=1)
    rows = render_qwinsta(chosen, view.locale, view.layout, SERVICES_ID)
    return Output(stdout=lines(*rows), exit_code=1 if via_query else 0)


def run_query(view: HostView, inv: Invocation) -> Output:
    """query.exe: dispatches `query user` / `query session` (abbreviations `ses`, `u`)."""
    sub, _, rest = inv.args.strip().partition(" ")
    sub = sub.lower()
    sub_inv = Invocation(inv.name, rest, inv.account, inv.admin, inv.stdin)
    if sub and "user".startswith(sub):
        return run_quser(view, sub_inv, via_query=True)
    if len(sub) >= 3 and "session".startswith(sub):
        return run_qwinsta(view, sub_inv, via_query=True)
    usage = ("QUERY { PROCESS | SESSION | TERMSERVER | USER }",)
    return Output(stderr=lines(texts.INVALID_PARAMETERS, *usage), exit_code=1)


def _logoff_failure(session_id: int, name: str, code: int) -> Output:
    # KB 259436 format [logoff-en-us-errors], including its blank after "]:".
    return Output(
        stderr=lines(
            f"Could not logoff session ID {session_id} from session {name}, Error code {code}",
            f"Error [{code}]: {texts.describe_error(code)}",
        ),
        exit_code=1,
    )


def _find_logoff_target(view: HostView, target: str) -> Session | None:
    """An id, else a WinStation name (case-insensitive; "If you specify <SessionName>, it
    must be an active one": only named, i.e. connected, sessions and listeners match).
    LAB ASSUMPTION: a name shared by a session and a listener names the first WinStation
    in id order, the session (logoff.exe's enumeration order was not captured)."""
    if is_number(target):
        return view.store.get(int(target))
    return view.store.find_by_name(target)


def run_logoff(view: HostView, inv: Invocation) -> Output:
    """logoff.exe (FORMATS.md 3)."""
    positional, switches = _split_switches(split_arguments(inv.args))
    if len(positional) > 1 or set(switches) - {"SERVER", "V", "VM"} or "?" in switches:
        return _usage_error(texts.LOGOFF_USAGE)
    if _is_remote(view, switches):
        return _logoff_failure(
            int(positional[0]) if positional and is_number(positional[0]) else 0, "", 1722
        )
    target = positional[0] if positional else str(SERVICES_ID)
    session = _find_logoff_target(view, target)
    if session is None:
        # LAB ASSUMPTION: no public capture shows this case; the KB 259436 family with
        # ERROR_CTX_WINSTATION_NOT_FOUND (7022), the code the session API returns.
        what = f"session ID {target}" if is_number(target) else f"session {target}"
        return Output(
            stderr=lines(
                f"Could not logoff {what}, Error code 7022",
                f"Error [7022]: {texts.describe_error(7022)}",
            ),
            exit_code=1,
        )
    if (
        not session.is_user_session
        or session.name.lower() == "console"
        or (not inv.admin and session.user.lower() != inv.account.lower())
    ):
        # Session 0, listeners and an empty console cannot be logged off [logoff-en-us-errors];
        # neither can the console's user: "You cannot log off a user from the console
        # session." (Microsoft's logoff reference, Remarks; the wording of the refusal is
        # KB 259436's, shown for the console there).
        return _logoff_failure(session.id, session.name, 5)
    behaviour = view.logoff_behaviour
    if behaviour.hang:
        return Output(hang=True)
    if behaviour.error_code is not None:
        failed = _logoff_failure(session.id, session.name, behaviour.error_code)
        return Output(stderr=failed.stderr, exit_code=1, delay_s=behaviour.delay_s)
    if behaviour.stuck:
        view.store.put(replace(session, state=SessionState.DOWN))
    else:
        view.log_off(session, view.now())
    # LAB ASSUMPTION: the /V wording was NOT FOUND in public captures.
    verbose = lines(f"Logging off session ID {session.id}") if "V" in switches else ""
    return Output(stdout=verbose, delay_s=behaviour.delay_s)


@dataclass(frozen=True, slots=True)
class _MsgArgs:
    target: str
    seconds: int
    verbose: bool
    wait: bool
    text: str | None


def _parse_msg(args: str) -> _MsgArgs | None:
    """Parse msg's arguments: target, switches, then the rest of the line is the message."""
    argv = split_arguments(args)
    target, seconds, verbose, wait = "", MSG_DEFAULT_TIME, False, False
    while argv:
        arg = argv[0]
        if arg.startswith("/") and len(arg) > 1:
            key, _, value = arg[1:].partition(":")
            key = key.upper()
            if key == "TIME" and is_number(value):
                seconds = int(value)
            elif key in ("V", "W") and not value:
                verbose, wait = verbose or key == "V", wait or key == "W"
            elif key != "SERVER":
                return None
        elif not target:
            target = arg
        else:
            break
        argv.pop(0)
    if not target:
        return None
    return _MsgArgs(target, seconds, verbose, wait, " ".join(argv) if argv else None)


def _msg_targets(store: SessionStore, target: str) -> list[Session]:
    users = [s for s in store if s.is_user_session]
    if target == "*":
        return users
    return _select(store, target, users_only=True)


def run_msg(view: HostView, inv: Invocation) -> Output:
    """msg.exe (FORMATS.md 4): text from the line, else from stdin."""
    parsed = _parse_msg(inv.args)
    if parsed is None:
        return _usage_error(texts.MSG_USAGE)
    targets = _msg_targets(view.store, parsed.target)
    if not inv.admin and any(s.user.lower() != inv.account.lower() for s in targets):
        return Output(stderr=lines("Error 5 getting session names"), exit_code=1)
    if not targets:
        # LAB ASSUMPTION: wording for an unknown user/session/id, in the quser/qwinsta family.
        return Output(stderr=lines(f"No session exists for {parsed.target}"), exit_code=1)
    text = parsed.text if parsed.text is not None else inv.stdin
    out: list[str] = []
    for session in targets:
        view.deliver_message(session, text, parsed.seconds, inv.account)
        # LAB ASSUMPTION: a disconnected session has no name; the id stands in for it.
        label = session.name or str(session.id)
        out.append(f"Sending message to session {label}, display time {parsed.seconds}")
        # LAB ASSUMPTION: the /W wording was not captured; without /W it is "Async ...".
        done = (
            "Message to session {} responded to by user"
            if parsed.wait
            else "Async message sent to session {}"
        )
        out.append(done.format(label))
    return Output(stdout=lines(*out) if parsed.verbose else "")


def run_reg(view: HostView, inv: Invocation) -> Output:
    """reg.exe: `reg query` of the keys the lab knows (see registry.py)."""
    answer = run_reg_query(inv.args, view.locale.ui.code, view.registry_key)
    stdout = lines(*answer.stdout) if answer.stdout else ""
    stderr = lines(*answer.stderr) if answer.stderr else ""
    return Output(stdout=stdout, stderr=stderr, exit_code=answer.exit_code)


def run_hostname(view: HostView, inv: Invocation) -> Output:
    """hostname.exe: prints the computer name; any argument is refused like Windows does."""
    if inv.args.strip():
        return Output(
            stderr=lines("sethostname: Use the Network Control Panel Applet to set hostname."),
            exit_code=1,
        )
    return Output(stdout=lines(view.name))


def run_whoami(view: HostView, inv: Invocation) -> Output:
    """whoami.exe: `computer\\user` in lower case (local accounts)."""
    argv = split_arguments(inv.args)
    if argv:
        return Output(
            stderr=lines(
                f"ERROR: Invalid argument/option - '{argv[0]}'.", 'Type "WHOAMI /?" for usage.'
            ),
            exit_code=1,
        )
    return Output(stdout=lines(f"{view.name.lower()}\\{inv.account.lower()}"))


def run_echo(view: HostView, inv: Invocation) -> Output:
    """cmd.exe's built-in echo (so an injected `& echo x` visibly runs)."""
    text = inv.args
    return Output(stdout=lines(text if text.strip() else "ECHO is on."))


Program = Callable[[HostView, Invocation], Output]

PROGRAMS: dict[str, Program] = {
    "quser": run_quser,
    "qwinsta": run_qwinsta,
    "query": run_query,
    "logoff": run_logoff,
    "msg": run_msg,
    "reg": run_reg,
    "hostname": run_hostname,
    "whoami": run_whoami,
    "echo": run_echo,
}


def reads_stdin(name: str, args: str) -> bool:
    """True when the program would read its input from stdin (msg without a text)."""
    if name != "msg":
        return False
    parsed = _parse_msg(args)
    return parsed is not None and parsed.text is None
