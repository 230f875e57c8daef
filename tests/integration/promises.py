"""apply's promises, checked from the lab's own records (shared by the fault tests)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fleetlogoff.lab.host import SimHost

Key = tuple[str, int, str]  # host, session id, user


def assert_logoffs_kept_promises(
    host: SimHost,
    planned: Collection[Key],
    announced: Collection[Key],
    warn_s: float,
    not_ours: Collection[str] = (),
) -> None:
    """Every logoff the tool made on `host` (but those of users in `not_ours`) was planned,
    announced by a logoff_sent record, and preceded by a message delivered to that very
    session at least `warn_s` before."""
    state: dict[str, Any] = host.state()
    for logoff in (lo for lo in state["logoffs"] if lo["by"] == "logoff"):
        if logoff["user"] in not_ours:
            continue
        key = (host.name, logoff["session_id"], logoff["user"])
        assert key in planned, f"a session outside the plan was logged off: {key}"
        assert key in announced, f"a logoff the audit never announced: {key}"
        warned_at = [
            m["time"]
            for m in state["messages"]
            if (m["session_id"], m["user"]) == (logoff["session_id"], logoff["user"])
        ]
        assert warned_at, f"logged off without a delivered warning: {key}"
        assert logoff["time"] - min(warned_at) >= warn_s, key
