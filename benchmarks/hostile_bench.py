"""A hostile fleet against `fleetlogoff plan`: the controller's memory and time stay bounded.

For each wire (the lean NTLM transport, pypsrp over HTTP, Basic over HTTPS, NTLM over
HTTPS), a lab host behind the hostile proxy of tests/hostile.py stands in for every host
of an inventory, and `fleetlogoff plan` runs as a subprocess against it:

- harmless proxy: the baseline peak RSS;
- endless answers (close-delimited, chunked, sealed, a terabyte Content-Length, endless
  headers), all hosts at once: peak RSS, which must stay within the baseline plus
  forks x 4 MiB (each answer is cut at 1 MiB + 64 KiB), and every host must say "too large";
- one host trickling a byte every 0.5 s among healthy ones, `--timeout T`: the wall time
  (about T plus start-up), the trickling host must say "no answer in time" and the
  healthy ones must be planned and saved.

Prints a table; exits 1 when an expectation fails (memory past its bound, a host that
did not fail as expected, a plan not saved). No timing is enforced.

Usage (from the repo root):
    .venv/bin/python benchmarks/hostile_bench.py [--hosts 50] [--forks 50] [--timeout 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from _common import REPO_ROOT, log_line, run_child  # the script directory is sys.path[0]

sys.path.insert(0, str(REPO_ROOT))  # tests/hostile.py, the hostile proxy

from fleetlogoff.lab.fleet import RunningFleet, start_fleet  # noqa: E402
from fleetlogoff.lab.host import SimHost  # noqa: E402
from fleetlogoff.lab.server_shells import ShellLimits  # noqa: E402
from fleetlogoff.lab.tls import LabCertificateAuthority  # noqa: E402
from tests.hostile import Act, Fault, HostileProxy  # noqa: E402

PASSWORD = "Lab-Admin-Passw0rd!"
ENDLESS = (
    Act.ENDLESS_BODY,
    Act.ENDLESS_CHUNKED,
    Act.ENDLESS_SEALED,
    Act.HUGE_LENGTH,
    Act.HUGE_HEADERS,
)
MIB_PER_FORK = 4.0  # bound: 1 MiB answer + 64 KiB head, copies while decoding, slack
WIRES: dict[str, dict[str, Any]] = {
    "lean": {"https": False, "vars": {}},
    "pypsrp": {"https": False, "vars": {"fleetlogoff_http_transport": "pypsrp"}},
    "basic-https": {"https": True, "vars": {"ansible_winrm_transport": "basic"}},
    "ntlm-https": {"https": True, "vars": {}},
}


@dataclass(frozen=True)
class Row:
    wire: str
    case: str
    wall_s: float
    peak_mb: float
    outcome: str
    ok: bool


@dataclass
class Bench:
    fleet: RunningFleet
    work: Path
    proxy_ca: str
    proxy_tls: Any


def _entry(address: str, port: int, wire: str, ca_path: str) -> dict[str, Any]:
    https = bool(WIRES[wire]["https"])
    entry: dict[str, Any] = {
        "ansible_host": address,
        "ansible_port": port,
        "ansible_user": "Administrator",
        "ansible_password": PASSWORD,
        "ansible_connection": "winrm",
        "ansible_winrm_transport": "ntlm",
        "ansible_winrm_scheme": "https" if https else "http",
        **WIRES[wire]["vars"],
    }
    if https:
        entry["ansible_winrm_ca_trust_path"] = ca_path
    return entry


@contextmanager
def _proxy(bench: Bench, wire: str, fault: Fault, listeners: int = 1) -> Iterator[HostileProxy]:
    endpoint = bench.fleet.endpoints[0]
    https = bool(WIRES[wire]["https"])
    port = endpoint.https_port if https else endpoint.http_port
    assert port is not None
    proxy = HostileProxy(
        (endpoint.address, port),
        fault,
        upstream_tls=https,
        server_tls=bench.proxy_tls if https else None,
        listeners=listeners,
    )
    with proxy:
        yield proxy


def _plan(bench: Bench, name: str, hosts: dict[str, Any], forks: int, timeout: int) -> Any:
    inventory = bench.work / f"{name}.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
    plan = bench.work / f"{name}.plan.json"
    plan.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "fleetlogoff", "plan", str(inventory), "--state", "disc"]
    argv += ["--forks", str(forks), "--timeout", f"{timeout}s", "-o", str(plan)]
    argv += ["--format", "json", "-q"]
    out, err = bench.work / f"{name}.stdout", bench.work / f"{name}.stderr"
    run = run_child(argv, os.getpid(), out, err)
    try:
        document = json.loads(out.read_text(encoding="utf-8"))
    except ValueError:
        document = {"hosts": []}
    return run, document, plan.exists()


def _errors(document: Any) -> list[str]:
    return [f"{h['status']}: {h.get('error')}" for h in document["hosts"]]


def measure_wire(bench: Bench, wire: str, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    with _proxy(bench, wire, Fault(Act.PASS), args.hosts) as proxy:
        hosts = {
            f"h{n:03}": _entry("127.0.0.1", port, wire, bench.proxy_ca)
            for n, port in enumerate(proxy.ports)
        }
        run, document, _ = _plan(bench, f"{wire}-pass", hosts, args.forks, 60)
    answered = sum(1 for e in _errors(document) if e.startswith("ok"))
    baseline = run.peak_rss_mb
    rows.append(
        Row(
            wire,
            "harmless",
            run.wall_s,
            baseline,
            f"{answered}/{args.hosts} ok",
            answered == args.hosts,
        )
    )
    bound = baseline + args.forks * MIB_PER_FORK
    for act in ENDLESS:
        with _proxy(bench, wire, Fault(act, 0), args.hosts) as proxy:
            hosts = {
                f"h{n:03}": _entry("127.0.0.1", port, wire, bench.proxy_ca)
                for n, port in enumerate(proxy.ports)
            }
            run, document, _ = _plan(bench, f"{wire}-{act.value}", hosts, args.forks, 60)
            pushed = proxy.bytes_sent / 2**20
        errors = _errors(document)
        too_large = sum(1 for e in errors if "too large" in e)
        ok = too_large == args.hosts and run.peak_rss_mb <= bound
        outcome = f"{too_large}/{args.hosts} too large, {pushed:.0f} MiB pushed"
        rows.append(Row(wire, act.value, run.wall_s, run.peak_rss_mb, outcome, ok))
    rows.append(measure_trickle(bench, wire, args))
    return rows


def measure_trickle(bench: Bench, wire: str, args: argparse.Namespace) -> Row:
    https = bool(WIRES[wire]["https"])
    with _proxy(bench, wire, Fault(Act.TRICKLE, 0, interval_s=0.5)) as proxy:
        hosts = {}
        for n, endpoint in enumerate(bench.fleet.endpoints[: args.healthy]):
            direct = endpoint.https_port if https else endpoint.http_port
            assert direct is not None and endpoint.ca_path is not None
            hosts[f"good{n:02}"] = _entry(endpoint.address, direct, wire, endpoint.ca_path)
        hosts["trickle"] = _entry("127.0.0.1", proxy.port, wire, bench.proxy_ca)
        run, document, saved = _plan(bench, f"{wire}-trickle", hosts, args.forks, args.timeout)
    status = {h["name"]: f"{h['status']}: {h.get('error')}" for h in document["hosts"]}
    good = sum(1 for name, s in status.items() if name != "trickle" and s.startswith("ok"))
    timed_out = "no answer in time" in status.get("trickle", "")
    ok = saved and timed_out and good == args.healthy
    outcome = f"trickler timed out: {timed_out}, {good}/{args.healthy} ok, plan saved: {saved}"
    return Row(
        wire, f"trickle, --timeout {args.timeout}s", run.wall_s, run.peak_rss_mb, outcome, ok
    )


def print_rows(rows: list[Row]) -> None:
    header = ("wire", "case", "wall s", "peak RSS MB", "outcome", "expected")
    table = [header] + [
        (
            r.wire,
            r.case,
            f"{r.wall_s:.2f}",
            f"{r.peak_mb:.0f}",
            r.outcome,
            "ok" if r.ok else "MISMATCH",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for index, line in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50, help="hostile hosts per case")
    parser.add_argument("--healthy", type=int, default=20, help="healthy hosts beside the trickler")
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--timeout", type=int, default=5, help="plan --timeout, seconds")
    parser.add_argument("--wire", action="append", choices=list(WIRES), help="default: all")
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    (work / "proxy").mkdir(parents=True, exist_ok=True)
    authority = LabCertificateAuthority(work / "proxy", "hostile proxy CA")
    limits = ShellLimits(max_shells_per_user=1_000_000, max_operations_per_user=1_000_000)
    rows: list[Row] = []
    lab = [SimHost(f"rds-bench{n:02}") for n in range(max(1, args.healthy))]
    with start_fleet(lab, https=True, limits=limits, work_dir=work) as fleet:
        bench = Bench(
            fleet, work, str(authority.ca_path), authority.server_context("proxy", "127.0.0.1")
        )
        for wire in args.wire or list(WIRES):
            log_line(f"{wire} ...")
            rows.extend(measure_wire(bench, wire, args))
    print(f"hostile fleet: {args.hosts} hosts per case, forks {args.forks}; work dir {work}")
    print_rows(rows)
    failed = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(failed)} of {len(rows)} cases as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
