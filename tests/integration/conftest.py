"""A lab fleet in this process, its inventory on disk, and the CLI run in-process.

Everything goes through real pypsrp over real loopback HTTP with NTLM and message
encryption, the production default. The lab's hosts and the tool share one steady clock
(tests/cliutil.py): a fixed calendar day, whatever day the tests run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.inventory_out import write_inventory
from fleetlogoff.lab.locales import SessionState
from fleetlogoff.lab.sessions import Session
from tests.cliutil import CLOCK


def sim_host(name: str, **kwargs: Any) -> SimHost:
    """A lab host on the tests' steady clock."""
    return SimHost(name, clock=CLOCK.epoch, **kwargs)


def disconnected(session_id: int, user: str, idle_h: float, logon_h: float = 30) -> Session:
    now = CLOCK.epoch()
    return Session(
        id=session_id,
        name="",
        user=user,
        state=SessionState.DISCONNECTED,
        logon_time=now - logon_h * 3600,
        last_input=now - idle_h * 3600,
    )


def active(session_id: int, user: str, idle_min: float, logon_h: float = 3) -> Session:
    now = CLOCK.epoch()
    return Session(
        id=session_id,
        name=f"RDP-Tcp#{session_id + 10}",
        user=user,
        state=SessionState.ACTIVE,
        logon_time=now - logon_h * 3600,
        last_input=now - idle_min * 60,
    )


def services_and_console() -> list[Session]:
    return [
        Session(id=0, name="Services", state=SessionState.DISCONNECTED),
        Session(id=1, name="Console", state=SessionState.CONNECTED),
    ]


@contextmanager
def lab(
    hosts: Sequence[SimHost],
    tmp_path: Path,
    extra_vars: dict[str, Any] | None = None,
    seed: int = 0,
) -> Iterator[tuple[RunningFleet, Path]]:
    with start_fleet(list(hosts), https=False, work_dir=tmp_path, seed=seed) as fleet:
        inventory = tmp_path / "inventory.yml"
        write_inventory(inventory, list(hosts), fleet.endpoints)
        if extra_vars:
            data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
            data["all"]["vars"] = extra_vars
            inventory.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        yield fleet, inventory
