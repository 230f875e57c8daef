"""What every fleet command shares: which hosts (inventory, --limit, credentials), which
sessions (rules file, ad-hoc flags or the inventory's rules), and reading them all."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fleetlogoff.auth_guard import DEFAULT_LIMIT as DEFAULT_AUTH_FAILURE_LIMIT
from fleetlogoff.collect import CollectOptions, HostReading, gather, start_reading
from fleetlogoff.concurrency import DEFAULT_FORKS
from fleetlogoff.env import Environment
from fleetlogoff.errors import UsageError
from fleetlogoff.inventory import Inventory
from fleetlogoff.inventory.files import expand_limit, load_inventory, split_sources
from fleetlogoff.inventory.vault_secrets import VaultOptions, load_keyring
from fleetlogoff.model import Host
from fleetlogoff.planner import Selection
from fleetlogoff.rules import load_rules_file, rule_from_cli
from fleetlogoff.transport import Connector, kerberos
from fleetlogoff.ui import console_for
from fleetlogoff.ui.progress import HostProgress


@dataclass(frozen=True)
class FleetOptions:
    """Which hosts, and how to reach them.

    Attributes:
        inventory: the inventory source, or several as files.join_sources names them.
    """

    inventory: str
    limit: str | None = None
    forks: int = DEFAULT_FORKS
    timeout: float = 30.0
    ask_pass: bool = False
    quiet: bool = False
    processes: int = 1
    verbose: int = 0  # -v count: how much the views show (cli/helptext.VERBOSITY)
    vault: VaultOptions = VaultOptions()
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
    """Load the inventory with its credentials and vault passwords, and apply --limit."""
    password = None
    if options.ask_pass:
        password = env.ask_password("WinRM password: ")
    keyring = load_keyring(options.vault, env.environ, env.ask_password)
    inventory = load_inventory(
        split_sources(options.inventory), env=env.environ, password=password, keyring=keyring
    )
    return inventory, kerberos.with_cache_principal(inventory.select(expand_limit(options.limit)))


def select_spec(options: SelectOptions) -> dict[str, object]:
    """The selection as the plan file keeps it."""
    rules_file = str(Path(options.rules_file).absolute()) if options.rules_file else None
    return {
        "rules_file": rules_file,  # absolute: apply finds it from any folder
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

    console = console_for(env, "stderr")
    collect = CollectOptions(
        forks=options.forks,
        deadline_s=options.timeout,
        processes=options.processes,
        auth_failure_limit=options.auth_failure_limit,
    )
    readings = start_reading(hosts, connector, collect)  # workers start before any thread
    with HostProgress(console, len(hosts), "Reading sessions", quiet=options.quiet) as progress:
        return gather(readings, hosts, on_done=done)
