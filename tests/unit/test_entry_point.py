"""The console entry point's process-wide collector policy."""

from __future__ import annotations

import gc

from fleetlogoff.__main__ import _collect_less


def test_the_collector_runs_less_often_but_still_runs() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        _collect_less()
        assert gc.get_threshold() == (10_000, 10, 10)  # older generations as they were
        assert gc.get_freeze_count() > 0  # the imported modules' objects
        assert gc.isenabled()
        gc.set_threshold(50_000, 5, 5)
        _collect_less()
        assert gc.get_threshold() == (50_000, 5, 5)  # never more often than it was set to
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
