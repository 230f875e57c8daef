"""Shared helpers for the plan/apply benchmarks: the lab in its own process, CPU and memory
of measured child processes, and a plain-text results table.

CPU of a child process tree comes from os.wait4 (the kernel's rusage of the child plus every
descendant it waited for: exact, no sampling). Peak memory is the sum of the RSS of the child
and its live descendants, sampled every 20 ms with psutil (Ansible forks workers, whose memory
adds up, so the kernel's single-process ru_maxrss would understate it).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import resource
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import psutil

from fleetlogoff.lab.fleet import SubprocessFleet, start_fleet_subprocess

REPO_ROOT = Path(__file__).resolve().parent.parent
_SAMPLE_PERIOD_S = 0.02  # RSS sampling period: short enough to catch 1 s runs' peaks
_LAB_START_TIMEOUT_S = 300.0  # 1,000+ hosts with TLS certificates can take a while


@dataclass(frozen=True, slots=True)
class Measurement:
    """One row of the results table.

    Attributes:
        label: what was measured.
        hosts: hosts the figures are per (the whole fleet, even when extrapolated).
        wall_s: wall-clock seconds.
        cpu_s: user+sys seconds of the measured process tree (controller side).
        peak_rss_mb: peak resident memory of the process tree, None when not measurable.
        lab_cpu_s: user+sys seconds the lab process spent during the run.
        answered: hosts that gave an answer, None when unknown.
        note: how the figure was obtained (extrapolation, in-process, ...).
    """

    label: str
    hosts: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float | None
    lab_cpu_s: float
    answered: int | None = None
    note: str = ""

    @property
    def cpu_ms_per_host(self) -> float:
        """Controller CPU milliseconds per host."""
        return 1000.0 * self.cpu_s / max(1, self.hosts)

    @property
    def lab_cpu_ms_per_host(self) -> float:
        """Lab CPU milliseconds per host."""
        return 1000.0 * self.lab_cpu_s / max(1, self.hosts)


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A finished measured child process.

    Attributes:
        returncode: its exit status.
        wall_s: seconds from spawn to exit.
        cpu_s: user+sys seconds of it and the descendants it waited for.
        peak_rss_mb: peak summed RSS of it and its live descendants.
        lab_cpu_s: lab CPU seconds during the run.
    """

    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    lab_cpu_s: float


class BenchError(RuntimeError):
    """The lab or a measured command failed in a way that makes the figures meaningless."""


def python_env() -> dict[str, str]:
    """Environment for child Pythons: the repo importable, no proxies, unbuffered output,
    and the tool's bytecode compiled as after an install (ensure_bytecode)."""
    ensure_bytecode()
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = "*"
    return env


_compiled = False


def ensure_bytecode() -> None:
    """Compile the tool's modules once, before anything is measured. pip compiles them at
    install time; in a source tree with PYTHONDONTWRITEBYTECODE set (some CI images and
    sandboxes) every run would otherwise compile about 100 modules at start-up, which is
    not what a user's run pays."""
    global _compiled
    if not _compiled:
        import compileall

        compileall.compile_dir(REPO_ROOT / "fleetlogoff", quiet=1)
        _compiled = True


def start_lab(hosts: int, scenario: Path, work_dir: Path, seed: int = 0) -> SubprocessFleet:
    """Start `python -m fleetlogoff.lab.runner` in its own process; wait until it serves.

    Args:
        hosts: fleet size.
        scenario: scenario file (docs/lab-scenarios.md).
        work_dir: where the runner writes inventory.yml, state.json and runner.log.
        seed: population seed.
    """
    args = ["--hosts", str(hosts), "--scenario", str(scenario), "--seed", str(seed)]
    started = time.monotonic()
    fleet = start_fleet_subprocess(args, work_dir=work_dir, timeout_s=_LAB_START_TIMEOUT_S)
    log_line(
        f"lab: {hosts} hosts ready in {time.monotonic() - started:.1f} s (pid {fleet.process.pid})"
    )
    return fleet


def cpu_seconds(pid: int) -> float:
    """user+sys CPU seconds of one live process (threads included, children not)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def rss_mb(pid: int) -> float:
    """Current RSS of one live process in MB."""
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def _tree_rss_mb(process: psutil.Process) -> float:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue  # a worker that just exited: its memory is gone
    return total / 2**20


def _high_water_mb(pid: int) -> float:
    """The kernel's peak RSS of one live process (VmHWM), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return 0.0


