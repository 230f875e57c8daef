"""`fleetlogoff plan`: read every host, judge every session, print and save the plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fleetlogoff.app.export import write_plan_csv
from fleetlogoff.app.fleet import (
    FleetOptions,
    SelectOptions,
    load_fleet,
    make_selection,
    read_fleet,
    select_spec,
)
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.collect import HostReading
from fleetlogoff.env import Environment
from fleetlogoff.model import Host
from fleetlogoff.output_file import prepare_output
from fleetlogoff.plan_file import plan_document, plan_text, write_plan
from fleetlogoff.planner import HostPlan, Plan, Selection, plan_host, rules_digest
from fleetlogoff.transport import Connector
from fleetlogoff.ui import console_for
from fleetlogoff.ui.plan_view import render_plan
from fleetlogoff.visible import safe_json_text, visible

PlanFormat = Literal["table", "json", "csv"]


@dataclass(frozen=True)
class PlanOptions:
    fleet: FleetOptions
    select: SelectOptions = field(default_factory=SelectOptions)
    output: str | None = None
    format: PlanFormat = "table"
    detailed_exitcode: bool = False
    show_all: bool = False
    bom: bool = False  # CSV for Excel


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
            r.host,
            r.status,
            r.sessions,
            error=r.error,
            raw=r.raw,
            selection=selection,
            now_utc=now,
            facts=r.facts,
        )

    read_fleet(hosts, options.fleet, env, connector, on_reading=judge)
    plan = Plan(
        created=now,
        # Absolute, so `apply PLAN` works from any folder (a CI job's plan artifact).
        inventory_source=str(Path(inventory.source).absolute()),
        inventory_digest=inventory.digest,
        rules_source=selection.source,
        rules_digest=rules_digest(hosts, selection),
        limit=options.fleet.limit,
        rules_spec=select_spec(options.select),
        hosts=tuple(judged[h.name] for h in hosts),
    )
    return plan, hosts, selection


def run_plan(options: PlanOptions, env: Environment, connector: Connector) -> ExitStatus:
    if options.output:
        prepare_output(options.output)  # a bad -o path fails before the fleet is read
    plan, _, _ = plan_fleet(options, env, connector)
    # One text for the file and for stdout: a 1,000-host plan takes about 0.1 s to encode.
    wanted = options.output or options.format == "json"
    text = plan_text(plan_document(plan)) if wanted else None
    if options.output:
        write_plan(plan, options.output, text)
    show_all = options.show_all or options.fleet.verbose > 0
    print_plan(plan, options.format, env, show_all=show_all, bom=options.bom, text=text)
    if options.output and options.format == "table":
        line = f"Plan saved to {options.output}"
        if plan.target_count:
            line += f"; apply it with: fleetlogoff apply {options.output}"
        env.stdout.write(visible(line) + "\n")
    return plan_exit_status(plan, detailed=options.detailed_exitcode)


def print_plan(
    plan: Plan,
    output_format: PlanFormat,
    env: Environment,
    *,
    show_all: bool,
    bom: bool = False,
    text: str | None = None,
) -> None:
    """The plan on stdout: for people (table), or as JSON or CSV for tools. The JSON is
    the plan file's text (`text`: plan_text(plan_document(plan)), when the caller has it
    already), with safe_json's escapes for a screen."""
    if output_format == "json":
        env.stdout.write(safe_json_text(plan_text(plan_document(plan)) if text is None else text))
    elif output_format == "csv":
        write_plan_csv(plan, env.stdout, excel=bom)
    else:
        render_plan(console_for(env, "stdout"), plan, show_all=show_all)


def plan_exit_status(plan: Plan, *, detailed: bool) -> ExitStatus:
    """Errors win over changes, as with terraform's -detailed-exitcode."""
    if plan.failed_hosts:
        return ExitStatus.ERROR
    if detailed and plan.target_count:
        return ExitStatus.CHANGES
    return ExitStatus.OK
