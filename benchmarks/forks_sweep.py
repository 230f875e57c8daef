"""How many hosts at once: `fleetlogoff plan` on one lab fleet with each --forks value,
several rounds interleaved (so that a change in the machine's load hits every value alike).

Prints wall, client CPU per host and the lab's CPU per host for each value, the median
over rounds, and the load average. Used to choose collect.DEFAULT_FORKS
(benchmarks/README.md). Asserts nothing about timing; exits 1 when a run did not read
every host.

Usage (from the repo root):
    .venv/bin/python benchmarks/forks_sweep.py --hosts 1000 --latency-ms 20 \\
        --forks 25 50 100 200 400 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _common import log_line, run_child, start_lab  # the script directory is sys.path[0]
from plan_bench import RULES_YAML, json_argv, write_latency_scenario


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--forks", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="forks-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    scenario = write_latency_scenario(work / "scenario-latency.yml", args.latency_ms)
    rules = work / "rules.yml"
    rules.write_text(RULES_YAML, encoding="utf-8")
    results: dict[int, list[tuple[float, float, float]]] = {f: [] for f in args.forks}
    failed = 0
    load = os.getloadavg()
    with start_lab(args.hosts, scenario, work) as fleet:
        for round_number in range(args.rounds):
            for forks in args.forks:
                plan = work / f"plan-{forks}.json"
                out, err = work / "plan.stdout", work / "plan.stderr"
                run = run_child(
                    json_argv(fleet.inventory_path, rules, plan, forks),
                    fleet.process.pid,
                    out,
                    err,
                )
                summary = json.loads(plan.read_text(encoding="utf-8"))["summary"]
                failed += int(summary["hosts_failed"]) + (run.returncode not in (0, 1))
                per_host = 1000 / args.hosts
                results[forks].append((run.wall_s, run.cpu_s * per_host, run.lab_cpu_s * per_host))
                log_line(f"round {round_number + 1}, forks {forks}: {run.wall_s:.2f} s")
    print(
        f"forks sweep: {args.hosts} hosts, {args.latency_ms} ms latency, {args.rounds} rounds, "
        f"{os.cpu_count()} cores shared with the lab; load average before "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print("forks  wall s (median)  walls                  CPU ms/host  lab CPU ms/host")
    for forks, runs in results.items():
        walls = [w for w, _, _ in runs]
        print(
            f"{forks:5d}  {statistics.median(walls):14.2f}  "
            f"{' '.join(f'{w:5.2f}' for w in walls):22s} "
            f"{statistics.median(c for _, c, _ in runs):11.2f}  "
            f"{statistics.median(lab for _, _, lab in runs):15.2f}"
        )
    if failed:
        print(f"MISMATCH: {failed} hosts or runs failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
