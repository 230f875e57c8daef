"""Read every host's sessions in parallel: one connection per host, a per-host deadline,
bounded retries for transient transport errors. A host's failure never aborts the run."""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields, replace
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Literal

from fleetlogoff.auth_guard import DEFAULT_LIMIT, AuthFailureGuard, Outcome
from fleetlogoff.concurrency import DEFAULT_FORKS, PER_HOST, endpoint_limits, endpoint_of, fit_forks
from fleetlogoff.errors import HostCommandError, ParseError, TransportError
from fleetlogoff.hostread import HostRead, read_host
from fleetlogoff.inventory.settings import UTF8_CODEPAGE, host_codepage
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers import decode_output
from fleetlogoff.parsers.facts import HostFacts
from fleetlogoff.transport import CommandOutput, Connector, HostSession

log = logging.getLogger(__name__)

HostStatus = Literal["ok", "unreachable", "auth_failed", "error"]

# Transport failures worth another attempt: the host answered before, or may answer now.
_TRANSIENT_KINDS = frozenset({"reset", "protocol", "timeout"})
QUSER = "quser"


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """How hard to try each host.

    Attributes:
        forks: hosts worked on at once.
        deadline_s: seconds one host may take in total, retries included.
        retries: extra attempts after a transient transport error.
        retry_pause_s: pause before a retry.
        processes: worker processes sharing the hosts (and the forks). pypsrp is pure
            Python and CPU-bound per host, so one process is held to one core by the GIL.
        auth_failure_limit: rejections of one set of credentials, with no success,
            after which no further host is started with them (0: no limit); see
            auth_guard.py.
        per_host: hosts read at once on one endpoint (address and port), when the
            inventory names it more than once; see concurrency.py.
    """

    forks: int = DEFAULT_FORKS
    deadline_s: float = 30.0
    retries: int = 2
    retry_pause_s: float = 0.5
    processes: int = 1
    auth_failure_limit: int = DEFAULT_LIMIT
    per_host: int = PER_HOST


@dataclass(frozen=True, slots=True)
class HostReading:
    """What one host said about its sessions, or why it said nothing.

    Attributes:
        host: the inventory host.
        status: ok, unreachable, auth_failed or error.
        error: one-line cause when status is not ok.
        sessions: parsed sessions (empty unless ok).
        raw: the host's raw output (kept for unparseable output and for the plan file).
        attempts: how many connections were tried.
        facts: how the host prints dates and where its clock stands (when read).
    """

    host: Host
    status: HostStatus
    error: str | None = None
    sessions: tuple[Session, ...] = ()
    raw: str = ""
    attempts: int = 1
    facts: HostFacts | None = None


def encode_for(host: Host, text: str) -> bytes:
    """Text for the host's stdin, in its shell's code page (unencodable characters become
    '?', as Windows itself would print them)."""
    codepage = host_codepage(host)
    codec = "utf-8" if codepage == UTF8_CODEPAGE else f"cp{codepage}"
    try:
        return text.encode(codec, errors="replace")
    except LookupError:
        return text.encode("utf-8")


def output_text(output: CommandOutput, codepage: int = UTF8_CODEPAGE) -> str:
    """The text to parse: quser writes its table to stdout but `No User exists for *` and
    errors to stderr (corpus FORMATS.md §1.6), and its exit code means nothing."""
    stdout = decode_output(output.stdout, codepage)
    if stdout.strip():
        return stdout
    return decode_output(output.stderr, codepage)


def read_sessions(
    session: HostSession, host: Host, timeout: float, known: HostFacts | None = None
) -> tuple[list[Session], str]:
    """Read a host's sessions on an open session (see probe.read_host).

    Args:
        session: the open connection.
        host: the inventory host.
        timeout: seconds per command.
        known: the facts a plan recorded for this host: its dates are read exactly as
            they were then, and a host whose format changed is refused.
    """
    read = read_host(_Runner(session, host, timeout), host, known)
    return list(read.sessions), read.text


class _Runner:
    """Runs one command on an open session and returns its text (stdout, else stderr)."""

    def __init__(self, session: HostSession, host: Host, timeout: float) -> None:
        self._session = session
        self._codepage = host_codepage(host)
        self._timeout = timeout

    def __call__(self, command_line: str) -> str:
        return output_text(self._session.run(command_line, timeout=self._timeout), self._codepage)


def collect_host(
    host: Host,
    connector: Connector,
    options: CollectOptions,
    guard: AuthFailureGuard | None = None,
) -> HostReading:
    """Read one host, retrying transient transport errors within its deadline.

    With a guard, the host starts only when its credentials may be tried; otherwise its
    reading says it was not started, and why (attempts 0).
    """
    if guard is None:
        return _read_with_retries(host, connector, options)[0]
    refusal = guard.enter(host)
    if refusal is not None:
        return HostReading(host, "error", refusal, attempts=0)
    outcome = Outcome.UNKNOWN
    try:
        reading, outcome = _read_with_retries(host, _Proving(connector, guard), options)
        return reading
    finally:
        guard.leave(host, outcome)


