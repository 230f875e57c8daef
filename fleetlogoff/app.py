"""Use cases behind the CLI: load, select, collect, plan, print. The CLI only parses flags."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from fleetlogoff.collect import CollectOptions, HostReading, gather, start_reading
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.inventory import Inventory
from fleetlogoff.inventory_files import load_inventory_file
from fleetlogoff.model import Host
from fleetlogoff.plan_file import plan_document, session_document, write_plan
from fleetlogoff.planner import HostPlan, Plan, Selection, plan_host, rules_digest
from fleetlogoff.rules import load_rules_file, rule_from_cli
from fleetlogoff.transport import Connector
from fleetlogoff.ui import make_console
from fleetlogoff.ui.plan_view import render_plan
from fleetlogoff.ui.progress import HostProgress
from fleetlogoff.ui.sessions_view import render_sessions


class ExitStatus(IntEnum):
    """Exit codes, documented in the README."""

    OK = 0
    ERROR = 1  # some host or some action failed; the rest was done
    CHANGES = 2  # plan --detailed-exitcode: sessions would be logged off
    NOTHING_TO_DO = 3  # apply: nothing to log off
    REFUSED = 4  # apply refused to act: stale/invalid plan, window closed, no --yes
    USAGE = 64  # bad flags, inventory, rules or input file
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


@dataclass(frozen=True)
class FleetOptions:
    """Which hosts, and how to reach them."""

    inventory: str
    limit: str | None = None
    forks: int = 50
    timeout: float = 30.0
    ask_pass: bool = False
    quiet: bool = False
    processes: int = 1


@dataclass(frozen=True)
class SelectOptions:
    """Which sessions: a rules file, ad-hoc flags, or (neither) the inventory's rules."""

    rules_file: str | None = None
    users: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    idle: str | None = None
    sessions: tuple[str, ...] = ()

    @property
    def ad_hoc(self) -> bool:
        return bool(self.users or self.states or self.idle or self.sessions)


@dataclass(frozen=True)
class PlanOptions:
    fleet: FleetOptions
    select: SelectOptions = field(default_factory=SelectOptions)
    output: str | None = None
    format: Literal["table", "json"] = "table"
    detailed_exitcode: bool = False
    show_all: bool = False


def load_fleet(options: FleetOptions, env: Environment) -> tuple[Inventory, tuple[Host, ...]]:
    """Load the inventory with its credentials and apply --limit."""
    password = None
    if options.ask_pass:
        password = env.ask_password("WinRM password: ")
    inventory = load_inventory_file(options.inventory, env=env.environ, password=password)
    return inventory, inventory.select(options.limit)


def select_spec(options: SelectOptions) -> dict[str, object]:
    """The selection as the plan file keeps it."""
    return {
        "rules_file": options.rules_file,
        "users": list(options.users),
        "states": list(options.states),
        "idle": options.idle,
        "sessions": list(options.sessions),
    }


def select_from_spec(spec: Mapping[str, object]) -> SelectOptions:
    """Rebuild the selection a plan was made with; a tampered spec is refused."""

    def strings(key: str) -> tuple[str, ...]:
        value = spec.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"plan rules.spec.{key}: expected a list of strings")
        return tuple(value)

    def optional(key: str) -> str | None:
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"plan rules.spec.{key}: expected a string or null")
        return value

    return SelectOptions(
        rules_file=optional("rules_file"),
        users=strings("users"),
        states=strings("states"),
        idle=optional("idle"),
        sessions=strings("sessions"),
    )


def make_selection(options: SelectOptions) -> Selection:
    if options.rules_file and options.ad_hoc:
        raise UsageError("use either --rules FILE or --user/--state/--idle/--session, not both")
    if options.rules_file:
        return Selection(tuple(load_rules_file(options.rules_file)), options.rules_file)
    if options.ad_hoc:
        rule = rule_from_cli(
            users=options.users, states=options.states, idle=options.idle, sessions=options.sessions
        )
        return Selection((rule,), "command-line")
    return Selection()


