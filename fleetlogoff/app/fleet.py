"""What every fleet command shares: which hosts (inventory, --limit, credentials), which
sessions (rules file, ad-hoc flags or the inventory's rules), and reading them all."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fleetlogoff.auth_guard import DEFAULT_LIMIT as DEFAULT_AUTH_FAILURE_LIMIT
from fleetlogoff.collect import CollectOptions, HostReading, gather, start_reading
from fleetlogoff.concurrency import DEFAULT_FORKS
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.inventory import Inventory
from fleetlogoff.inventory_files import load_inventory_file
from fleetlogoff.model import Host
from fleetlogoff.planner import Selection
from fleetlogoff.rules import load_rules_file, rule_from_cli
from fleetlogoff.transport import Connector
from fleetlogoff.ui import make_console
from fleetlogoff.ui.progress import HostProgress


@dataclass(frozen=True)
class FleetOptions:
    """Which hosts, and how to reach them."""

    inventory: str
    limit: str | None = None
    forks: int = DEFAULT_FORKS
    timeout: float = 30.0
    ask_pass: bool = False
    quiet: bool = False
    processes: int = 1
    auth_failure_limit: int = DEFAULT_AUTH_FAILURE_LIMIT


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
        forks=options.forks,
        deadline_s=options.timeout,
        processes=options.processes,
        auth_failure_limit=options.auth_failure_limit,
    )
    readings = start_reading(hosts, connector, collect)  # workers start before any thread
    with HostProgress(console, len(hosts), "Reading sessions", quiet=options.quiet) as progress:
        return gather(readings, hosts, on_done=done)
