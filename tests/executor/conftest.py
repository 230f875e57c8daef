"""Every executor test runs twice: hosts on the executor's own threads, and hosts in a
worker (the process model's protocol: the worker's own ledger, events adopted by the
parent's, logoff_sent records written by the parent before the worker may act)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fakes import MODE


@pytest.fixture(autouse=True, params=[0, 1], ids=["threads", "worker"])
def _hosts_mode(request: pytest.FixtureRequest) -> Iterator[int]:
    MODE.workers = request.param
    yield request.param
    MODE.workers = 0
