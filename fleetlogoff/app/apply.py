"""`fleetlogoff apply`: from a saved plan or a fresh one, through confirmation and the
maintenance-window check, to the executor, the audit log, the recap and the report."""

from __future__ import annotations

import getpass
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, TextIO

from fleetlogoff.app.fleet import (
    FleetOptions,
    SelectOptions,
    load_fleet,
    make_selection,
    select_from_spec,
)
from fleetlogoff.app.plan import PlanOptions, plan_fleet
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.audit import AuditError, AuditLog, default_audit_path, event_record
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.events import Event, Kind
from fleetlogoff.executor import ApplySettings, Emit, Executor, Work
from fleetlogoff.messages import check_message
from fleetlogoff.model import Host
from fleetlogoff.plan_file import plan_document, read_plan
from fleetlogoff.planner import Plan, Selection, host_window, rules_digest
from fleetlogoff.recap import Recap
from fleetlogoff.runlock import RunLockedError, hold_run_lock, inventory_key, plan_key
from fleetlogoff.transport import Connector
from fleetlogoff.ui import console_for
from fleetlogoff.ui.apply_view import ApplyView
from fleetlogoff.ui.plan_view import render_plan
from fleetlogoff.ui.recap_view import render_recap
from fleetlogoff.ui.window_wait import WindowWaitView
from fleetlogoff.visible import safe_json


class RefusedError(Exception):
    """apply will not act; the message says why (exit code REFUSED)."""


@dataclass(frozen=True)
class ApplyOptions:
    """Everything apply was told on the command line."""

    source: str  # a plan file, or an inventory to plan from
    fleet: FleetOptions
    select: SelectOptions = field(default_factory=SelectOptions)
    inventory: str | None = None  # for a plan file: the inventory to check it against
    settings: ApplySettings = field(default_factory=ApplySettings)
    yes: bool = False
    wait_for_window: bool = False
    ignore_windows: bool = False
    window_margin: timedelta = timedelta(minutes=5)
    max_plan_age: timedelta = timedelta(hours=1)
    audit_log: str | None = None
    report: str | None = None
    output_format: Literal["table", "json"] = "table"  # json: one event per line on stdout


def is_plan_file(path: str) -> bool:
    """A plan is JSON (starts with "{"); an inventory is YAML."""
    try:
        with open(path, "rb") as handle:
            return handle.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def load_saved_plan(
    options: ApplyOptions, env: Environment
) -> tuple[Plan, dict[str, Host], Selection]:
    """Read a plan and refuse it when it is stale or no longer matches its inputs."""
    if options.select.rules_file or options.select.ad_hoc or options.fleet.limit:
        raise UsageError(
            "a saved plan carries its own rules and --limit: give them to `plan`, not `apply`"
        )
    plan = read_plan(options.source)
    age = env.clock() - plan.created
    if age > options.max_plan_age:
        raise RefusedError(
            f"plan is {int(age.total_seconds() // 60)} min old (--max-plan-age allows "
            f"{int(options.max_plan_age.total_seconds() // 60)} min): make a new plan"
        )
    fleet = FleetOptions(
        inventory=options.inventory or plan.inventory_source,
        limit=plan.limit,
        forks=options.fleet.forks,
        timeout=options.fleet.timeout,
        ask_pass=options.fleet.ask_pass,
        quiet=options.fleet.quiet,
        vault=options.fleet.vault,
    )
    inventory, hosts = load_fleet(fleet, env)
    if inventory.digest != plan.inventory_digest:
        raise RefusedError(f"inventory {fleet.inventory} changed since the plan was made")
    selection = make_selection(select_from_spec(plan.rules_spec))
    if rules_digest(hosts, selection) != plan.rules_digest:
        raise RefusedError("rules or protections changed since the plan was made")
    by_name = {h.name: h for h in hosts}
    missing = [h.name for h in plan.hosts if h.name not in by_name]
    if missing or len(by_name) != len(plan.hosts):
        raise RefusedError(f"plan was made for other hosts than the inventory has ({missing[:3]})")
    return plan, by_name, selection


def make_fresh_plan(
    options: ApplyOptions, env: Environment, connector: Connector
) -> tuple[Plan, dict[str, Host], Selection]:
    plan, hosts, selection = plan_fleet(
        PlanOptions(fleet=options.fleet, select=options.select), env, connector
    )
    return plan, {h.name: h for h in hosts}, selection


def confirm(plan: Plan, options: ApplyOptions, env: Environment) -> None:
    if options.yes:
        return
    if not env.stdin_isatty:
        raise RefusedError("no terminal to confirm on: pass --yes to act without a question")
    env.stdout.write(
        f"Log off {plan.target_count} session(s) on "
        f"{sum(1 for h in plan.hosts if h.targets)} host(s)? [y/N] "
    )
    env.stdout.flush()
    if env.stdin.readline().strip().lower() not in ("y", "yes"):
        raise RefusedError("not confirmed")


