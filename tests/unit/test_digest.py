"""Digests are the same in every process: the rules digest is taken of a canonical form,
never of repr() (a frozenset's repr follows the process's string hash seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from fleetlogoff.durations import parse_comparison
from fleetlogoff.model import SessionState
from fleetlogoff.planner import canonical_form
from fleetlogoff.rules import Rule

SCRIPT = """
import json
from fleetlogoff.app.fleet import SelectOptions, make_selection
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.planner import rules_digest
INVENTORY = '''
all:
  vars:
    fleetlogoff_rules:
      - {name: stale, states: [disc, active, idle, conn, down], idle: ">= 2h"}
    fleetlogoff_protected_users: [svc_backup, "CORP\\\\\\\\admin"]
  hosts:
    rds01:
    rds02: {fleetlogoff_rules: [{name: other, states: [active, disc, listen]}]}
'''
hosts = parse_inventory(INVENTORY, "inv.yml", env={"FLEETLOGOFF_USERNAME": "svc"}).hosts
from_inventory = make_selection(SelectOptions())
ad_hoc = make_selection(SelectOptions(states=("disc", "active", "idle", "conn"), idle=">= 1h"))
rule = ad_hoc.override[0]
print(json.dumps({
    "inventory": rules_digest(hosts, from_inventory),
    "ad_hoc": rules_digest(hosts, ad_hoc),
    "repr": repr(rule.states),
}))
"""


def _digests(seed: int) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**os.environ, "PYTHONHASHSEED": str(seed)},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_the_rules_digest_is_the_same_under_every_hash_seed() -> None:
    runs = [_digests(seed) for seed in range(8)]
    assert len({r["inventory"] for r in runs}) == 1
    assert len({r["ad_hoc"] for r in runs}) == 1
    # The test can see the old fault: repr() of the same frozenset differs between seeds.
    assert len({r["repr"] for r in runs}) > 1


def test_canonical_form_sorts_sets_and_names_types() -> None:
    rule = Rule(
        "r",
        states=frozenset({SessionState.IDLE, SessionState.ACTIVE, SessionState.DISCONNECTED}),
        idle=parse_comparison(">= 2h"),
    )
    form = canonical_form((rule,))
    assert isinstance(form, list)
    described = form[0]
    assert described["type"] == "Rule"
    assert described["states"] == ["active", "disconnected", "idle"]
    assert described["idle"] == {"type": "Comparison", "operator": ">=", "seconds": 7200}
    assert canonical_form({"b": timedelta(minutes=1), "a": 1.5}) == {"a": "1.5", "b": 60.0}


def test_canonical_form_refuses_what_it_cannot_describe() -> None:
    with pytest.raises(TypeError, match="object"):
        canonical_form(object())
