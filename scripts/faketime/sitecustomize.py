"""Loaded by every Python that scripts/test-dates starts (PYTHONPATH): works around
libfaketime's clock_nanosleep under Python 3.11.

With FAKETIME_DONT_FAKE_MONOTONIC=1 (the monotonic clock stays real, so every timeout,
Event.wait and Condition.wait behaves), libfaketime still rewrites the absolute deadline
Python's time.sleep() passes to clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), and the
call fails with EINVAL. Event.wait() reaches the same monotonic deadline through a
condition variable, which libfaketime leaves alone. Outside test-dates (no FAKETIME in
the environment) nothing changes.
"""

from __future__ import annotations

import os
import threading
import time

if os.environ.get("FAKETIME") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        threading.Event().wait(seconds)

    time.sleep = _sleep
