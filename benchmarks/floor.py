"""The bare-HTTP floor, as its own command, in the process model fleetlogoff uses.

Per host: `--trips` empty POSTs on one keep-alive connection (http.client), which the lab
answers with 401 and keeps open; no XML, no authentication, no parsing. Hosts are split
over `--processes` forked worker processes (as fleetlogoff's `--processes`), each with a
thread pool of ceil(forks / processes) threads (as `--forks`). Run as a subprocess by
plan_bench.py and apply_bench.py, so that its wall time includes interpreter start-up and
its CPU is measured the same way as fleetlogoff's (wait4 of the process tree).

Prints one line: `answered N keepalive M` (hosts whose every POST got 401 on one socket).

Usage:
    python benchmarks/floor.py HOSTS.json --trips 6 --forks 50 --processes 2
    (HOSTS.json: a list of [address, port], or [address, port, trips] for a host's own
    count, which wins over --trips)
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path


def one_host(address: str, port: int, trips: int) -> bool:
    """`trips` empty POSTs on one keep-alive connection; True when all were 401 on it."""
    conn = http.client.HTTPConnection(address, port, timeout=30)
    try:
        first_socket = None
        for _ in range(trips):
            conn.request("POST", "/wsman", body=b"")
            response = conn.getresponse()
            response.read()
            first_socket = first_socket or conn.sock
            if response.status != 401 or response.will_close or conn.sock is not first_socket:
                return False
        return True
    finally:
        conn.close()


Endpoint = tuple[str, int, int]  # address, port, round trips


def run_share(hosts: list[Endpoint], threads: int) -> int:
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(hosts)))) as pool:
        return sum(pool.map(lambda h: one_host(*h), hosts))


def _worker(hosts: list[Endpoint], threads: int, out: Connection) -> None:
    out.send(run_share(hosts, threads))
    out.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hosts", type=Path)
    parser.add_argument("--trips", type=int, required=True)
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    entries = json.loads(args.hosts.read_text(encoding="utf-8"))
    hosts = [(str(e[0]), int(e[1]), int(e[2]) if len(e) > 2 else args.trips) for e in entries]
    processes = max(1, min(args.processes, len(hosts)))
    if processes == 1:
        ok = run_share(hosts, args.forks)
    else:
        context = multiprocessing.get_context("fork")
        threads = math.ceil(args.forks / processes)
        pipes, workers = [], []
        for index in range(processes):
            reader, writer = context.Pipe(duplex=False)
            share = hosts[index::processes]
            worker = context.Process(target=_worker, args=(share, threads, writer))
            worker.start()
            writer.close()
            pipes.append(reader)
            workers.append(worker)
        ok = sum(int(pipe.recv()) for pipe in pipes)
        for worker in workers:
            worker.join()
    print(f"answered {len(hosts)} keepalive {ok}")
    return 0 if ok == len(hosts) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
