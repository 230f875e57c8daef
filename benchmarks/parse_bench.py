"""CPU of reading one host's answers: quser parsing, date settling and the registry (issue 11).

The inputs are the lab's own answers, rendered in-process (no network, no lab server):
`--hosts` hosts of the default population (every lab locale), seeded, at a fixed instant,
each asked `quser & reg query TimeZoneInformation` and, for hosts whose dates read two
ways, `reg query International`. Plus the quser samples of the corpus.

Three figures, each the median of `--rounds` rounds of time.process_time() over every
input `--repeat` times:

* `read_host`: hostread.read_host from recorded answers (parse_quser, splitting off and
  reading the clock, settling dates: everything a worker does per host but the wire);
* `parse_quser`: parse_quser alone on the same hosts' quser text;
* `corpus`: parse_quser on each corpus quser sample (errors included).

`--code DIR` times the fleetlogoff package found in DIR (another commit's tree, say
`mkdir /tmp/base && git archive main | tar -x -C /tmp/base`); without it, this
checkout's. `--baseline DIR` runs this script twice per round, once on DIR and once on
this checkout, interleaved, so both see the same machine load. Figures only: nothing
here asserts on timing. With `--baseline`, both checkouts must read every input alike
(a digest of every session, fact and error); otherwise it prints MISMATCH and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# 2 December: en-US dates (12/2/2026) read both ways, so many hosts also settle their
# dates with the International key, the path plan takes on such days.
DEFAULT_AT = "2026-12-02T09:00:00+00:00"


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--at", default=DEFAULT_AT, help="the lab's clock (ISO 8601, UTC)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the inputs per round")
    parser.add_argument("--code", type=Path, default=REPO_ROOT, help="checkout to time")
    parser.add_argument("--baseline", type=Path, help="also time this checkout, interleaved")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child mode
    return parser.parse_args(argv)


def _lab_answers(count: int, seed: int, at: str) -> list[tuple[Any, dict[str, str]]]:
    """(inventory Host, command line -> decoded answer) for each lab host."""
    from fleetlogoff import hostread
    from fleetlogoff.lab.contract import CommandRequest
    from fleetlogoff.lab.population import build_fleet
    from fleetlogoff.model import Connection, Host
    from fleetlogoff.parsers import decode_output

    instant = datetime.fromisoformat(at).astimezone(UTC).timestamp()
    # Every line either checkout may ask (a baseline from before the format was read with
    # the sessions asks for it alone).
    lines = [hostread.QUSER_AND_ZONE, hostread.INTERNATIONAL_QUERY]
    lines += [getattr(hostread, "QUSER_ZONE_AND_FORMAT", hostread.QUSER_AND_ZONE)]
    inputs = []
    for sim in build_fleet(count, seed, clock=lambda: instant):
        answers = {}
        for line in lines:
            result = sim.run(CommandRequest(line, 65001, "Administrator"))
            answers[line] = decode_output(result.stdout + result.stderr, 65001)
        host = Host(sim.name, ("all",), Connection("127.0.0.1", 5985, username="bench"))
        inputs.append((host, answers))
    return inputs


def _corpus_texts() -> list[str]:
    corpus = REPO_ROOT / "tests" / "fixtures" / "corpus"
    texts = [path.read_text(encoding="utf-8") for path in sorted(corpus.glob("quser-*.txt"))]
    return [text.split("# ---\n", 1)[1] for text in texts]


def _digest(inputs: list[tuple[Any, dict[str, str]]], corpus: list[str]) -> str:
    """A digest of everything read (sessions, facts, errors): two checkouts that read the
    inputs alike give the same digest."""
    from fleetlogoff.errors import FleetLogoffError
    from fleetlogoff.hostread import read_host
    from fleetlogoff.parsers import parse_quser

    read = [repr(read_host(answers.__getitem__, host)) for host, answers in inputs]
    for text in corpus:
        try:
            read.append(repr(parse_quser(text)))
        except FleetLogoffError as error:
            read.append(f"{type(error).__name__}: {error}")
    return hashlib.sha256("\n".join(read).encode()).hexdigest()


def _time_rounds(work: Callable[[], None], rounds: int) -> list[float]:
    timings = []
    for _ in range(rounds):
        gc.collect()  # the previous phase's garbage is not this phase's cost
        started = time.process_time()
        work()
        timings.append(time.process_time() - started)
    return timings


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    """Time this process's fleetlogoff; per-input milliseconds, one figure per round."""
    from fleetlogoff.errors import FleetLogoffError
    from fleetlogoff.hostread import QUSER_AND_ZONE, ZONE_MARK, read_host
    from fleetlogoff.parsers import parse_quser

    inputs = _lab_answers(args.hosts, args.seed, args.at)
    quser_texts = [answers[QUSER_AND_ZONE].split(ZONE_MARK)[0] for _, answers in inputs]
    corpus = _corpus_texts()

    def read_all() -> None:
        for _ in range(args.repeat):
            for host, answers in inputs:
                read_host(answers.__getitem__, host)

    def quser_all() -> None:
        for _ in range(args.repeat):
            for text in quser_texts:
                parse_quser(text)

    def corpus_all() -> None:
        for _ in range(args.repeat * 20):
            for text in corpus:
                with contextlib.suppress(FleetLogoffError):  # error samples are inputs too
                    parse_quser(text)

    figures: dict[str, Any] = {"code": str(Path(sys.modules["fleetlogoff"].__file__ or "").parent)}
    figures["results"] = _digest(inputs, corpus)
    for name, work, per in (
        ("read_host", read_all, len(inputs) * args.repeat),
        ("parse_quser", quser_all, len(inputs) * args.repeat),
        ("corpus", corpus_all, len(corpus) * args.repeat * 20),
    ):
        work()  # warm-up: imports, regex and lru caches
        figures[name] = [seconds * 1000 / per for seconds in _time_rounds(work, 1)]
    figures["hosts"], figures["corpus_samples"] = len(inputs), len(corpus)
    return figures


