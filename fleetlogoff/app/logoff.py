"""`fleetlogoff logoff SESSIONNAME|SESSIONID|USER --server NAME`: logoff.exe's one line,
made fleet-aware and as safe as apply.

The named hosts are read (quser for the sessions, qwinsta for every WinStation), the
selector is resolved on each (logoff_select.py), the sessions are shown, and the result
goes through apply's own path (app.apply.act_on_plan): confirmation or --yes, the
optional warning, the guarded logoff, the post-logoff check, the audit log and apply's
exit codes. Nothing here executes a logoff itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from fleetlogoff.app.apply import ApplyOptions, RefusedError, act_on_plan
from fleetlogoff.app.fleet import FleetOptions, load_fleet
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.collect import output_text, read_sessions
from fleetlogoff.env import Environment
from fleetlogoff.errors import HostCommandError, ParseError, TransportError, UsageError
from fleetlogoff.events import Event, Kind
from fleetlogoff.executor import ApplySettings
from fleetlogoff.inventory.hostvars import HTTP_PORT, HTTPS_PORT, PASSWORD_ENV, USERNAME_ENV
from fleetlogoff.inventory.settings import host_codepage
from fleetlogoff.inventory.vault_secrets import VaultOptions
from fleetlogoff.logoff_select import HostChoice, choose_sessions
from fleetlogoff.model import Connection, Host, Secret, Session
from fleetlogoff.parsers import parse_qwinsta
from fleetlogoff.planner import HostPlan, Plan, Selection, plan_host, rules_digest
from fleetlogoff.rules import Rule
from fleetlogoff.runlock import RunLockedError, hold_run_lock, host_key, inventory_keys
from fleetlogoff.transport import Connector
from fleetlogoff.ui import console_for
from fleetlogoff.ui.plan_view import render_plan

QWINSTA = "qwinsta"
RULE_NAME = "logoff-command"


@dataclass(frozen=True)
class LogoffOptions:
    """What `fleetlogoff logoff` was told.

    Attributes:
        selector: session id, session name or user name.
        server: an inventory host or pattern (with `inventory`), else an address
            (`host`, `host:port`, `http(s)://host:port`).
        inventory: the inventory sources to find `server` in, if any (as
            files.join_sources names several).
        vault: vault passwords for the inventory, as for every fleet command.
        verbose: show the host's own words for Windows errors, and each logoff as sent.
        force: the reason to log off the inventory's protected users anyway.
        settings, yes, audit_log, report: as for apply.
        forks, timeout, ask_pass, quiet: as for every fleet command.
    """

    selector: str
    server: str
    inventory: str | None = None
    vault: VaultOptions = VaultOptions()
    verbose: bool = False
    force: str | None = None
    settings: ApplySettings = field(default_factory=ApplySettings)
    yes: bool = False
    audit_log: str | None = None
    report: str | None = None
    forks: int = 50
    timeout: float = 30.0
    ask_pass: bool = False
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class HostRead:
    """One host as read for the command: its user sessions and every WinStation."""

    host: Host
    users: tuple[Session, ...] = ()
    stations: tuple[Session, ...] = ()
    error: str | None = None


def run_logoff(
    options: LogoffOptions, env: Environment, connector: Connector, stop: threading.Event
) -> ExitStatus:
    """Resolve, show, confirm and log off; refusals are exit code 4 (as for apply)."""
    try:
        return _logoff(options, env, connector, stop)
    except (RefusedError, RunLockedError) as exc:
        env.stderr.write(f"fleetlogoff: refused: {exc}\n")
        return ExitStatus.REFUSED


def _logoff(
    options: LogoffOptions, env: Environment, connector: Connector, stop: threading.Event
) -> ExitStatus:
    source, digest, hosts = resolve_hosts(options, env)
    if options.force:
        hosts = tuple(_unprotected(h) for h in hosts)
    keys = (
        inventory_keys(options.inventory)
        if options.inventory
        else [host_key(h.connection.address, h.connection.port) for h in hosts]
    )
    command = f"fleetlogoff logoff {options.selector} --server {options.server}"
    with hold_run_lock(keys, env.environ, command, env.clock):
        reads = read_hosts(hosts, options, connector)
        selection = Selection((Rule(_rule_name(options)),), "logoff command")
        plan, refused, missing = build_plan(options, reads, selection, source, digest, env)
        for line in [*refused, *missing]:
            env.stderr.write(f"fleetlogoff: {line}\n")
        render_plan(console_for(env, "stdout"), plan)
        if plan.target_count == 0:
            return _nothing_done(plan, reads, bool(refused), env)
        apply_options = _apply_options(options, source)
        by_name = {h.name: h for h in hosts}
        status = act_on_plan(
            plan, by_name, selection, apply_options, env, connector, stop, _reporter(options, env)
        )
    unread = any(r.error for r in reads)
    return ExitStatus.ERROR if unread and status == ExitStatus.OK else status


def resolve_hosts(options: LogoffOptions, env: Environment) -> tuple[str, str, tuple[Host, ...]]:
    """The hosts `--server` names: (source for the audit, inventory digest, hosts)."""
    if options.inventory:
        # The inventory as every fleet command reads it: several sources, vault passwords,
        # --server as a --limit, the kinit cache's account named (so it is never a target).
        fleet = FleetOptions(
            inventory=options.inventory,
            limit=options.server,
            ask_pass=options.ask_pass,
            vault=options.vault,
        )
        inventory, hosts = load_fleet(fleet, env)
        return options.inventory, inventory.digest, hosts
    password = env.ask_password("WinRM password: ") if options.ask_pass else None
    return f"--server {options.server}", "", (_address_host(options.server, env, password),)


def _address_host(server: str, env: Environment, password: str | None) -> Host:
    """A host given by address, with credentials from the environment or -k."""
    try:
        # urlsplit refuses brackets that hold no IPv6 address ('~rds0[12]', a pattern
        # given without -i), .port a port that is no number: both are bad addresses.
        parsed = urlsplit(server if "://" in server else f"//{server}")
        port = parsed.port
    except ValueError:
        raise UsageError(
            f"--server {server}: not an address (host, host:port or http(s)://host:port); "
            "a host pattern needs -i INVENTORY"
        ) from None
    scheme = parsed.scheme or "http"
    if scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/"):
        raise UsageError(f"--server {server}: give a host, host:port or http(s)://host:port")
    username = env.environ.get(USERNAME_ENV)
    secret = password if password is not None else env.environ.get(PASSWORD_ENV)
    if not username or secret is None:
        raise UsageError(
            f"--server {server} without -i INVENTORY needs credentials: set {USERNAME_ENV} "
            f"and {PASSWORD_ENV} (or -k to type the password)"
        )
    connection = Connection(
        address=parsed.hostname,
        port=port or (HTTPS_PORT if scheme == "https" else HTTP_PORT),
        scheme="https" if scheme == "https" else "http",
        username=username,
        password=Secret(secret),
    )
    return Host(name=server, groups=("all",), connection=connection)


def _unprotected(host: Host) -> Host:
    """--force: the inventory's protected users may be logged off (nothing else may)."""
    settings = {k: v for k, v in host.settings.items() if k != "fleetlogoff_protected_users"}
    return replace(host, settings=settings)


