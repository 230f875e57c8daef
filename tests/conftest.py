"""What every test shares: a private state directory, so no test writes run locks or an
audit log into the real home (the suite may run as root, where /nonexistent is creatable)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("HOME", str(state / "home"))
    monkeypatch.delenv("FLEETLOGOFF_LOCK_DIR", raising=False)
    return state
