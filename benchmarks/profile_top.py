"""Summarise a py-spy speedscope profile: where the samples went, by library and function.

py-spy writes one sampled profile per thread (and per process with --subprocesses); this
adds them up. "self" is the innermost frame of each sample, "inclusive" counts a frame
once per sample that has it anywhere on its stack; "library" is the innermost frame's
package (fleetlogoff modules by their own name).

Usage (from the repo root):
    .venv/bin/python benchmarks/profile_top.py PROFILE.json [--top 30] [--match TEXT]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_STDLIB_HINTS = ("/lib/python3", "<frozen")


def library_of(path: str) -> str:
    """A frame's package: site-packages/<pkg>, fleetlogoff/<module>, or stdlib/<module>."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/fleetlogoff/" in path:
        rest = path.split("/fleetlogoff/", 1)[1]
        return "fleetlogoff." + rest.removesuffix(".py").replace("/", ".").split(".")[0]
    if any(hint in path for hint in _STDLIB_HINTS):
        return "stdlib." + Path(path).stem
    return Path(path).stem or "?"


def _frame_name(frame: dict[str, Any]) -> str:
    where = f"{Path(frame.get('file', '?')).name}:{frame.get('line', 0)}"
    return f"{frame.get('name', '?')} ({where})"


def summarise(
    document: dict[str, Any], match: str | None
) -> tuple[float, Counter[str], Counter[str], Counter[str]]:
    """(total weight, self, inclusive, by library) of every sample (matching `match`)."""
    frames = document["shared"]["frames"]
    names = [_frame_name(f) for f in frames]
    libraries = [library_of(f.get("file", "")) for f in frames]
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_library: Counter[str] = Counter()
    total = 0.0
    for profile in document["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            if match and not any(match in names[i] for i in stack):
                continue
            total += weight
            self_time[names[stack[-1]]] += weight
            by_library[libraries[stack[-1]]] += weight
            for name in {names[i] for i in stack}:
                inclusive[name] += weight
    return total, self_time, inclusive, by_library


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", help="only samples with a frame whose name contains this")
    args = parser.parse_args(argv)
    document = json.loads(args.profile.read_text(encoding="utf-8"))
    total, self_time, inclusive, by_library = summarise(document, args.match)
    if not total:
        print("no samples")
        return 1
    for title, counter in (
        ("by library (innermost frame)", by_library),
        ("self", self_time),
        ("inclusive", inclusive),
    ):
        print(f"== {title}: {total:.2f} s of samples")
        for name, weight in counter.most_common(args.top):
            print(f"{100 * weight / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
