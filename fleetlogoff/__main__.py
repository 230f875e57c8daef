"""Console entry point: the only place that calls sys.exit."""

from __future__ import annotations

import os
import sys


def run() -> None:
    from fleetlogoff.cli import main

    status = int(main(sys.argv[1:]))
    _flush_or_drop()
    sys.exit(status)


def _flush_or_drop() -> None:
    """A terminal that went away (SIGHUP after a dropped SSH session) fails the final flush;
    Python would then turn the exit code into 120. The run's own code stands."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


if __name__ == "__main__":
    run()
