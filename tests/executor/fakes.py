"""The executor on its own: lab hosts without a network, a fake clock, a stop signal that
moves the clock instead of sleeping, and faults injected command by command.

`FakeConnector` hands the executor sessions that run command lines on a lab `SimHost`
directly (its cmd.exe, quser, msg and logoff), with the same fake clock as the executor,
so every phase runs in microseconds and in the same order every time.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetlogoff.collect import CollectOptions, collect_host
from fleetlogoff.errors import TransportError
from fleetlogoff.events import OUTCOMES, Event, Kind
from fleetlogoff.executor import ApplySettings, Executor, RunResult, Work
from fleetlogoff.executor.workers import Launch, launch_threads
from fleetlogoff.guard_script import encode_text, guard_command_line
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.inventory.settings import host_codepage
from fleetlogoff.lab.contract import CommandRequest
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.locales import SessionState
from fleetlogoff.lab.sessions import Session as LabSession
from fleetlogoff.model import Host
from fleetlogoff.planner import Plan, Selection, plan_host
from fleetlogoff.rules import rule_from_cli
from fleetlogoff.transport import CommandOutput

START = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)


@dataclass
class Mode:
    """How the suite runs the executor's hosts: 0 on threads of the executor's process,
    N in N workers (the worker-process protocol, with the workers on threads so that they
    share the fake hosts and clock)."""

    workers: int = 0


MODE = Mode()
STALE = Selection((rule_from_cli(states=("disconnected",), idle=">= 2h"),), "command-line")


class FakeTime:
    """A clock that moves only when the code under test sleeps or waits."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self._lock = threading.Lock()

    def clock(self) -> datetime:
        with self._lock:
            return self.now

    def epoch(self) -> float:
        return self.clock().timestamp()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)

    sleep = advance


class SharedFakeTime(FakeTime):
    """A FakeTime in shared memory: worker processes forked from the test keep to it."""

    def __init__(self, start: datetime = START) -> None:
        self._epoch = multiprocessing.get_context("fork").Value("d", start.timestamp())

    def clock(self) -> datetime:
        return datetime.fromtimestamp(self._epoch.value, UTC)

    def advance(self, seconds: float) -> None:
        with self._epoch.get_lock():
            self._epoch.value += seconds

    sleep = advance


