"""The lab's own CPU per host while fleetlogoff plans and applies (issue 11).

The benchmarks run the lab on the same cores as the client, so every millisecond the lab
spends is one the client does not get. This script measures only the lab: it starts it in
its own process (`python -m fleetlogoff.lab.runner`), runs `fleetlogoff plan` twice against
a fleet with `--latency-ms` on every answer (the plan benchmark's scenario; the first run
also pays the lab's once-per-process work: time-zone rules, first use of every code path),
then, on a second lab with explicit sessions (the apply benchmark's scenario), `plan` and
`apply --warn W --yes`. For each run it prints the lab's user+sys CPU per host (psutil, the
lab pid before/after), and for reference the lab's CPU while the bare-HTTP floor
(benchmarks/floor.py) makes the same number of empty keep-alive POSTs per host. On a
shared, loaded machine one run varies by +-25%: compare two versions by alternating them,
not with one run each.

`--profile-dir DIR` also records the lab with `py-spy record --gil --pid` (speedscope JSON,
one file per run; summarise with benchmarks/profile_top.py). `--gil` keeps the samples of
the thread that runs Python; time in system calls (socket writes) is not in the profile.
py-spy samples from outside the lab (no cost inside it) but shares the 2 cores.

Expected versus found is enforced (every host planned, every target logged off, every
keeper kept, one message per target); a mismatch prints MISMATCH and exits 1. Timing is
only reported.

Usage (from the repo root):
    .venv/bin/python benchmarks/lab_cpu.py --hosts 300 --latency-ms 20 [--profile-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import (  # the script directory is sys.path[0]
    BenchError,
    ChildRun,
    Measurement,
    log_line,
    print_table,
    run_child,
    run_floor,
    start_lab,
)
from apply_bench import (
    apply_argv,
    count_plan_targets,
    plan_argv,
    row,
    verify_state,
    write_rules,
    write_scenario,
)
from plan_bench import RULES_YAML, write_latency_scenario

from fleetlogoff.concurrency import DEFAULT_FORKS

_PLAN_TRIPS = 8  # plan's round trips per host (benchmarks/README.md, wave 2)


@contextmanager
def recording(lab_pid: int, output: Path | None) -> Iterator[None]:
    """py-spy record the lab while the block runs (nothing when `output` is None)."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if output is None or not py_spy.exists():
        yield
        return
    argv = [str(py_spy), "record", "--pid", str(lab_pid), "-o", str(output)]
    # --gil: only samples that hold the GIL, i.e. the lab's Python work, not its waits.
    argv += ["--format", "speedscope", "-r", "1000", "--nonblocking", "--gil"]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=120)
        log_line(f"profile: {output}" if spy.returncode == 0 else f"py-spy: {err[-300:]}")


def plan_rows(args: argparse.Namespace, work: Path) -> list[Measurement]:
    """A lab with latency only: plan, then the floor's round trips."""
    scenario = write_latency_scenario(work / "scenario-latency.yml", args.latency_ms)
    rules = work / "rules-plan.yml"
    rules.write_text(RULES_YAML, encoding="utf-8")
    rows: list[Measurement] = []
    with start_lab(args.hosts, scenario, work) as fleet:
        pid = fleet.process.pid
        argv = plan_argv(fleet.inventory_path, rules, work, args.forks)
        plan = run_child(argv, pid, work / "plan.stdout", work / "plan.stderr")
        _require(plan, "plan", (0, 2))
        answered, _ = count_plan_targets(work / "plan.json")
        rows.append(row("fleetlogoff plan", plan, args.hosts, answered, "first after start"))
        with recording(pid, _profile(args, "plan")):
            again = run_child(argv, pid, work / "again.stdout", work / "again.stderr")
        _require(again, "plan", (0, 2))
        answered, _ = count_plan_targets(work / "plan.json")
        rows.append(row("plan again", again, args.hosts, answered, "lab warm"))
        endpoints = [(e.address, e.http_port) for e in fleet.endpoints]
        forks = args.forks or DEFAULT_FORKS
        rows.append(run_floor(endpoints, _PLAN_TRIPS, forks, 1, work, pid,
                              f"floor, {_PLAN_TRIPS} POSTs/host"))  # fmt: skip
    return rows


