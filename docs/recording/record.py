"""Record `plan` and `apply` on a real terminal (tmux) against a 300-host lab with 20 ms of
latency, as text frames: tmux capture-pane snapshots at chosen moments, written to
docs/recording/frames.md.

Usage (from the repo root, tmux installed):
    .venv/bin/python docs/recording/record.py [--out docs/recording/frames.md]

The lab runs in its own process (fleet.yml: latency everywhere, a few hosts down or
refusing the password, three whose logoff leaves the session stuck, one whose logoff is
denied). Each frame is taken when the screen shows what it is meant to show.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SESSION = "fleetlogoff-recording"
WIDTH, HEIGHT = 110, 30


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=True)
    return done.stdout


def screen() -> str:
    """The visible screen, trailing blank lines dropped."""
    return tmux("capture-pane", "-p", "-t", SESSION).rstrip("\n") + "\n"


def wait_for(test: Callable[[str], bool], timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = screen()
        if test(text):
            return text
        time.sleep(0.1)
    raise TimeoutError(f"the screen never showed what was awaited:\n{screen()}")


def type_line(text: str) -> None:
    tmux("send-keys", "-t", SESSION, text, "Enter")


class Frames:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def take(self, title: str, text: str) -> None:
        self.parts.append(f"### {title}\n\n```text\n{text}```\n")


def record_plan(frames: Frames, inventory: Path, plan: Path) -> None:
    type_line(
        f"clear; fleetlogoff plan {inventory.name} --state disconnected --idle '>= 2h' "
        f"-out {plan.name}"
    )
    frames.take(
        "plan: reading 300 hosts (progress on stderr, with an ETA)",
        wait_for(lambda s: re.search(r"Reading sessions .* (\d{2,3})/300", s) is not None),
    )
    frames.take(
        "plan: the end of the plan (targets above, one line each; then unread hosts, "
        "what stays by reason, the summary)",
        wait_for(lambda s: "Plan saved to" in s),
    )


def record_apply(frames: Frames, plan: Path, audit: Path) -> None:
    type_line(f"clear; fleetlogoff apply {plan.name} --warn 30s --remind 10s --audit-log {audit}")
    frames.take("apply: the question", wait_for(lambda s: "[y/N]" in s))
    type_line("y")
    frames.take(
        "apply: warning every user, with progress, counts and an ETA",
        wait_for(
            lambda s: (
                "ETA" in s
                and any(50 <= int(done) < 397 for done in re.findall(r"Warning +\S+ +(\d+)/", s))
            )
        ),
    )
    frames.take(
        "apply: the shared wait, counting down to the logoff, the next reminder announced",
        wait_for(lambda s: "next reminder at" in s),
    )
    frames.take(
        "apply: after the reminder, still counting down to the same logoff",
        wait_for(lambda s: "reminded)" in s),
    )
    frames.take(
        "apply: logging off; problems printed above the live display as they happen",
        wait_for(
            lambda s: (
                ": failed:" in s
                and any(int(done) >= 100 for done in re.findall(r"Logoff +\S+ +(\d+)/", s))
            )
        ),
    )
    frames.take(
        "apply: the recap (totals, then every host with a problem)",
        wait_for(lambda s: "audit log:" in s),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "frames.md")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("record.py: tmux is not installed", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="fleetlogoff-recording-"))
    inventory, plan, audit = work / "inventory.yml", work / "plan.json", work / "audit.jsonl"
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleetlogoff.lab.runner",
            "--hosts",
            "300",
            "--seed",
            "5",
            "--scenario",
            str(HERE / "fleet.yml"),
            "--inventory-out",
            str(inventory),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert lab.stdout is not None
        if "ready" not in lab.stdout.readline():
            raise RuntimeError("the lab did not start")
        tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT))
        type_line(f"cd {work} && export PATH={Path(sys.executable).parent}:$PATH PS1='$ '")
        frames = Frames()
        record_plan(frames, inventory, plan)
        record_apply(frames, plan, audit)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], check=False)
        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=30)
    header = (
        "# A terminal recording of plan and apply\n\n"
        f"`fleetlogoff` on a {WIDTH}x{HEIGHT} tmux terminal against a 300-host lab with 20 ms "
        "of latency on every answer ([fleet.yml](fleet.yml)), recorded by "
        "[record.py](record.py): each frame is a `tmux capture-pane` snapshot taken when the "
        "screen showed it. The lab's clock is its own: dates in the frames are not today's.\n\n"
    )
    args.out.write_text(header + "\n".join(frames.parts), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
