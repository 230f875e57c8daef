"""Which plan `apply` acts on: a saved plan, checked against its inputs, or a fresh one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from fleetlogoff.app.fleet import (
    FleetOptions,
    SelectOptions,
    load_fleet,
    make_selection,
    select_from_spec,
)
from fleetlogoff.app.plan import PlanOptions, plan_fleet
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.input_file import read_bounded
from fleetlogoff.model import Host
from fleetlogoff.plan_file import PlanFileError, read_plan
from fleetlogoff.planner import Plan, Selection, rules_digest
from fleetlogoff.transport import Connector

DEFAULT_MAX_PLAN_AGE = timedelta(hours=1)
# How far in the future a plan may be dated: clocks of the planning and the applying
# machine disagree a little. 5 minutes, Kerberos' default maximum clock skew (krb5.conf
# clockskew = 300), which a Windows domain's machines already keep to.
MAX_CLOCK_SKEW = timedelta(minutes=5)


class RefusedError(Exception):
    """apply will not act; the message says why (exit code REFUSED)."""


@dataclass(frozen=True)
class PlanSource:
    """Where the plan comes from, and how old a saved one may be."""

    source: str  # a plan file, or an inventory to plan from
    fleet: FleetOptions
    select: SelectOptions = field(default_factory=SelectOptions)
    inventory: str | None = None  # for a plan file: the inventory to check it against
    max_plan_age: timedelta = DEFAULT_MAX_PLAN_AGE


def is_plan_file(path: str) -> bool:
    """A plan is JSON (starts with "{"); an inventory is YAML, or JSON, which read_plan
    tells apart by its shape (InventoryNotPlanError)."""
    try:
        return read_bounded(path, 64).lstrip().startswith(b"{")
    except OSError:
        return False


def check_source_exists(source: str) -> None:
    """A misspelled path says so, before anything else reads it."""
    if Path(source).exists():
        return
    if source.lower().endswith(".json"):
        raise UsageError(f"no such plan: {source}")
    raise UsageError(f"no such plan or inventory: {source}")


# A plan file as read: its plan, or why it is not one (read_plan's one-line error).
SavedPlan = Plan | PlanFileError


def load_saved_plan(
    options: PlanSource, env: Environment, saved: SavedPlan | None = None
) -> tuple[Plan, dict[str, Host], Selection]:
    """Read a plan (or take `saved`, the file read already) and refuse it when it is stale
    or no longer matches its inputs."""
    if options.select.rules_file or options.select.ad_hoc or options.fleet.limit:
        raise UsageError(
            "a saved plan carries its own rules and --limit: give them to `plan`, not `apply`"
        )
    if saved is None:
        try:
            saved = read_plan(options.source)
        except PlanFileError as exc:
            saved = exc
    if isinstance(saved, PlanFileError):
        raise RefusedError(f"invalid plan {saved}") from saved
    plan = saved
    _check_age(plan, options.max_plan_age, env)
    # The run's own flags (forks, timeout, vault, ...) with the plan's inventory and limit.
    fleet = replace(
        options.fleet, inventory=options.inventory or plan.inventory_source, limit=plan.limit
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


def _check_age(plan: Plan, max_age: timedelta, env: Environment) -> None:
    """A plan too old to trust, or dated in the future (a clock is wrong: its age proves
    nothing) is refused."""
    age = env.clock() - plan.created
    if -age > MAX_CLOCK_SKEW:
        raise RefusedError(
            f"plan is dated {int(-age.total_seconds() // 60)} min in the future "
            f"({plan.created.isoformat(timespec='seconds')}): a clock is wrong; make a new plan"
        )
    if age > max_age:
        raise RefusedError(
            f"plan is {int(age.total_seconds() // 60)} min old (--max-plan-age allows "
            f"{int(max_age.total_seconds() // 60)} min): make a new plan"
        )


def make_fresh_plan(
    options: PlanSource, env: Environment, connector: Connector
) -> tuple[Plan, dict[str, Host], Selection]:
    """Plan now from the inventory (apply INVENTORY), as `plan` would."""
    plan, hosts, selection = plan_fleet(
        PlanOptions(fleet=options.fleet, select=options.select), env, connector
    )
    return plan, {h.name: h for h in hosts}, selection