def _child(code: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--json", "--code", str(code), "--rounds", "1"]
    command += ["--hosts", str(args.hosts), "--seed", str(args.seed), "--at", args.at]
    command += ["--repeat", str(args.repeat)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _report(label: str, runs: list[dict[str, Any]]) -> None:
    first = runs[0]
    print(f"{label}: {first['code']} ({first['hosts']} lab hosts, {first['corpus_samples']} "
          f"corpus samples, {len(runs)} rounds)")  # fmt: skip
    for name, unit in (("read_host", "host"), ("parse_quser", "host"), ("corpus", "sample")):
        values = [value for run in runs for value in run[name]]
        spread = f"{min(values):.3f}..{max(values):.3f}"
        print(f"  {name:<12} {statistics.median(values):7.3f} ms/{unit:<7} (rounds {spread})")


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    if args.json:
        sys.path.insert(0, str(args.code.resolve()))
        print(json.dumps(_measure(args)))
        return 0
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    checkouts = [args.baseline, args.code] if args.baseline else [args.code]
    runs: dict[Path, list[dict[str, Any]]] = {code: [] for code in checkouts}
    for _ in range(args.rounds):
        for code in checkouts:  # interleaved: both see the same load
            runs[code].append(_child(code, args))
    for code in checkouts:
        _report("baseline" if code == args.baseline else "measured", runs[code])
    status = 0
    if args.baseline:
        digests = {run["results"] for code in checkouts for run in runs[code]}
        same = "OK" if len(digests) == 1 else "MISMATCH"
        status = 0 if same == "OK" else 1
        print(f"  same results (sessions, facts, errors) in both checkouts: {same}")
        for name in ("read_host", "parse_quser", "corpus"):
            before = statistics.median(v for run in runs[args.baseline] for v in run[name])
            after = statistics.median(v for run in runs[args.code] for v in run[name])
            print(f"  {name:<12} {before:.3f} -> {after:.3f} ms ({after / before:.2f}x)")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
