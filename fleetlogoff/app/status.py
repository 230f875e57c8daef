"""Exit codes, documented in the README."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes, documented in the README."""

    OK = 0
    ERROR = 1  # some host or some action failed; the rest was done
    CHANGES = 2  # plan --detailed-exitcode: sessions would be logged off
    NOTHING_TO_DO = 3  # apply: nothing to log off
    REFUSED = 4  # apply refused to act: stale/invalid plan, window closed, no --yes
    USAGE = 64  # bad flags, inventory, rules or input file
    INTERRUPTED = 130  # Ctrl-C or SIGTERM