def _read_with_retries(
    host: Host, connector: Connector, options: CollectOptions
) -> tuple[HostReading, Outcome]:
    deadline = time.monotonic() + options.deadline_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return _collect_once(host, connector, deadline, attempt), Outcome.PROVEN
        except TransportError as exc:
            remaining = deadline - time.monotonic()
            if (
                exc.kind not in _TRANSIENT_KINDS
                or attempt > options.retries
                or remaining <= options.retry_pause_s
            ):
                outcome = Outcome.REJECTED if exc.kind == "auth_failed" else Outcome.UNKNOWN
                status = _status_of(exc.kind)
                return HostReading(host, status, exc.reason, attempts=attempt), outcome
            log.info("%s: %s, retrying (%d)", host.name, exc.reason, attempt)
            time.sleep(options.retry_pause_s)


class _Proving:
    """A connector that tells the guard as soon as a host accepted the credentials (its
    session opened), so that the hosts waiting on them start without waiting for the
    command."""

    def __init__(self, inner: Connector, guard: AuthFailureGuard) -> None:
        self._inner = inner
        self._guard = guard

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        session = self._inner.open(host, deadline_s=deadline_s)
        self._guard.prove(host)
        return session


def _collect_once(host: Host, connector: Connector, deadline: float, attempt: int) -> HostReading:
    session = connector.open(host, deadline_s=deadline - time.monotonic())
    try:
        read: HostRead = read_host(_Runner(session, host, deadline - time.monotonic()), host)
    except ParseError as exc:
        return HostReading(host, "error", str(exc), raw=exc.raw, attempts=attempt)
    except HostCommandError as exc:
        return HostReading(host, "error", str(exc), attempts=attempt)
    finally:
        session.close()
    return HostReading(
        host, "ok", sessions=read.sessions, raw=read.text, attempts=attempt, facts=read.facts
    )


def _status_of(kind: str) -> HostStatus:
    if kind in ("auth_failed", "auth_unsupported", "access_denied"):
        return "auth_failed"
    if kind in ("unreachable", "timeout", "tls"):
        return "unreachable"
    return "error"


def start_reading(
    hosts: Sequence[Host], connector: Connector, options: CollectOptions
) -> Iterator[HostReading]:
    """Start reading every host; readings come out as hosts finish.

    Worker processes, when the fleet is large enough for them, start right here: call
    this before starting threads of your own (a progress display), so that they can be
    forked from a single-threaded process instead of spawned.
    """
    if processes_for(len(hosts), options.processes) > 1:
        workers, results, guard = _start_workers(hosts, connector, options)
        return _announce_stops(_drain(hosts, workers, results, guard), guard)
    guard = AuthFailureGuard(hosts, options.auth_failure_limit)
    readings = iterate_fleet(hosts, lambda h: collect_host(h, connector, options, guard), options)
    return _announce_stops(readings, guard)


def _announce_stops(
    readings: Iterator[HostReading], guard: AuthFailureGuard
) -> Iterator[HostReading]:
    """Say once per set of credentials that the guard stopped starting hosts with them."""
    told: set[str] = set()
    for reading in readings:
        if reading.attempts == 0 and guard.is_refusal(reading.error):
            line = guard.announcement(reading.host)
            if line not in told:
                told.add(line)
                log.warning("%s", line)
        yield reading


def gather(
    readings: Iterator[HostReading],
    hosts: Sequence[Host],
    on_done: Callable[[HostReading], None] | None = None,
) -> list[HostReading]:
    """Consume readings as they come (telling `on_done`); return them in inventory order."""
    results: dict[str, HostReading] = {}
    for reading in readings:
        results[reading.host.name] = reading
        if on_done is not None:
            on_done(reading)
    return [results[h.name] for h in hosts]


def iterate_fleet(
    hosts: Sequence[Host],
    work: Callable[[Host], HostReading],
    options: CollectOptions,
) -> Iterator[HostReading]:
    """Run `work` for each host on a thread pool, yielding results as they complete.

    An unexpected exception in one host's work becomes that host's error: one bad host
    never takes the run down with it.
    """
    if not hosts:
        return
    limits = endpoint_limits(hosts, options.per_host)
    threads = fit_forks(max(1, min(options.forks, len(hosts))))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {pool.submit(_in_turn, work, host, limits.get(host.name)): host for host in hosts}
        for future in as_completed(futures):
            host = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # a bug must not hide the other hosts' results
                log.debug("%s: unexpected failure", host.name, exc_info=True)  # --debug only
                yield HostReading(host, "error", f"internal error: {type(exc).__name__}: {exc}")


def _in_turn(
    work: Callable[[Host], HostReading], host: Host, turn: threading.Semaphore | None
) -> HostReading:
    """`work` on `host`, after the other entries of its endpoint when it has several."""
    if turn is None:
        return work(host)
    with turn:
        return work(host)


