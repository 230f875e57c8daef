"""A thread pool against asyncio for many mostly idle connections (issue 11).

The same bare work as the floor, 6 keep-alive POSTs per host answered 401 by the lab, done
two ways, each in its own process (measured like fleetlogoff: wall, CPU of the process,
peak RSS), at several concurrencies up to the whole fleet at once:

- threads: concurrent.futures.ThreadPoolExecutor, http.client, one connection per host
  (fleetlogoff's model);
- threads-raw: the same pool with the asyncio variant's exchange on a blocking socket
  (the same bytes and minimal parsing: only the concurrency model differs);
- asyncio: one event loop, asyncio streams with a minimal HTTP/1.1 exchange, a semaphore
  for the concurrency.

Prints a table; exits 1 when a run did not get every answer. Timing is only reported.

Usage (from the repo root):
    .venv/bin/python benchmarks/async_vs_threads.py --hosts 1000 --latency-ms 20 \\
        --concurrency 50 200 1000
    python benchmarks/async_vs_threads.py --worker MODEL HOSTS.json N  (one run)
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import socket
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import log_line, run_child, start_lab  # the script directory is sys.path[0]
from plan_bench import load_hosts, write_latency_scenario

TRIPS = 6
_REQUEST = b"POST /wsman HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def one_host_threads(address: str, port: int) -> bool:
    conn = http.client.HTTPConnection(address, port, timeout=30)
    try:
        for _ in range(TRIPS):
            conn.request("POST", "/wsman", body=b"")
            response = conn.getresponse()
            response.read()
            if response.status != 401:
                return False
        return True
    finally:
        conn.close()


def one_host_raw(address: str, port: int) -> bool:
    """The asyncio variant's exchange on a blocking socket: the same bytes, the same
    minimal parsing, so that only the concurrency model differs."""
    with socket.create_connection((address, port), timeout=30) as sock:
        buffer = b""
        for _ in range(TRIPS):
            sock.sendall(_REQUEST)
            while b"\r\n\r\n" not in buffer:
                data = sock.recv(65536)
                if not data:
                    return False
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            found = _LENGTH.search(head)
            length = int(found.group(1)) if found else 0
            while len(buffer) < length:
                buffer += sock.recv(65536)
            buffer = buffer[length:]
            if not head.startswith(b"HTTP/1.1 401"):
                return False
        return True


def run_threads(hosts: list[tuple[str, int]], concurrency: int, raw: bool = False) -> int:
    one = one_host_raw if raw else one_host_threads
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return sum(pool.map(lambda h: one(*h), hosts))


async def one_host_async(address: str, port: int, limit: asyncio.Semaphore) -> bool:
    async with limit:
        reader, writer = await asyncio.open_connection(address, port)
        try:
            for _ in range(TRIPS):
                writer.write(_REQUEST)
                head = await reader.readuntil(b"\r\n\r\n")
                found = _LENGTH.search(head)
                if found and int(found.group(1)):
                    await reader.readexactly(int(found.group(1)))
                if not head.startswith(b"HTTP/1.1 401"):
                    return False
            return True
        finally:
            writer.close()
            await writer.wait_closed()


async def run_async(hosts: list[tuple[str, int]], concurrency: int) -> int:
    limit = asyncio.Semaphore(concurrency)
    results = await asyncio.gather(*(one_host_async(a, p, limit) for a, p in hosts))
    return sum(results)


def worker(mode: str, hosts_file: Path, concurrency: int) -> int:
    hosts = [(str(a), int(p)) for a, p in json.loads(hosts_file.read_text(encoding="utf-8"))]
    if mode in ("threads", "threads-raw"):
        answered = run_threads(hosts, concurrency, raw=mode == "threads-raw")
    else:
        answered = asyncio.run(run_async(hosts, concurrency))
    print(f"answered {answered} of {len(hosts)}")
    return 0 if answered == len(hosts) else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        return worker(argv[1], Path(argv[2]), int(argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="async-vs-threads-"))
    work.mkdir(parents=True, exist_ok=True)
    scenario = write_latency_scenario(work / "scenario-latency.yml", args.latency_ms)
    load = os.getloadavg()
    rows, failed = [], 0
    with start_lab(args.hosts, scenario, work) as fleet:
        hosts = [
            (h["ansible_host"], int(h["ansible_port"]))
            for h in load_hosts(fleet.inventory_path).values()
        ]
        hosts_file = work / "hosts.json"
        hosts_file.write_text(json.dumps(hosts), encoding="utf-8")
        for concurrency in args.concurrency:
            for mode in ("threads", "threads-raw", "asyncio"):
                argv_ = [
                    sys.executable,
                    __file__,
                    "--worker",
                    mode,
                    str(hosts_file),
                    str(concurrency),
                ]
                run = run_child(argv_, fleet.process.pid, work / "out", work / "err")
                failed += run.returncode != 0
                rows.append(
                    (mode, concurrency, run.wall_s, run.cpu_s, run.peak_rss_mb, run.lab_cpu_s)
                )
                log_line(f"{mode} x {concurrency}: {run.wall_s:.2f} s")
    print(
        f"thread pool vs asyncio: {args.hosts} hosts x {TRIPS} keep-alive POSTs, "
        f"{args.latency_ms} ms latency; load average before {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}, after " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print("model        at once  wall s  CPU ms/host  peak RSS MB  lab CPU ms/host")
    per = 1000 / args.hosts
    for mode, concurrency, wall, cpu, rss, lab in rows:
        figures = f"{wall:6.2f}  {cpu * per:11.2f}  {rss:11.0f}  {lab * per:15.2f}"
        print(f"{mode:11s}  {concurrency:7d}  {figures}")
    if failed:
        print(f"MISMATCH: {failed} runs did not get every answer")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