def apply_rows(args: argparse.Namespace, work: Path) -> tuple[list[Measurement], list[str]]:
    """A lab with explicit sessions: plan, apply, then the lab's state against the plan."""
    scenario = write_scenario(work / "scenario-apply.yml", args.targets, args.latency_ms)
    rules = write_rules(work / "rules.yml")
    fleet = start_lab(args.hosts, scenario, work)
    try:
        pid = fleet.process.pid
        argv = plan_argv(fleet.inventory_path, rules, work, args.forks)
        plan = run_child(argv, pid, work / "plan.stdout", work / "plan.stderr")
        _require(plan, "plan", (0, 2))
        answered, targets = count_plan_targets(work / "plan.json")
        with recording(pid, _profile(args, "apply")):
            applied = run_child(apply_argv(work, args.warn, args.forks), pid,
                                work / "apply.stdout", work / "apply.stderr")  # fmt: skip
        _require(applied, "apply", (0,))
    finally:
        code = fleet.stop(timeout_s=120)
    if code != 0 or not fleet.state_path.exists():
        raise BenchError(f"lab exited {code} without a state file (see {fleet.log_path})")
    check = verify_state(fleet.state_path)
    expected = args.hosts * args.targets
    found = {
        "hosts planned": (answered, args.hosts),
        "sessions planned for logoff": (targets, expected),
        "sessions logged off (lab state)": (check.logoffs, expected),
        "targets still logged on": (check.targets_left, 0),
        "keepers still logged on": (check.keepers_left, args.hosts),
        "messages delivered": (check.messages, expected),
    }
    problems = [f"{what}: {got}, expected {want}" for what, (got, want) in found.items()
                if got != want]  # fmt: skip
    rows = [
        row("plan (apply scenario)", plan, args.hosts, answered, f"{targets} targets"),
        row("apply", applied, args.hosts, None, f"--warn {args.warn} included"),
    ]
    return rows, problems


def _require(run: ChildRun, what: str, accepted: tuple[int, ...]) -> None:
    if run.returncode not in accepted:
        raise BenchError(f"fleetlogoff {what} exited {run.returncode}")


def _profile(args: argparse.Namespace, name: str) -> Path | None:
    if args.profile_dir is None:
        return None
    args.profile_dir.mkdir(parents=True, exist_ok=True)
    return Path(args.profile_dir) / f"lab-{name}.speedscope.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--targets", type=int, default=3, help="target sessions per host")
    parser.add_argument("--warn", default="10s", help="apply --warn")
    parser.add_argument("--forks", type=int, help="plan/apply --forks (default: theirs)")
    parser.add_argument("--work-dir", type=Path, help="keep scenarios, plans, logs here")
    parser.add_argument("--profile-dir", type=Path, help="py-spy the lab into this folder")
    parser.add_argument("--skip-apply", action="store_true", help="measure plan only")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.targets < 1 or args.latency_ms < 0:
        parser.error("--hosts and --targets must be >= 1, --latency-ms >= 0")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="lab-cpu-"))
    (work / "plan").mkdir(parents=True, exist_ok=True)
    (work / "apply").mkdir(parents=True, exist_ok=True)
    log_line(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        rows = plan_rows(args, work / "plan")
        problems: list[str] = []
        if not args.skip_apply:
            more, problems = apply_rows(args, work / "apply")
            rows += more
    except BenchError as exc:
        print(f"MISMATCH: {exc}")
        return 1
    print_table(rows)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for problem in problems:
        print(f"MISMATCH: {problem}")
    if not problems:
        checked = "every host planned" + ("" if args.skip_apply else ", targets logged off, "
                                           "keepers kept, one message per target")  # fmt: skip
        print(f"expected versus found: OK ({checked})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
