"""Read every host's sessions in parallel: one connection per host, a per-host deadline,
bounded retries for transient transport errors. A host's failure never aborts the run."""

from __future__ import annotations

import logging
import math
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Literal

from fleetlogoff.errors import HostCommandError, ParseError, TransportError
from fleetlogoff.hostvars import UTF8_CODEPAGE, host_codepage
from fleetlogoff.model import Host, Session
from fleetlogoff.parsers import decode_output, parse_quser
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
    """

    forks: int = 50
    deadline_s: float = 30.0
    retries: int = 2
    retry_pause_s: float = 0.5
    processes: int = 1


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
    """

    host: Host
    status: HostStatus
    error: str | None = None
    sessions: tuple[Session, ...] = ()
    raw: str = ""
    attempts: int = 1


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


def read_sessions(session: HostSession, host: Host, timeout: float) -> tuple[list[Session], str]:
    """Run quser on an open session and parse it with the host's date order."""
    text = output_text(session.run(QUSER, timeout=timeout), host_codepage(host))
    date_order = host.settings.get("fleetlogoff_date_order", "auto")
    return parse_quser(text, date_order=date_order), text  # type: ignore[arg-type]  # validated by the inventory


def collect_host(host: Host, connector: Connector, options: CollectOptions) -> HostReading:
    """Read one host, retrying transient transport errors within its deadline."""
    deadline = time.monotonic() + options.deadline_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return _collect_once(host, connector, deadline, attempt)
        except TransportError as exc:
            remaining = deadline - time.monotonic()
            if (
                exc.kind not in _TRANSIENT_KINDS
                or attempt > options.retries
                or remaining <= options.retry_pause_s
            ):
                return HostReading(host, _status_of(exc.kind), exc.reason, attempts=attempt)
            log.info("%s: %s, retrying (%d)", host.name, exc.reason, attempt)
            time.sleep(options.retry_pause_s)


def _collect_once(host: Host, connector: Connector, deadline: float, attempt: int) -> HostReading:
    session = connector.open(host, deadline_s=deadline - time.monotonic())
    try:
        sessions, raw = read_sessions(session, host, deadline - time.monotonic())
    except ParseError as exc:
        return HostReading(host, "error", str(exc), raw=exc.raw, attempts=attempt)
    except HostCommandError as exc:
        return HostReading(host, "error", str(exc), attempts=attempt)
    finally:
        session.close()
    return HostReading(host, "ok", sessions=tuple(sessions), raw=raw, attempts=attempt)


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
    if options.processes > 1 and len(hosts) >= options.processes * _MIN_HOSTS_PER_PROCESS:
        return _drain(hosts, *_start_workers(hosts, connector, options))
    return iterate_fleet(hosts, lambda h: collect_host(h, connector, options), options)


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
    with ThreadPoolExecutor(max_workers=max(1, min(options.forks, len(hosts)))) as pool:
        futures = {pool.submit(work, host): host for host in hosts}
        for future in as_completed(futures):
            host = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # a bug must not hide the other hosts' results
                log.exception("%s: unexpected failure", host.name)
                yield HostReading(host, "error", f"internal error: {type(exc).__name__}: {exc}")


# Below this many hosts per process, starting a process costs more than it saves.
_MIN_HOSTS_PER_PROCESS = 50
_POLL_S = 0.5


def _collect_worker(
    hosts: list[Host], connector: Connector, options: CollectOptions, results: Queue[HostReading]
) -> None:
    """Runs in a worker process: read its share of hosts, send each reading back at once."""
    for reading in iterate_fleet(hosts, lambda h: collect_host(h, connector, options), options):
        results.put(reading)


def _start_workers(
    hosts: Sequence[Host], connector: Connector, options: CollectOptions
) -> tuple[list[BaseProcess], Queue[HostReading]]:
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
    results: Queue[HostReading] = context.Queue()
    shares = [list(hosts[i :: options.processes]) for i in range(options.processes)]
    per_process = replace(options, forks=max(1, math.ceil(options.forks / options.processes)))
    workers: list[BaseProcess] = [
        context.Process(target=_collect_worker, args=(share, connector, per_process, results))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    return workers, results


def _drain(
    hosts: Sequence[Host], workers: list[BaseProcess], results: Queue[HostReading]
) -> Iterator[HostReading]:
    """Readings from the workers as they come. A worker that dies is reported as an error
    for each host it did not finish, never as silence."""
    pending = {h.name: h for h in hosts}
    try:
        while pending:
            try:
                reading = results.get(timeout=_POLL_S)
            except queue.Empty:
                if all(not w.is_alive() for w in workers) and results.empty():
                    break
                continue
            pending.pop(reading.host.name, None)
            yield reading
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
    for host in pending.values():
        yield HostReading(host, "error", "internal error: worker process died")
