"""`fleetlogoff apply`: from a saved plan or a fresh one, through the checks that come before
any act (report path, audit log, confirmation, maintenance windows), to the executor, the
audit log, the recap and the report."""

from __future__ import annotations

import getpass
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, TextIO

from fleetlogoff.app.apply_plan import (
    DEFAULT_MAX_PLAN_AGE,
    PlanSource,
    RefusedError,
    SavedPlan,
    check_source_exists,
    is_plan_file,
    load_saved_plan,
    make_fresh_plan,
)
from fleetlogoff.app.fleet import FleetOptions, SelectOptions
from fleetlogoff.app.plan import plan_exit_status
from fleetlogoff.app.record import RunRecord, StopRequest, on_screen
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.audit import AuditError, AuditLog, default_audit_path, event_record
from fleetlogoff.env import Environment
from fleetlogoff.events import ErrorInfo, Event, Kind
from fleetlogoff.executor import ApplySettings, Executor, RunResult, Work
from fleetlogoff.executor.steps import message_values
from fleetlogoff.json_text import indented_json
from fleetlogoff.messages import check_message, render_message, spoken_duration
from fleetlogoff.model import Host
from fleetlogoff.output_file import OutputWriteError, prepare_output, write_atomically
from fleetlogoff.plan_file import (
    InventoryNotPlanError,
    PlanFileError,
    canonical_json,
    plan_document,
    read_plan,
)
from fleetlogoff.planner import Plan, Selection, host_window
from fleetlogoff.recap import Recap, RunInfo
from fleetlogoff.runlock import RunLockedError, hold_run_lock, inventory_keys, plan_key
from fleetlogoff.transport import Connector
from fleetlogoff.ui import console_for
from fleetlogoff.ui.apply_view import ApplyView
from fleetlogoff.ui.plan_view import render_plan
from fleetlogoff.ui.recap_view import render_recap
from fleetlogoff.ui.window_wait import WindowWaitView
from fleetlogoff.visible import safe_json, visible_lines

log = logging.getLogger(__name__)

__all__ = [
    "ApplyOptions",
    "RefusedError",
    "StopRequest",
    "act_on_plan",
    "run_apply",
    "wait_for_windows",
]


class CancelledError(Exception):
    """The run was stopped before anything was done (exit code INTERRUPTED)."""


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
    max_plan_age: timedelta = DEFAULT_MAX_PLAN_AGE
    audit_log: str | None = None
    report: str | None = None
    check: bool = False  # show what would happen, act on nothing (Ansible's --check)
    detailed_exitcode: bool = False  # nothing to do exits NOTHING_TO_DO instead of OK
    output_format: Literal["table", "json"] = "table"  # json: one event per line on stdout

    @property
    def plan_source(self) -> PlanSource:
        """Where the plan comes from (for apply_plan)."""
        return PlanSource(self.source, self.fleet, self.select, self.inventory, self.max_plan_age)


def run_apply(
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event | StopRequest | None = None,
) -> ExitStatus:
    """Run apply; `stop` is set (or called, from a signal handler) to ask the run to stop."""
    request = stop if isinstance(stop, StopRequest) else StopRequest(stop)
    check_message(options.settings.message)
    try:
        return _apply(options, env, connector, request)
    except (RefusedError, RunLockedError) as exc:
        env.stderr.write(f"fleetlogoff: refused: {exc}\n")
        return ExitStatus.REFUSED
    except CancelledError as exc:
        env.stderr.write(f"fleetlogoff: cancelled: {exc}\n")
        return ExitStatus.INTERRUPTED


def _apply(
    options: ApplyOptions, env: Environment, connector: Connector, request: StopRequest
) -> ExitStatus:
    check_source_exists(options.source)
    if options.check:
        plan, _, _ = _plan_interruptibly(options, env, connector, request, _read_saved(options))
        env.stdout.write("Check mode: nothing was done.\n")
        return plan_exit_status(plan, detailed=options.detailed_exitcode)  # as `plan` does
    # One run at a time per plan and per inventory: a second one is refused at once,
    # before it reads any host (runlock.py). The plan file is read once, for the lock's
    # keys and the run (a 3,000-target plan takes about 70 ms to read and check).
    saved = _read_saved(options)
    keys = run_lock_keys(options, saved)
    with hold_run_lock(keys, env.environ, f"fleetlogoff apply {options.source}", env.clock):
        plan, hosts, selection = _plan_interruptibly(options, env, connector, request, saved)
        return act_on_plan(plan, hosts, selection, options, env, connector, request)