class FakeStop(threading.Event):
    """The executor's stop signal: waiting on it moves the fake clock instead of sleeping.

    `when` is asked at every wait and every `is_set`: a test sets the stop at an exact
    point of the run (e.g. once the first logoff was sent).
    """

    def __init__(self, time: FakeTime, when: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self._time = time
        self._when = when

    def is_set(self) -> bool:
        if not super().is_set() and self._when():
            self.set()
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        self._time.advance(timeout or 0.0)
        return self.is_set()


Effect = Callable[[], CommandOutput | None]


@dataclass
class Fault:
    """A fault on the n-th matching command of a host (1-based; 0 means every one).

    Attributes:
        host: host name.
        command: the command's first word ("quser", "msg", "logoff") or "open".
        nth: which occurrence, 0 for all of them.
        kind: TransportError kind to raise ("reset", "unreachable", ...); None to answer
            with `output` instead.
        after: the command runs on the host, then its answer is lost (raised).
        output: a canned answer (e.g. an msg error), the command not run.
        error: any exception to raise instead (a bug).
        delay_s: the command takes this long on the host (then runs, or fails as above).
        effect: called as the fault fires, before it raises (e.g. a worker dying).
    """

    host: str
    command: str
    nth: int = 1
    kind: str | None = "reset"
    after: bool = False
    output: CommandOutput | None = None
    error: Exception | None = None
    delay_s: float = 0.0
    effect: Callable[[], None] | None = None
    seen: int = field(default=0, init=False)

    @property
    def runs_anyway(self) -> bool:
        """Only a delay or an effect: the command then runs as usual."""
        return self.kind is None and self.output is None and self.error is None

    def hits(self, host: str, command: str) -> bool:
        if host != self.host or command != self.command:
            return False
        self.seen += 1
        return self.nth == 0 or self.seen == self.nth

    def fire(self, host: str) -> CommandOutput:
        if self.effect is not None:
            self.effect()
        if self.error is not None:
            raise self.error
        if self.kind is not None:
            raise TransportError(host, self.kind, f"injected {self.kind}")
        assert self.output is not None
        return self.output


class FakeSession:
    """A host session running command lines on a SimHost, no network involved."""

    def __init__(self, connector: FakeConnector, host: Host) -> None:
        self._connector = connector
        self._host = host
        self.closed = False

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        assert not self.closed, "a closed session was used"
        # Logoffs and messages go through the guard (one PowerShell command for the host's
        # targets): faults on "logoff" / "msg" count its act lines. A canned answer fails
        # that one act (the host never sees it); any other fault hits the whole command.
        guarded = command_line == guard_command_line()
        payload = stdin or b""
        canned: dict[bytes, CommandOutput] = {}
        fault = None
        if guarded:
            acts = re.findall(rb"^(target|message) (\d+) .*$", payload, re.MULTILINE)
            command = "msg" if acts and acts[0][0] == b"message" else "logoff"
            for _, session_id in acts:
                found = self._connector.fault_for(self._host.name, command)
                if found is not None and found.output is not None and not found.after:
                    canned[session_id] = found.output
                elif found is not None and fault is None:
                    fault = found
            payload = _without_acts(payload, set(canned))
        else:
            command = command_line.split(" ", 1)[0]
            fault = self._connector.fault_for(self._host.name, command)
        if fault is not None and fault.runs_anyway:
            if fault.effect is not None:
                fault.effect()
            self._connector.time.advance(fault.delay_s)
            fault = None
        elif fault is not None and fault.delay_s:
            self._connector.time.advance(fault.delay_s)
        if fault is not None and not fault.after:
            return fault.fire(self._host.name)
        sim = self._connector.hosts[self._host.name]
        request = CommandRequest(command_line, host_codepage(self._host), "Administrator", payload)
        result = sim.run(request)
        if guarded:  # counted as the acts it asks the host for (one per line)
            self._connector.commands[self._host.name].extend(f"{command} {int(i)}" for _, i in acts)
        else:
            self._connector.commands[self._host.name].append(command_line)
        if result.hang:
            self._connector.time.advance(timeout)
            raise TransportError(self._host.name, "timeout", "command did not finish in time")
        self._connector.time.advance(result.delay_s)
        if fault is not None:
            return fault.fire(self._host.name)
        stdout = result.stdout + b"".join(_failed_act(i, o) for i, o in canned.items())
        return CommandOutput(stdout, result.stderr, result.exit_code)

    def close(self) -> None:
        self.closed = True


def _without_acts(payload: bytes, session_ids: set[bytes]) -> bytes:
    """The guard's input without the act lines of these ids (its end count adjusted)."""
    if not session_ids:
        return payload
    kept = [
        line
        for line in payload.split(b"\r\n")
        if not re.match(rb"^(target|message) (\d+) ", line)
        or re.match(rb"^\w+ (\d+) ", line).group(1) not in session_ids  # type: ignore[union-attr]
    ]
    acts = sum(1 for line in kept if re.match(rb"^(target|message) ", line))
    return b"\r\n".join(re.sub(rb"^end \d+$", b"end %d" % acts, line) for line in kept)


def _failed_act(session_id: bytes, output: CommandOutput) -> bytes:
    """The guard's answer for an act whose program printed `output` and failed."""
    text = encode_text((output.stdout + b"\n" + output.stderr).decode("utf-8", "replace"))
    code = output.exit_code if output.exit_code is not None else 1
    return b"fleetlogoff-guard %s failed %d %s\r\n" % (session_id, code, text.encode())


class FakeConnector:
    """Opens FakeSessions; counts what was run; applies the injected faults."""

    def __init__(self, hosts: Sequence[SimHost], time: FakeTime, faults: Sequence[Fault] = ()):
        self.hosts = {h.name: h for h in hosts}
        self.time = time
        self.faults = list(faults)
        self.commands: dict[str, list[str]] = {h.name: [] for h in hosts}
        self.opened: Counter[str] = Counter()
        self._lock = threading.Lock()

    def fault_for(self, host: str, command: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.hits(host, command):
                    return fault
        return None

    def open(self, host: Host, *, deadline_s: float) -> FakeSession:
        assert deadline_s > 0, "opened past the host's deadline"
        fault = self.fault_for(host.name, "open")
        if fault is not None:
            fault.fire(host.name)
        with self._lock:
            self.opened[host.name] += 1
        return FakeSession(self, host)


def stale(session_id: int, user: str, time: FakeTime, idle_h: float = 5) -> LabSession:
    now = time.epoch()
    return LabSession(
        session_id, "", user, SessionState.DISCONNECTED, now - 30 * 3600, now - idle_h * 3600
    )


def busy(session_id: int, user: str, time: FakeTime) -> LabSession:
    now = time.epoch()
    return LabSession(
        session_id, f"RDP-Tcp#{session_id}", user, SessionState.ACTIVE, now - 3 * 3600, now - 60
    )


def lab_host(name: str, time: FakeTime, *sessions: LabSession, **kwargs: Any) -> SimHost:
    return SimHost(name, sessions=list(sessions), clock=time.epoch, utc_offset_minutes=0, **kwargs)


def inventory_hosts(names: Sequence[str], host_vars: str = "") -> list[Host]:
    """Inventory hosts for lab hosts (en-US: month first, as the lab prints it)."""
    lines = ["all:", "  vars: {fleetlogoff_date_order: mdy}", "  hosts:"]
    # One address each, as real hosts have (entries naming one endpoint take turns).
    lines += [
        f"    {name}: {{ansible_host: 127.0.0.{n + 1}{host_vars}}}" for n, name in enumerate(names)
    ]
    env = {"FLEETLOGOFF_USERNAME": "Administrator"}
    return list(parse_inventory("\n".join(lines) + "\n", "inv.yml", env=env).hosts)


@dataclass
class Run:
    """One executor run over lab hosts, and what came out of it."""

    sims: list[SimHost]
    time: FakeTime
    settings: ApplySettings = field(default_factory=lambda: ApplySettings(forks=1))
    faults: list[Fault] = field(default_factory=list)
    stop_when: Callable[[Run], bool] = lambda run: False
    host_vars: str = ""
    emit_hook: Callable[[Event], None] | None = None
    events: list[Event] = field(default_factory=list)
    plan: Plan | None = None
    result: RunResult | None = None
    workers: int | None = None  # None: the suite's mode (conftest.py), 0: in-process threads
    launch: Launch = launch_threads
    workers_started: list[int] = field(default_factory=list)  # workers started (0: none)

    def __post_init__(self) -> None:
        self.connector = FakeConnector(self.sims, self.time, self.faults)
        self.hosts = inventory_hosts([s.name for s in self.sims], self.host_vars)
        self.stop = FakeStop(self.time, lambda: self.stop_when(self))

    def make_plan(self, selection: Selection = STALE) -> Plan:
        """Read every host through the fake connector and plan, as `plan` would."""
        clean = FakeConnector(self.sims, self.time)  # planning itself sees no fault
        readings = [collect_host(h, clean, CollectOptions()) for h in self.hosts]
        plans = tuple(
            plan_host(
                r.host,
                r.status,
                r.sessions,
                error=r.error,
                raw=r.raw,
                selection=selection,
                now_utc=self.time.clock(),
            )
            for r in readings
        )
        self.plan = Plan(self.time.clock(), "inv.yml", "d", "command-line", "r", None, plans)
        return self.plan

    def execute(self, selection: Selection = STALE) -> Run:
        plan = self.plan or self.make_plan(selection)
        by_name = {h.name: h for h in self.hosts}
        work = [Work(by_name[h.name], h) for h in plan.hosts if h.targets]
        lock = threading.Lock()

        def emit(event: Event) -> None:
            with lock:
                self.events.append(event)
            if self.emit_hook is not None:
                self.emit_hook(event)

        executor = Executor(
            work,
            selection=selection,
            connector=self.connector,
            settings=self.settings,
            emit=emit,
            clock=self.time.clock,
            stop=self.stop,
            sleep=self.time.sleep,
        )
        workers = MODE.workers if self.workers is None else self.workers
        if workers:
            self.workers_started.append(executor.start_workers(self.launch, count=workers))
        self.result = executor.run()
        return self

    # -- what happened ----------------------------------------------------------------

    def kinds(self, host: str | None = None) -> list[Kind]:
        return [e.kind for e in self.events if host is None or e.host == host]

    def of(self, kind: Kind) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def outcomes(self) -> dict[tuple[str, int], Kind]:
        """Each target's outcome; fails if any target has none or more than one."""
        assert self.plan is not None
        found: dict[tuple[str, int], list[Kind]] = {}
        for event in self.events:
            if event.kind in OUTCOMES:
                assert event.host is not None and event.session_id is not None
                found.setdefault((event.host, event.session_id), []).append(event.kind)
        planned = {(h.name, t.session.id) for h in self.plan.hosts for t in h.targets}
        assert set(found) == planned, (set(found) ^ planned, self.kinds())
        assert all(len(k) == 1 for k in found.values()), found
        return {key: kinds[0] for key, kinds in found.items()}

    def messages(self, host: str) -> list[dict[str, Any]]:
        return list(self.connector.hosts[host].state()["messages"])

    def logoffs(self, host: str) -> list[dict[str, Any]]:
        return [lo for lo in self.connector.hosts[host].state()["logoffs"] if lo["by"] == "logoff"]


def assert_warned_before_every_logoff(run: Run) -> None:
    """No session was logged off without a message to that same session and user that
    came at least --warn before (the lab's own records, not the tool's)."""
    warn = run.settings.warn.total_seconds()
    for name, sim in run.connector.hosts.items():
        state = sim.state()
        for logoff in (lo for lo in state["logoffs"] if lo["by"] == "logoff"):
            told = [
                m
                for m in state["messages"]
                if m["session_id"] == logoff["session_id"] and m["user"] == logoff["user"]
            ]
            if warn > 0:
                assert told, f"{name}: {logoff['user']} logged off without a warning"
                assert logoff["time"] - told[0]["time"] >= warn, (name, logoff, told)