# Below this many hosts per process, starting a process costs more than it saves.
_MIN_HOSTS_PER_PROCESS = 50


def processes_for(host_count: int, processes: int) -> int:
    """Worker processes a fleet of `host_count` gets when `processes` are allowed: all of
    them, or one (this process) when the fleet is too small to share."""
    return processes if processes > 1 and host_count >= processes * _MIN_HOSTS_PER_PROCESS else 1


_POLL_S = 0.5


# A reading crosses from a worker to the parent as a plain tuple: the host's index (the
# parent has the hosts already, so neither the Host nor its credentials are pickled again),
# then HostReading's other fields, each session as the tuple of its fields. The parent
# rebuilds sessions with their constructor: a quarter less of its CPU than unpickling each
# frozen dataclass attribute by attribute (dataclasses._dataclass_setstate).
_SessionFields = tuple[object, ...]
_Sent = tuple[int, HostStatus, str | None, tuple[_SessionFields, ...], str, int, HostFacts | None]
_SESSION_FIELDS = tuple(f.name for f in fields(Session))


def sent_form(index: int, reading: HostReading) -> _Sent:
    """What a worker sends for the reading of the fleet's host number `index`."""
    r = reading
    sessions = tuple(tuple([getattr(s, name) for name in _SESSION_FIELDS]) for s in r.sessions)
    return (index, r.status, r.error, sessions, r.raw, r.attempts, r.facts)


def received_reading(hosts: Sequence[Host], sent: _Sent) -> HostReading:
    """The reading a worker sent (see sent_form), for the parent's own Host."""
    index, status, error, sessions, raw, attempts, facts = sent
    # Each tuple holds a Session's own fields in their order (sent_form): typed as object.
    rebuilt = tuple([Session(*values) for values in sessions])  # type: ignore[arg-type]
    return HostReading(hosts[index], status, error, rebuilt, raw, attempts, facts)


def _collect_worker(
    hosts: list[Host],
    indices: list[int],
    connector: Connector,
    options: CollectOptions,
    results: Queue[_Sent],
    guard: AuthFailureGuard,
) -> None:
    """Runs in a worker process: read its share of hosts (`indices` in the fleet), send
    each reading back at once."""
    index = {host.name: i for host, i in zip(hosts, indices, strict=True)}
    work = functools.partial(collect_host, connector=connector, options=options, guard=guard)
    for reading in iterate_fleet(hosts, work, options):
        results.put(sent_form(index[reading.host.name], reading))


def _start_workers(
    hosts: Sequence[Host], connector: Connector, options: CollectOptions
) -> tuple[list[BaseProcess], Queue[_Sent], AuthFailureGuard]:
    """Split the hosts over worker processes and start them.

    Forked when this process runs no other thread (no imports to repeat, nothing to
    pickle); spawned otherwise, because a fork copies locks other threads may hold.
    """
    forkable = "fork" in multiprocessing.get_all_start_methods()
    context: ForkContext | SpawnContext = (
        multiprocessing.get_context("fork")
        if forkable and threading.active_count() == 1
        else multiprocessing.get_context("spawn")
    )
    results: Queue[_Sent] = context.Queue()
    guard = AuthFailureGuard(hosts, options.auth_failure_limit, context)  # shared by all
    per_process = replace(options, forks=max(1, math.ceil(options.forks / options.processes)))
    workers: list[BaseProcess] = [
        context.Process(
            target=_collect_worker,
            args=([hosts[i] for i in share], share, connector, per_process, results, guard),
        )
        for share in _shares(hosts, options.processes)
    ]
    for worker in workers:
        worker.start()
    return workers, results, guard


def _shares(hosts: Sequence[Host], processes: int) -> list[list[int]]:
    """Host indices per worker process, in turn; the entries of one endpoint all go to
    the process of its first one, so that they take turns there (concurrency.py)."""
    owner: dict[tuple[str, int], int] = {}
    shares: list[list[int]] = [[] for _ in range(processes)]
    for index, host in enumerate(hosts):
        process = owner.setdefault(endpoint_of(host), index % processes)
        shares[process].append(index)
    return shares


def _drain(
    hosts: Sequence[Host],
    workers: list[BaseProcess],
    results: Queue[_Sent],
    guard: AuthFailureGuard,
) -> Iterator[HostReading]:
    """Readings from the workers as they come. A worker that dies is reported as an error
    for each host it did not finish, never as silence; hosts of other workers waiting on
    credentials the dead one was trying are let go (as not started), never left hanging."""
    pending = {h.name: h for h in hosts}
    try:
        while pending:
            try:
                sent = results.get(timeout=_POLL_S)
            except queue.Empty:
                if any(w.exitcode not in (0, None) for w in workers):
                    guard.abandon()
                if all(not w.is_alive() for w in workers) and results.empty():
                    break
                continue
            reading = received_reading(hosts, sent)
            pending.pop(reading.host.name, None)
            yield reading
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
    for host in pending.values():
        yield HostReading(host, "error", "internal error: worker process died")