def _read_saved(options: ApplyOptions) -> SavedPlan | None:
    """The plan file's plan, or why it is none; None when the source is an inventory."""
    if not is_plan_file(options.source):
        return None
    try:
        return read_plan(options.source)
    except InventoryNotPlanError:
        return None  # a JSON inventory: planned from, as a YAML one is
    except PlanFileError as exc:
        return exc


def run_lock_keys(options: ApplyOptions, saved: SavedPlan | None) -> list[str]:
    """What one apply excludes others from: its plan and the inventory it acts on. A plan
    that cannot be read locks on its own name; load_saved_plan then refuses it."""
    if saved is None:
        return inventory_keys(options.source)
    if isinstance(saved, PlanFileError):
        return [plan_key(options.source)]
    return [plan_key(options.source), *inventory_keys(options.inventory or saved.inventory_source)]


def _plan_interruptibly(
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    request: StopRequest,
    saved: SavedPlan | None,
) -> tuple[Plan, dict[str, Host], Selection]:
    try:
        with request.interruptible():
            return _the_plan(options, env, connector, saved)
    except KeyboardInterrupt:
        raise CancelledError("interrupted while planning: nothing was done") from None


def act_on_plan(
    plan: Plan,
    hosts: dict[str, Host],
    selection: Selection,
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event | StopRequest,
    on_event: Callable[[Event], None] | None = None,
) -> ExitStatus:
    """Everything after the plan: the report path, the audit log, the confirmation, the
    maintenance windows, then the run (apply's path, shared by the `logoff` command);
    `on_event` sees every event once it is recorded."""
    request = stop if isinstance(stop, StopRequest) else StopRequest(stop)
    if plan.target_count == 0:
        _human_stream(options, env).write("Nothing to log off.\n")
        return ExitStatus.NOTHING_TO_DO if options.detailed_exitcode else _ok(plan)
    if options.report:
        prepare_output(options.report)  # a bad path fails now, not after the logoffs
    audit_path = Path(options.audit_log) if options.audit_log else default_audit_path(env.environ)
    try:
        audit = AuditLog(audit_path, uuid.uuid4().hex)
    except AuditError as exc:
        raise RefusedError(f"{exc}: no audit trail, no logoffs") from exc
    with audit:
        confirm(plan, hosts, options, env, request)
        if options.wait_for_window and not options.settings.ignore_windows:
            wait_for_windows(plan, hosts, options, env, request.event)
        if request.event.is_set():
            raise CancelledError("interrupted before acting: nothing was done")
        status = _execute(
            plan, hosts, selection, options, env, connector, request.event, audit, on_event
        )
    _say(env, f"audit log: {audit_path}\n")
    return status


def _the_plan(
    options: ApplyOptions, env: Environment, connector: Connector, saved: SavedPlan | None
) -> tuple[Plan, dict[str, Host], Selection]:
    """The saved plan, checked against its inputs, or a fresh one; shown unless saved and
    not in check mode (its owner reviewed it when it was made)."""
    show_all = options.fleet.verbose > 0
    if saved is not None:
        plan, hosts, selection = load_saved_plan(options.plan_source, env, saved)
        if options.check:
            render_plan(console_for(env, _human_side(options)), plan, show_all=show_all)
    else:
        plan, hosts, selection = make_fresh_plan(options.plan_source, env, connector)
        render_plan(console_for(env, _human_side(options)), plan, show_all=show_all)
    return plan, hosts, selection


def _say(env: Environment, line: str) -> None:
    """A line on stderr that may find the terminal gone (SIGHUP): the run's outcome stands."""
    try:
        env.stderr.write(line)
        env.stderr.flush()
    except OSError:
        log.debug("stderr is gone: %s", line.strip())


def _ok(plan: Plan) -> ExitStatus:
    """A plan whose hosts could not all be read is a partial failure, acted on or not."""
    return ExitStatus.ERROR if plan.failed_hosts else ExitStatus.OK