def _rule_name(options: LogoffOptions) -> str:
    # The rule's name is in every logoff_sent line of the audit: a forced run says why.
    return f"{RULE_NAME} --force: {options.force}" if options.force else RULE_NAME


def read_hosts(
    hosts: Sequence[Host], options: LogoffOptions, connector: Connector
) -> list[HostRead]:
    """Read every host (quser and qwinsta), in parallel, in inventory order."""
    workers = max(1, min(options.forks, len(hosts)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda h: read_host(h, connector, options.timeout), hosts))


def read_host(host: Host, connector: Connector, timeout: float) -> HostRead:
    """One host's sessions; a host that cannot be read says why and is left alone."""
    try:
        session = connector.open(host, deadline_s=timeout)
    except TransportError as exc:
        return HostRead(host, error=f"{exc.kind}: {exc.reason}")
    try:
        users, _ = read_sessions(session, host, timeout)
        stations = parse_qwinsta(
            output_text(session.run(QWINSTA, timeout=timeout), host_codepage(host))
        )
    except TransportError as exc:
        return HostRead(host, error=f"{exc.kind}: {exc.reason}")
    except (ParseError, HostCommandError) as exc:
        return HostRead(host, error=str(exc))
    finally:
        session.close()
    return HostRead(host, tuple(users), tuple(stations))


