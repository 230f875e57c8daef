"""`fleetlogoff demo`: the main job, end to end, against an embedded lab fleet.

Starts simulated RDS hosts that speak real WinRM on loopback, writes their inventory and
a rules file, makes a plan, then applies it with a short warning and shows the recap.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from fleetlogoff.app.apply import ApplyOptions, run_apply
from fleetlogoff.app.fleet import FleetOptions, SelectOptions
from fleetlogoff.app.plan import PlanOptions, run_plan
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.executor import ApplySettings
from fleetlogoff.lab.fleet import start_fleet
from fleetlogoff.lab.inventory_out import write_inventory
from fleetlogoff.lab.population import build_fleet
from fleetlogoff.transport.winrm import WinRMConnector

DEMO_RULES = """\
# Log off sessions left disconnected for an hour, and active sessions idle for 8 hours.
- name: stale-disconnected
  states: [disconnected]
  idle: ">= 1h"
- name: forgotten-active
  states: [active]
  idle: ">= 8h"
"""
DEMO_SEED = 7
DEMO_WARN = timedelta(seconds=5)


def run_demo(host_count: int, env: Environment) -> ExitStatus:
    """Plan and apply against `host_count` lab hosts; files go to a temporary folder."""
    work = Path(tempfile.mkdtemp(prefix="fleetlogoff-demo-"))
    hosts = build_fleet(host_count, DEMO_SEED)
    say = env.stdout.write
    say(f"Starting a lab fleet of {host_count} simulated RDS hosts (WinRM on loopback)...\n")
    with start_fleet(hosts, https=False, work_dir=work) as fleet:
        inventory = work / "inventory.yml"
        write_inventory(inventory, hosts, fleet.endpoints)
        rules = work / "rules.yml"
        rules.write_text(DEMO_RULES, encoding="utf-8")
        plan_path = work / "plan.json"
        fleet_options = FleetOptions(inventory=str(inventory))
        select = SelectOptions(rules_file=str(rules))
        say(f"\n$ fleetlogoff plan {inventory} --rules {rules} -o {plan_path}\n")
        status = run_plan(
            PlanOptions(fleet=fleet_options, select=select, output=str(plan_path)),
            env,
            WinRMConnector(),
        )
        if status != ExitStatus.OK:
            return status
        say(f"\n$ fleetlogoff apply {plan_path} --warn 5s --yes\n")
        status = run_apply(
            ApplyOptions(
                source=str(plan_path),
                fleet=fleet_options,
                settings=ApplySettings(warn=DEMO_WARN, confirm_pause_s=0.2),
                yes=True,
                audit_log=str(work / "audit.jsonl"),
                report=str(work / "report.json"),
            ),
            env,
            WinRMConnector(),
        )
    say(f"\nFiles of this demo (inventory, rules, plan, audit log, report): {work}\n")
    return status