def confirm(
    plan: Plan,
    hosts: dict[str, Host],
    options: ApplyOptions,
    env: Environment,
    request: StopRequest,
) -> None:
    """Ask before acting, saying what users will read (or that they get no warning)."""
    if options.yes:
        return
    if not env.stdin_isatty:
        raise RefusedError("no terminal to confirm on: pass --yes to act without a question")
    prompt = _human_stream(options, env)
    prompt.write(confirmation_text(plan, hosts, options.settings, env.clock()))
    prompt.flush()
    try:
        with request.interruptible():
            answer = env.stdin.readline()
    except KeyboardInterrupt:
        raise CancelledError("at the prompt: nothing was done") from None
    if answer.strip().lower() not in ("y", "yes"):
        raise RefusedError("not confirmed")


def confirmation_text(
    plan: Plan, hosts: dict[str, Host], settings: ApplySettings, now: datetime
) -> str:
    """The question, plain text: the message users will read, or that they get none."""
    sessions = plan.target_count
    host_count = sum(1 for h in plan.hosts if h.targets)
    if settings.warn <= timedelta(0):
        return (
            "Users get NO warning (--warn 0): their sessions end at once and unsaved work is "
            f"lost.\nLog off {sessions} session(s) on {host_count} host(s) now, without "
            "warning? [y/N] "
        )
    first = next(h for h in plan.hosts if h.targets)
    target = first.targets[0].session
    values = message_values(hosts[first.name], target, now + settings.warn, now)
    text = visible_lines(render_message(settings.message, values))
    shown = "\n".join(f"  | {line}" for line in text.splitlines() or [""])
    return (
        f"Each user is warned {spoken_duration(settings.warn.total_seconds())} before the "
        f"logoff. {target.username or 'A user'} on {first.name} will read:\n{shown}\n"
        f"Warn, then log off {sessions} session(s) on {host_count} host(s)? [y/N] "
    )


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
    needed = options.settings.warn + options.settings.window_margin
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
                return  # nothing will open: the executor reports every host as closed
            view.show(min(openings), env.clock())
            remaining = (min(openings) - env.clock()).total_seconds()
            stop.wait(max(1.0, min(remaining, 60.0)))
    finally:
        view.close()


def plan_digest(plan: Plan) -> str:
    """sha256 of the plan's canonical document: the plan acted on, in the audit and report."""
    return "sha256:" + hashlib.sha256(canonical_json(plan_document(plan))).hexdigest()


def _execute(
    plan: Plan,
    hosts: dict[str, Host],
    selection: Selection,
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event,
    audit: AuditLog,
    on_event: Callable[[Event], None] | None = None,
) -> ExitStatus:
    console = console_for(env, _human_side(options))
    recap = Recap([h.name for h in plan.hosts if h.targets])
    digest = plan_digest(plan)
    view = ApplyView(
        console,
        {h.name: [t.session.id for t in h.targets] for h in plan.hosts if h.targets},
        clock=env.clock,
        verbose=options.fleet.verbose,
        quiet=options.fleet.quiet,
        reminders=options.settings.reminders,
    )
    show = _event_sinks(view, options, env, audit.run_id, on_event)
    record = RunRecord(audit, recap, show, stop)
    executor = _executor(plan, hosts, selection, options, env, connector, stop, record)
    executor.start_workers()  # before the live view's thread, so that they can be forked
    with on_screen(view):
        started = _run_started(plan, hosts, options, env, digest)
        record.emit(started)
        result = _run_executor(executor, env, record, view)
        status = _exit_status(recap, stop, record, result)
        ended = Event(
            Kind.RUN_ENDED,
            env.clock(),
            reason=_end_reason(result),
            data={"exit_code": int(status), "totals": recap.totals()},
        )
        record.emit(ended)
    _finish_on_screen(
        lambda: render_recap(console, view.tally, verbose=options.fleet.verbose), record, env
    )
    info = RunInfo(audit.run_id, started.time, ended.time, digest, int(status), str(audit.path))
    return _write_report(options, env, recap, info, status)


def _finish_on_screen(show_recap: Callable[[], None], record: RunRecord, env: Environment) -> None:
    """The recap and the audit failure, if any; a terminal that went away (SIGHUP) is not
    an error of the run: the audit log and the report have it all."""
    try:
        show_recap()
        if record.failure is not None:
            _say(
                env,
                f"fleetlogoff: error: {record.failure}: the run stopped there; nothing more "
                "was acted on (the recap above shows what was done)\n",
            )
    except OSError:
        log.debug("cannot show the recap", exc_info=True)