class _PeakSampler:
    """Samples the summed RSS of a process tree on a thread until stopped, and the root
    process's own high-water mark (which catches peaks between samples)."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak_mb = 0.0
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                tree = _tree_rss_mb(self._process)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                return
            self.peak_mb = max(self.peak_mb, tree, _high_water_mb(self._process.pid))
            self._stop.wait(_SAMPLE_PERIOD_S)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_child(
    argv: Sequence[str], lab_pid: int, stdout: Path, stderr: Path, *, tty: bool = False
) -> ChildRun:
    """Run a command to completion and measure it (CPU via wait4, peak RSS by sampling).

    Args:
        argv: the command.
        lab_pid: the lab process, whose CPU during the run is reported separately.
        stdout: file for the command's stdout.
        stderr: file for the command's stderr.
        tty: give the command a terminal (a pseudo-terminal, 120 x 40) for stdout and
            stderr, as a user at a shell prompt has; both then go to `stdout`.
    """
    lab_before = cpu_seconds(lab_pid)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.monotonic()
        if tty:
            process, drain = _spawn_on_terminal(argv, out)
        else:
            process = subprocess.Popen(list(argv), stdout=out, stderr=err, env=python_env())
        with _PeakSampler(process.pid) as sampler:
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        if tty:
            drain.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it, not Popen
    return ChildRun(
        returncode=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        # Not wait4's ru_maxrss: Linux carries the parent's RSS into a child's maxrss
        # across fork and exec, so the benchmark's own memory would show up as the child's.
        peak_rss_mb=sampler.peak_mb,
        lab_cpu_s=cpu_seconds(lab_pid) - lab_before,
    )


def _spawn_on_terminal(
    argv: Sequence[str], out: BinaryIO
) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """Start `argv` with a pseudo-terminal as stdout and stderr; copy what it prints to
    `out` from a thread (a terminal nobody reads would block the command)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**python_env(), "TERM": "xterm-256color", "COLUMNS": "120"}
    process = subprocess.Popen(list(argv), stdout=slave, stderr=slave, env=env)
    os.close(slave)

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not data:
                break
            out.write(data)
        os.close(master)

    thread = threading.Thread(target=drain, name="pty-drain", daemon=True)
    thread.start()
    return process, thread


def run_in_process(work: Callable[[], int], lab_pid: int) -> ChildRun:
    """Run `work` in this process and measure it (CPU from getrusage of this process).

    This process is idle apart from `work` (the lab is another process), so its rusage
    delta is `work`'s cost. Peak RSS is sampled for this process only.
    """
    lab_before = cpu_seconds(lab_pid)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    peak = rss_mb(os.getpid())
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(_SAMPLE_PERIOD_S):
            peak = max(peak, rss_mb(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        answered = work()
    finally:
        done.set()
        sampler.join()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ChildRun(answered, wall, cpu, peak, cpu_seconds(lab_pid) - lab_before)


def run_floor(
    endpoints: Sequence[tuple[str, int] | tuple[str, int, int]],
    trips: int,
    forks: int,
    processes: int,
    work: Path,
    lab_pid: int,
    label: str = "bare HTTP floor",
) -> Measurement:
    """benchmarks/floor.py over `endpoints` as a subprocess, measured like fleetlogoff.
    An endpoint may carry its own round-trip count (address, port, trips); `trips` is the
    count of those that do not."""
    hosts_file = work / "floor-hosts.json"
    hosts_file.write_text(json.dumps([list(e) for e in endpoints]), encoding="utf-8")
    script = Path(__file__).resolve().parent / "floor.py"
    argv = [sys.executable, str(script), str(hosts_file), "--trips", str(trips)]
    argv += ["--forks", str(forks), "--processes", str(processes)]
    out = work / "floor.stdout"
    run = run_child(argv, lab_pid, out, work / "floor.stderr")
    found = re.search(r"answered (\d+) keepalive (\d+)", out.read_text(encoding="utf-8"))
    answered = int(found.group(2)) if found else None
    counts = [e[2] if len(e) > 2 else trips for e in endpoints]
    per_host = (
        f"{counts[0]}"  # one count for all (given per host, or --trips)
        if len(set(counts)) == 1
        else f"{sum(counts) / len(counts):.2f} (each host's own)"
    )
    note = f"subprocess, {per_host} POSTs/host, {processes} processes, forks {forks}"
    return Measurement(
        label, len(endpoints), run.wall_s, run.cpu_s, run.peak_rss_mb, run.lab_cpu_s, answered, note
    )


def log_line(text: str) -> None:
    """Progress for the person running the benchmark (stderr, so stdout stays the table)."""
    print(text, file=sys.stderr, flush=True)


def format_table(rows: Sequence[Measurement]) -> str:
    """The results as an aligned plain-text table."""
    header = (
        "client",
        "wall s",
        "CPU ms/host",
        "peak RSS MB",
        "lab CPU ms/host",
        "answered",
        "note",
    )
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.label,
                f"{row.wall_s:.2f}",
                f"{row.cpu_ms_per_host:.1f}",
                "-" if row.peak_rss_mb is None else f"{row.peak_rss_mb:.0f}",
                f"{row.lab_cpu_ms_per_host:.1f}",
                "-" if row.answered is None else f"{row.answered}/{row.hosts}",
                row.note,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rendered = []
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(width) if col in (0, len(header) - 1) else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        rendered.append("  ".join(cells).rstrip())
        if index == 0:
            rendered.append("  ".join("-" * w for w in widths))
    return "\n".join(rendered)


def print_table(rows: Sequence[Measurement], out: TextIO | None = None) -> None:
    """Print the results table to stdout (or `out`)."""
    print(format_table(rows), file=out or sys.stdout, flush=True)


def ratio(numerator: float, denominator: float) -> str:
    """`a / b` as text, or `n/a` when b is zero."""
    return f"{numerator / denominator:.2f}x" if denominator > 0 else "n/a"
