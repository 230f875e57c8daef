"""`fleetlogoff show PLAN.json`: a saved plan, printed the way `plan` printed it, without
reading any host."""

from __future__ import annotations

from fleetlogoff.app.plan import PlanFormat, plan_exit_status, print_plan
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.plan_file import PlanFileError, read_plan


def run_show(
    path: str,
    output_format: PlanFormat,
    env: Environment,
    *,
    show_all: bool = False,
    bom: bool = False,
    detailed_exitcode: bool = False,
) -> ExitStatus:
    """Read, validate and print a plan; the exit code is the one `plan` gave it.

    Raises:
        UsageError: no such plan, or a file that is not one (exit 64, the README's "bad
            input file; no such plan"; only `apply` refuses a plan, with 4).
    """
    try:
        plan = read_plan(path)
    except PlanFileError as exc:
        raise UsageError(str(exc)) from None
    print_plan(plan, output_format, env, show_all=show_all, bom=bom)
    return plan_exit_status(plan, detailed=detailed_exitcode)
