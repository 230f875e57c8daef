"""`fleetlogoff show PLAN.json`: a saved plan, printed the way `plan` printed it, without
reading any host."""

from __future__ import annotations

from fleetlogoff.app.plan import PlanFormat, plan_exit_status, print_plan
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.plan_file import read_plan


def run_show(
    path: str,
    output_format: PlanFormat,
    env: Environment,
    *,
    show_all: bool = False,
    bom: bool = False,
    detailed_exitcode: bool = False,
) -> ExitStatus:
    """Read, validate and print a plan; the exit code is the one `plan` gave it."""
    plan = read_plan(path)
    print_plan(plan, output_format, env, show_all=show_all, bom=bom)
    return plan_exit_status(plan, detailed=detailed_exitcode)