def read_fleet(
    hosts: Sequence[Host],
    options: FleetOptions,
    env: Environment,
    connector: Connector,
    on_reading: Callable[[HostReading], None] | None = None,
) -> list[HostReading]:
    """Collect every host's sessions with a progress display on stderr.

    `on_reading` sees each host's reading as it arrives (in completion order), so work on
    finished hosts overlaps with the hosts still being read.
    """

    def done(reading: HostReading) -> None:
        progress.host_done(reading.host.name, reading.status, reading.error)
        if on_reading is not None:
            on_reading(reading)

    console = make_console(env.stderr, color=env.color and not options.quiet)
    collect = CollectOptions(
        forks=options.forks, deadline_s=options.timeout, processes=options.processes
    )
    readings = start_reading(hosts, connector, collect)  # workers start before any thread
    with HostProgress(console, len(hosts), "Reading sessions", quiet=options.quiet) as progress:
        return gather(readings, hosts, on_done=done)


def plan_fleet(
    options: PlanOptions, env: Environment, connector: Connector
) -> tuple[Plan, tuple[Host, ...], Selection]:
    """Load, select, read every host and judge every session: the plan and its inputs."""
    inventory, hosts = load_fleet(options.fleet, env)
    selection = make_selection(options.select)
    now = env.clock()
    judged: dict[str, HostPlan] = {}

    def judge(r: HostReading) -> None:
        judged[r.host.name] = plan_host(
            r.host, r.status, r.sessions, error=r.error, raw=r.raw, selection=selection, now_utc=now
        )

    read_fleet(hosts, options.fleet, env, connector, on_reading=judge)
    plan = Plan(
        created=now,
        inventory_source=inventory.source,
        inventory_digest=inventory.digest,
        rules_source=selection.source,
        rules_digest=rules_digest(hosts, selection),
        limit=options.fleet.limit,
        rules_spec=select_spec(options.select),
        hosts=tuple(judged[h.name] for h in hosts),
    )
    return plan, hosts, selection


def run_plan(options: PlanOptions, env: Environment, connector: Connector) -> ExitStatus:
    plan, _, _ = plan_fleet(options, env, connector)
    if options.output:
        write_plan(plan, options.output)
    if options.format == "json":
        env.stdout.write(json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n")
    else:
        console = make_console(env.stdout, color=env.color)
        render_plan(console, plan, show_all=options.show_all)
        if options.output:
            console.print(f"Plan saved to {options.output}", markup=False)
    return plan_exit_status(plan, detailed=options.detailed_exitcode)


def plan_exit_status(plan: Plan, *, detailed: bool) -> ExitStatus:
    """Errors win over changes, as with terraform's -detailed-exitcode."""
    if plan.failed_hosts:
        return ExitStatus.ERROR
    if detailed and plan.target_count:
        return ExitStatus.CHANGES
    return ExitStatus.OK


def run_sessions(
    options: FleetOptions,
    output_format: Literal["table", "json", "csv"],
    env: Environment,
    connector: Connector,
) -> ExitStatus:
    """The fleet-wide quser."""
    _, hosts = load_fleet(options, env)
    readings = read_fleet(hosts, options, env, connector)
    if output_format == "json":
        env.stdout.write(json.dumps(sessions_documents(readings), indent=2, ensure_ascii=False))
        env.stdout.write("\n")
    elif output_format == "csv":
        write_sessions_csv(readings, env)
    else:
        render_sessions(make_console(env.stdout, color=env.color), readings)
    return ExitStatus.ERROR if any(r.status != "ok" for r in readings) else ExitStatus.OK


def sessions_documents(readings: Sequence[HostReading]) -> list[dict[str, object]]:
    return [
        {
            "host": r.host.name,
            "status": r.status,
            "error": r.error,
            "sessions": [session_document(s) for s in r.sessions],
        }
        for r in readings
    ]


_CSV_FIELDS = ("host", "id", "username", "session_name", "state", "idle_seconds", "logon_time")


def write_sessions_csv(readings: Sequence[HostReading], env: Environment) -> None:
    writer = csv.writer(env.stdout, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for r in readings:
        for s in r.sessions:
            doc = session_document(s)
            writer.writerow([r.host.name, *(doc[k] for k in _CSV_FIELDS[1:])])