def _executor(
    plan: Plan,
    hosts: dict[str, Host],
    selection: Selection,
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event,
    record: RunRecord,
) -> Executor:
    work = [Work(hosts[h.name], h) for h in plan.hosts if h.targets and h.status == "ok"]
    return Executor(
        work,
        selection=selection,
        connector=connector,
        settings=options.settings,
        emit=record.emit,
        emit_many=record.emit_many,
        clock=env.clock,
        stop=stop,
    )


def _run_executor(
    executor: Executor, env: Environment, record: RunRecord, view: ApplyView
) -> RunResult | None:
    """The executor's run; a bug in it is an internal error in the record, not a crash
    that leaves the audit log without its end."""
    try:
        return executor.run(record.countdown(view.countdown))
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        error = ErrorInfo.from_exception(exc)
        _say(env, f"fleetlogoff: internal error: {error.reason} (run with --debug)\n")
        record.emit(Event(Kind.INTERNAL_ERROR, env.clock(), reason=error.reason, error=error))
        return None


def _write_report(
    options: ApplyOptions, env: Environment, recap: Recap, info: RunInfo, status: ExitStatus
) -> ExitStatus:
    if not options.report:
        return status
    # json.dumps with an indent takes the pure-Python encoder; indented_json writes the
    # same bytes faster (a 3,000-target report: 57 -> 38 ms, after the last logoff).
    text = indented_json(recap.document(info), indent=2, ensure_ascii=False, sort_keys=True)
    try:
        write_atomically(options.report, (text + "\n").encode("utf-8"))
    except (OutputWriteError, OSError) as exc:
        _say(env, f"fleetlogoff: error: --report {exc} (the audit log has the record)\n")
        return status if status != ExitStatus.OK else ExitStatus.ERROR
    return status


def _run_started(
    plan: Plan, hosts: dict[str, Host], options: ApplyOptions, env: Environment, digest: str
) -> Event:
    accounts = sorted({h.connection.username or "" for h in hosts.values()})
    return Event(
        Kind.RUN_STARTED,
        env.clock(),
        data={
            "operator": _operator(env),
            "accounts": accounts,
            "plan_digest": digest,
            "plan_created": plan.created.isoformat(timespec="seconds"),
            "inventory": plan.inventory_source,
            "targets": plan.target_count,
            "warn_seconds": int(options.settings.warn.total_seconds()),
        },
    )


def _operator(env: Environment) -> str:
    try:
        return env.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _end_reason(result: RunResult | None) -> str:
    if result is None:
        return "internal error"
    if result.hosts_in_window == 0:
        return "no host in its maintenance window"
    return ""


def _exit_status(
    recap: Recap, stop: threading.Event, record: RunRecord, result: RunResult | None
) -> ExitStatus:
    if record.failure is not None or result is None:
        return ExitStatus.ERROR
    if stop.is_set() or recap.interrupted:
        return ExitStatus.INTERRUPTED
    if result.hosts_in_window == 0:
        return ExitStatus.REFUSED
    return ExitStatus.ERROR if recap.problems else ExitStatus.OK


def _event_sinks(
    view: ApplyView,
    options: ApplyOptions,
    env: Environment,
    run_id: str,
    on_event: Callable[[Event], None] | None,
) -> Callable[[Event], None]:
    """Where a recorded event goes besides the audit log and the recap: the screen, the
    caller's hook (the logoff command's report), and with --format json a JSON line."""
    json_lock = threading.Lock()

    def show(event: Event) -> None:
        view.on_event(event)
        if on_event is not None:
            on_event(event)
        if options.output_format == "json":
            with json_lock:  # events come from worker threads: whole lines only
                _json_line(env.stdout, event, run_id)

    return show


def _human_stream(options: ApplyOptions, env: Environment) -> TextIO:
    """Where people read: stdout, unless stdout carries JSON events for a tool."""
    return env.stderr if _human_side(options) == "stderr" else env.stdout


def _human_side(options: ApplyOptions) -> Literal["stdout", "stderr"]:
    return "stderr" if options.output_format == "json" else "stdout"


def _json_line(stream: TextIO, event: Event, run_id: str) -> None:
    """One event as one JSON line, the audit log's record shape (docs/audit-and-report)."""
    stream.write(safe_json(event_record(event, run_id), indent=None) + "\n")
    stream.flush()