def select_work(
    plan: Plan, hosts: dict[str, Host], options: ApplyOptions, env: Environment, emit: Emit
) -> list[Work]:
    """Hosts with targets whose maintenance window is open long enough (or ignored)."""
    needed = options.settings.warn + options.window_margin
    work = []
    for host_plan in plan.hosts:
        if not host_plan.targets or host_plan.status != "ok":
            continue
        host = hosts[host_plan.name]
        status = host_window(host, env.clock(), needed)
        if not options.ignore_windows and not status.fits:
            emit(Event(Kind.HOST_SKIPPED, env.clock(), host=host.name, reason=status.text))
            continue
        work.append(Work(host, host_plan))
    return work


def wait_for_windows(
    plan: Plan,
    hosts: dict[str, Host],
    options: ApplyOptions,
    env: Environment,
    stop: threading.Event,
) -> None:
    """While no host with targets has its window open long enough, sleep until the first
    one opens. Waiting for every window could wait for ever (one closes while another
    opens); hosts still closed afterwards are skipped and reported as such."""
    needed = options.settings.warn + options.window_margin
    view = WindowWaitView(console_for(env, "stderr"))
    try:
        while not stop.is_set():
            statuses = [
                host_window(hosts[h.name], env.clock(), needed) for h in plan.hosts if h.targets
            ]
            if any(s.fits for s in statuses):
                return
            openings = [s.opens_at for s in statuses if s.opens_at is not None]
            if not openings:
                return  # nothing will open: select_work reports every host as closed
            view.show(min(openings), env.clock())
            remaining = (min(openings) - env.clock()).total_seconds()
            stop.wait(max(1.0, min(remaining, 60.0)))
    finally:
        view.close()


