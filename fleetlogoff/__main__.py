"""Console entry point: the only place that calls sys.exit."""

from __future__ import annotations

import sys


def run() -> None:
    from fleetlogoff.cli import main

    sys.exit(int(main(sys.argv[1:])))


if __name__ == "__main__":
    run()