def build_plan(
    options: LogoffOptions,
    reads: Sequence[HostRead],
    selection: Selection,
    source: str,
    digest: str,
    env: Environment,
) -> tuple[Plan, list[str], list[str]]:
    """The in-memory plan apply acts on; one line per refused session, one per host where
    nothing matched."""
    now = env.clock()
    host_plans: list[HostPlan] = []
    lines: list[str] = []
    missing: list[str] = []
    for read in reads:
        if read.error is not None:
            host_plans.append(
                plan_host(
                    read.host,
                    "error",
                    (),
                    error=read.error,
                    raw="",
                    selection=selection,
                    now_utc=now,
                )
            )
            continue
        choice = choose_sessions(options.selector, read.users, read.stations)
        lines.extend(_refusal_lines(read.host.name, choice))
        if choice.missing is not None:
            missing.append(f"{read.host.name}: {choice.missing}")
        planned = plan_host(
            read.host, "ok", choice.targets, error=None, raw="", selection=selection, now_utc=now
        )
        lines.extend(
            f"{read.host.name}: session {p.session.id} ({p.session.username}): refused: {p.reason}"
            + _force_hint(p.reason, options)
            for p in planned.protected
        )
        host_plans.append(planned)
    plan = Plan(
        created=now,
        inventory_source=source,
        inventory_digest=digest,
        rules_source="logoff command",
        rules_digest=rules_digest([r.host for r in reads], selection),
        limit=options.server,
        hosts=tuple(host_plans),
        rules_spec={"logoff": options.selector},
    )
    return plan, lines, missing


def _refusal_lines(host: str, choice: HostChoice) -> list[str]:
    return [
        f"{host}: session {r.session_id} ({r.session_name or '-'}): refused: {r.text}"
        for r in choice.refused
    ]


def _force_hint(reason: str, options: LogoffOptions) -> str:
    if "protected user" in reason and not options.force:
        return " (give --force REASON to log off a protected user anyway)"
    return ""


def _nothing_done(
    plan: Plan, reads: Sequence[HostRead], refused: bool, env: Environment
) -> ExitStatus:
    """Nothing to act on: refused (4), a host not read (1), or nothing matched (3)."""
    if refused:
        return ExitStatus.REFUSED
    if any(r.error for r in reads):
        return ExitStatus.ERROR
    env.stdout.write("Nothing to log off.\n")
    return ExitStatus.NOTHING_TO_DO


def _apply_options(options: LogoffOptions, source: str) -> ApplyOptions:
    return ApplyOptions(
        source=source,
        fleet=FleetOptions(
            inventory=options.inventory or "",
            limit=options.server,
            forks=options.forks,
            timeout=options.timeout,
            ask_pass=options.ask_pass,
            quiet=options.quiet,
            vault=options.vault,
        ),
        # An explicit logoff acts now, as logoff.exe does; windows schedule rule-based runs.
        settings=replace(options.settings, ignore_windows=True),
        yes=options.yes,
        audit_log=options.audit_log,
        report=options.report,
    )


def _reporter(options: LogoffOptions, env: Environment) -> Callable[[Event], None]:
    """logoff.exe /V's "Logging off session ID N" and the hosts' own error words, at -v."""

    def report(event: Event) -> None:
        if not options.verbose:
            return
        if event.kind is Kind.LOGOFF_SENT:
            env.stderr.write(f"{event.host}: Logging off session ID {event.session_id}\n")
        host_text = event.data.get("host_text")
        if host_text:
            text = " ".join(str(host_text).split())
            env.stderr.write(f"{event.host}: session {event.session_id}: the host said: {text}\n")

    return report