def plan_digest(plan: Plan) -> str:
    canonical = json.dumps(plan_document(plan), sort_keys=True, ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def run_apply(
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event | None = None,
) -> ExitStatus:
    stop = stop if stop is not None else threading.Event()
    check_message(options.settings.message)
    try:
        return _apply(options, env, connector, stop)
    except (RefusedError, RunLockedError) as exc:
        env.stderr.write(f"fleetlogoff: refused: {exc}\n")
        return ExitStatus.REFUSED


def run_lock_keys(options: ApplyOptions) -> list[str]:
    """What one apply excludes others from: its plan and the inventory it acts on."""
    if not is_plan_file(options.source):
        return [inventory_key(options.source)]
    inventory = options.inventory or read_plan(options.source).inventory_source
    return [plan_key(options.source), inventory_key(inventory)]


def _apply(
    options: ApplyOptions, env: Environment, connector: Connector, stop: threading.Event
) -> ExitStatus:
    keys = run_lock_keys(options)
    with hold_run_lock(keys, env.environ, f"fleetlogoff apply {options.source}", env.clock):
        return _apply_locked(options, env, connector, stop)


def _apply_locked(
    options: ApplyOptions, env: Environment, connector: Connector, stop: threading.Event
) -> ExitStatus:
    if is_plan_file(options.source):
        plan, hosts, selection = load_saved_plan(options, env)
    else:
        plan, hosts, selection = make_fresh_plan(options, env, connector)
        console = console_for(env, _human_side(options))
        render_plan(console, plan, show_all=options.fleet.verbose > 0)
    return act_on_plan(plan, hosts, selection, options, env, connector, stop)


def act_on_plan(
    plan: Plan,
    hosts: dict[str, Host],
    selection: Selection,
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event,
    on_event: Emit | None = None,
) -> ExitStatus:
    """Confirm, open the audit log and carry the plan out (apply's path, shared by the
    `logoff` command); `on_event` sees every event once it is recorded."""
    if plan.target_count == 0:
        _human_stream(options, env).write("Nothing to log off.\n")
        return ExitStatus.NOTHING_TO_DO
    if options.report and not Path(options.report).resolve().parent.is_dir():
        raise UsageError(f"--report {options.report}: its directory does not exist")
    confirm(plan, options, env)
    if options.wait_for_window and not options.ignore_windows:
        wait_for_windows(plan, hosts, options, env, stop)
    audit_path = Path(options.audit_log) if options.audit_log else default_audit_path(env.environ)
    try:
        audit = AuditLog(audit_path, uuid.uuid4().hex)
    except AuditError as exc:
        raise RefusedError(f"{exc}: no audit trail, no logoffs") from exc
    with audit:
        status = _execute(plan, hosts, selection, options, env, connector, stop, audit, on_event)
    env.stderr.write(f"audit log: {audit_path}\n")
    return status


def _execute(
    plan: Plan,
    hosts: dict[str, Host],
    selection: Selection,
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event,
    audit: AuditLog,
    on_event: Emit | None = None,
) -> ExitStatus:
    console = console_for(env, _human_side(options))
    recap = Recap([h.name for h in plan.hosts if h.targets])
    view = ApplyView(
        console,
        {h.name: [t.session.id for t in h.targets] for h in plan.hosts if h.targets},
        clock=env.clock,
        verbose=options.fleet.verbose,
        quiet=options.fleet.quiet,
        reminders=options.settings.reminders,
    )
    json_lock = threading.Lock()
    with view:

        def emit(event: Event) -> None:
            try:
                audit.write(event)  # first: the record must exist even if the screen fails
            except AuditError:
                stop.set()  # no new act may start once it can no longer be recorded
                raise
            recap.add(event)
            view.on_event(event)
            if on_event is not None:
                on_event(event)
            if options.output_format == "json":
                with json_lock:  # events come from worker threads: whole lines only
                    _json_line(env.stdout, event, audit.run_id)

        emit(_run_started(plan, hosts, options, env))
        work = select_work(plan, hosts, options, env, emit)
        if not work:
            emit(Event(Kind.RUN_ENDED, env.clock(), reason="no host in its maintenance window"))
            render_recap(console, view.tally, verbose=options.fleet.verbose)
            return ExitStatus.REFUSED
        executor = Executor(
            work,
            selection=selection,
            connector=connector,
            settings=options.settings,
            emit=emit,
            clock=env.clock,
            stop=stop,
        )
        _run_phases(executor, options, env, stop, emit, view)
        status = _exit_status(recap, stop)
        emit(Event(Kind.RUN_ENDED, env.clock(), data={"exit_code": int(status)}))
    render_recap(console, view.tally, verbose=options.fleet.verbose)
    if options.report:
        Path(options.report).write_text(json.dumps(recap.document(), indent=2) + "\n")
    return status


def _run_phases(
    executor: Executor,
    options: ApplyOptions,
    env: Environment,
    stop: threading.Event,
    emit: Emit,
    view: ApplyView,
) -> None:
    if options.settings.warn > timedelta(0):
        deadline = executor.warn_all()
        if deadline is not None and not _wait_with_reminders(
            executor, options, env, emit, view, deadline
        ):
            emit(Event(Kind.INTERRUPTED, env.clock(), reason="during the wait: nothing logged off"))
            if options.settings.notify_cancel:
                executor.notify_cancelled()
            return
    if stop.is_set():
        emit(Event(Kind.INTERRUPTED, env.clock(), reason="before logoff"))
        return
    executor.logoff_all()
    if stop.is_set():
        emit(Event(Kind.INTERRUPTED, env.clock(), reason="during logoff"))


def _wait_with_reminders(
    executor: Executor,
    options: ApplyOptions,
    env: Environment,
    emit: Emit,
    view: ApplyView,
    deadline: datetime,
) -> bool:
    """The one shared wait, broken where reminders are due; False when interrupted."""
    until = deadline.astimezone().strftime("%H:%M:%S")
    emit(
        Event(
            Kind.WAIT_STARTED,
            env.clock(),
            reason=f"logoffs start at {until}",
            data={"deadline": deadline.isoformat(timespec="seconds")},
        )
    )
    for before in sorted(options.settings.reminders, reverse=True):
        if not executor.wait_until(deadline - before, view.countdown):
            return False
        executor.remind_all(deadline)
    return executor.wait_until(deadline, view.countdown)


def _run_started(
    plan: Plan, hosts: dict[str, Host], options: ApplyOptions, env: Environment
) -> Event:
    accounts = sorted({h.connection.username or "" for h in hosts.values()})
    return Event(
        Kind.RUN_STARTED,
        env.clock(),
        data={
            "operator": _operator(env),
            "accounts": accounts,
            "plan_digest": plan_digest(plan),
            "plan_created": plan.created.isoformat(timespec="seconds"),
            "inventory": plan.inventory_source,
            "targets": plan.target_count,
            "warn_seconds": int(options.settings.warn.total_seconds()),
        },
    )


def _human_stream(options: ApplyOptions, env: Environment) -> TextIO:
    """Where people read: stdout, unless stdout carries JSON events for a tool."""
    return env.stderr if _human_side(options) == "stderr" else env.stdout


def _human_side(options: ApplyOptions) -> Literal["stdout", "stderr"]:
    return "stderr" if options.output_format == "json" else "stdout"


def _json_line(stream: TextIO, event: Event, run_id: str) -> None:
    """One event as one JSON line, the audit log's record shape (docs/audit-and-report)."""
    stream.write(safe_json(event_record(event, run_id), indent=None) + "\n")
    stream.flush()


def _operator(env: Environment) -> str:
    try:
        return env.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _exit_status(recap: Recap, stop: threading.Event) -> ExitStatus:
    if stop.is_set() or recap.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.ERROR if recap.problems else ExitStatus.OK
