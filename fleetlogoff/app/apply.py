"""`fleetlogoff apply`: from a saved plan or a fresh one, through the checks that come before
any act (report path, audit log, confirmation, maintenance windows), to the executor, the
audit log, the recap and the report."""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from fleetlogoff.app.apply_plan import (
    DEFAULT_MAX_PLAN_AGE,
    PlanSource,
    RefusedError,
    check_source_exists,
    is_plan_file,
    load_saved_plan,
    make_fresh_plan,
)
from fleetlogoff.app.fleet import FleetOptions, SelectOptions
from fleetlogoff.app.plan import plan_exit_status
from fleetlogoff.app.record import RunRecord, StopRequest, on_screen
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.audit import AuditError, AuditLog, default_audit_path
from fleetlogoff.env import Environment
from fleetlogoff.events import ErrorInfo, Event, Kind
from fleetlogoff.executor import ApplySettings, Executor, RunResult, Work
from fleetlogoff.executor.steps import message_values
from fleetlogoff.messages import check_message, render_message, spoken_duration
from fleetlogoff.model import Host
from fleetlogoff.output_file import OutputWriteError, prepare_output, write_atomically
from fleetlogoff.plan_file import canonical_json, plan_document
from fleetlogoff.planner import Plan, Selection, host_window
from fleetlogoff.recap import Recap, RunInfo
from fleetlogoff.transport import Connector
from fleetlogoff.ui import make_console
from fleetlogoff.ui.apply_view import ApplyView, render_recap
from fleetlogoff.ui.plan_view import render_plan

log = logging.getLogger(__name__)

__all__ = ["ApplyOptions", "RefusedError", "StopRequest", "run_apply", "wait_for_windows"]


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
    except RefusedError as exc:
        env.stderr.write(f"fleetlogoff: refused: {exc}\n")
        return ExitStatus.REFUSED
    except CancelledError as exc:
        env.stderr.write(f"fleetlogoff: cancelled: {exc}\n")
        return ExitStatus.INTERRUPTED


def _apply(
    options: ApplyOptions, env: Environment, connector: Connector, request: StopRequest
) -> ExitStatus:
    check_source_exists(options.source)
    try:
        with request.interruptible():
            plan, hosts, selection = _the_plan(options, env, connector)
    except KeyboardInterrupt:
        raise CancelledError("interrupted while planning: nothing was done") from None
    if options.check:
        env.stdout.write("Check mode: nothing was done.\n")
        return plan_exit_status(plan, detailed=options.detailed_exitcode)  # as `plan` does
    if plan.target_count == 0:
        env.stdout.write("Nothing to log off.\n")
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
        status = _execute(plan, hosts, selection, options, env, connector, request.event, audit)
    _say(env, f"audit log: {audit_path}\n")
    return status


def _the_plan(
    options: ApplyOptions, env: Environment, connector: Connector
) -> tuple[Plan, dict[str, Host], Selection]:
    """The saved plan, checked against its inputs, or a fresh one; shown unless saved and
    not in check mode (its owner reviewed it when it was made)."""
    if is_plan_file(options.source):
        plan, hosts, selection = load_saved_plan(options.plan_source, env)
        if options.check:
            render_plan(make_console(env.stdout, color=env.color), plan)
    else:
        plan, hosts, selection = make_fresh_plan(options.plan_source, env, connector)
        render_plan(make_console(env.stdout, color=env.color), plan)
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
    env.stdout.write(confirmation_text(plan, hosts, options.settings, env.clock()))
    env.stdout.flush()
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
    text = _printable(render_message(settings.message, values))
    shown = "\n".join(f"  | {line}" for line in text.splitlines() or [""])
    return (
        f"Each user is warned {spoken_duration(settings.warn.total_seconds())} before the "
        f"logoff. {target.username or 'A user'} on {first.name} will read:\n{shown}\n"
        f"Warn, then log off {sessions} session(s) on {host_count} host(s)? [y/N] "
    )


def _printable(text: str) -> str:
    """Host-given names inside the message never drive the terminal (escape sequences)."""
    return "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)


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
    while not stop.is_set():
        statuses = [
            host_window(hosts[h.name], env.clock(), needed) for h in plan.hosts if h.targets
        ]
        if any(s.fits for s in statuses):
            return
        openings = [s.opens_at for s in statuses if s.opens_at is not None]
        if not openings:
            return  # nothing will open: the executor reports every host as closed
        remaining = (min(openings) - env.clock()).total_seconds()
        env.stderr.write(f"waiting for a maintenance window: opens in {int(remaining)}s\n")
        stop.wait(max(1.0, min(remaining, 60.0)))


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
) -> ExitStatus:
    console = make_console(env.stdout, color=env.color)
    recap = Recap([h.name for h in plan.hosts if h.targets])
    digest = plan_digest(plan)
    with on_screen(ApplyView(console, len(recap.hosts), quiet=options.fleet.quiet)) as view:
        record = RunRecord(audit, recap, view.on_event, stop)
        started = _run_started(plan, hosts, options, env, digest)
        record.emit(started)
        result = _run_executor(plan, hosts, selection, options, env, connector, stop, record, view)
        status = _exit_status(recap, stop, record, result)
        ended = Event(
            Kind.RUN_ENDED,
            env.clock(),
            reason=_end_reason(result),
            data={"exit_code": int(status), "totals": recap.totals()},
        )
        record.emit(ended)
    _finish_on_screen(lambda: render_recap(console, recap), record, env)
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


def _run_executor(
    plan: Plan,
    hosts: dict[str, Host],
    selection: Selection,
    options: ApplyOptions,
    env: Environment,
    connector: Connector,
    stop: threading.Event,
    record: RunRecord,
    view: ApplyView,
) -> RunResult | None:
    """The executor's run; a bug in it is an internal error in the record, not a crash
    that leaves the audit log without its end."""
    work = [Work(hosts[h.name], h) for h in plan.hosts if h.targets and h.status == "ok"]
    executor = Executor(
        work,
        selection=selection,
        connector=connector,
        settings=options.settings,
        emit=record.emit,
        clock=env.clock,
        stop=stop,
    )
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
    text = json.dumps(recap.document(info), indent=2, ensure_ascii=False, sort_keys=True)
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
