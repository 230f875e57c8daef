"""The run lock: one run per key, the holder named, released by the kernel on kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetlogoff.inventory.files import join_sources
from fleetlogoff.runlock import (
    RunLockedError,
    describe_holder,
    hold_run_lock,
    inventory_key,
    inventory_keys,
    lock_dir,
)

START = datetime(2026, 3, 13, 9, 30, tzinfo=UTC)


def _environ(tmp_path: Path) -> dict[str, str]:
    return {"XDG_STATE_HOME": str(tmp_path / "state"), "USER": "alice"}


def _clock() -> datetime:
    return START


def _refused(keys: list[str], environ: dict[str, str], match: str | None = None) -> RunLockedError:
    """The error a second run gets (the test fails if it gets the lock)."""
    with (
        pytest.raises(RunLockedError, match=match) as refused,
        hold_run_lock(keys, environ, "2nd", _clock),
    ):
        pytest.fail("two runs held one lock")
    return refused.value


def test_a_second_holder_of_the_same_key_is_refused_and_told_who_holds_it(tmp_path: Path) -> None:
    environ = _environ(tmp_path)
    key = inventory_key(str(tmp_path / "inv.yml"))
    with hold_run_lock([key], environ, "fleetlogoff apply inv.yml", _clock):
        refused = _refused([key], environ)
    text = str(refused)
    assert f"pid {os.getpid()}" in text and "alice on " in text
    assert "2026-03-13T09:30:00+00:00" in text and "'fleetlogoff apply inv.yml'" in text
    assert refused.holder["command"] == "fleetlogoff apply inv.yml"
    # Released at the end of the block: the next run proceeds.
    with hold_run_lock([key], environ, "fleetlogoff apply later", _clock):
        pass


def test_one_inventory_spelled_two_ways_is_one_key(tmp_path: Path) -> None:
    (tmp_path / "inv.yml").write_text("all: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.yml").symlink_to(tmp_path / "inv.yml")
    spellings = [
        str(tmp_path / "inv.yml"),
        str(tmp_path / "sub" / ".." / "inv.yml"),
        str(tmp_path / "link.yml"),
    ]
    assert len({inventory_key(s) for s in spellings}) == 1


def test_several_sources_lock_each_source_wherever_the_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-i a.yml -i b.yml` from two folders, or beside a run of a.yml alone, excludes."""
    environ = _environ(tmp_path)
    for name in ("a.yml", "b.yml"):
        (tmp_path / name).write_text("all: {}\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    both_here = inventory_keys(join_sources(["a.yml", "b.yml"]))
    monkeypatch.chdir(tmp_path / "sub")
    both_from_sub = inventory_keys(join_sources(["../a.yml", "../b.yml"]))
    assert both_here == both_from_sub == [inventory_key(str(tmp_path / f"{n}.yml")) for n in "ab"]
    with hold_run_lock(both_here, environ, "a and b", _clock):
        _refused(both_from_sub, environ)
        _refused(inventory_keys(str(tmp_path / "b.yml")), environ)


def test_other_keys_do_not_block_each_other(tmp_path: Path) -> None:
    environ = _environ(tmp_path)
    with (
        hold_run_lock([inventory_key("/a.yml")], environ, "a", _clock),
        hold_run_lock([inventory_key("/b.yml")], environ, "b", _clock),
    ):
        pass


def test_a_partly_taken_set_of_keys_is_released_when_one_is_held(tmp_path: Path) -> None:
    environ = _environ(tmp_path)
    a, b = inventory_key("/a.yml"), inventory_key("/b.yml")
    with hold_run_lock([b], environ, "holds b", _clock):
        _refused([a, b], environ)
        with hold_run_lock([a], environ, "a is free again", _clock):
            pass


def test_an_unusable_lock_directory_refuses_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    environ = {"FLEETLOGOFF_LOCK_DIR": str(blocker / "locks")}
    _refused(["k"], environ, "cannot take the run lock")


def test_a_symlink_at_the_locks_name_is_refused_not_followed(tmp_path: Path) -> None:
    environ = _environ(tmp_path)
    target = tmp_path / "precious"
    target.write_text("keep me")
    with hold_run_lock(["k"], environ, "x", _clock):
        pass
    (lock_file,) = lock_dir(environ).iterdir()
    lock_file.unlink()
    lock_file.symlink_to(target)
    _refused(["k"], environ, "cannot take the run lock")
    assert target.read_text() == "keep me"


_HOLDER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from fleetlogoff.runlock import hold_run_lock
    environ = {"XDG_STATE_HOME": sys.argv[2]}
    start = datetime(2026, 3, 13, 9, 30, tzinfo=UTC)
    with hold_run_lock([sys.argv[1]], environ, "holder", lambda: start):
        print("held", flush=True)
        sys.stdin.read()  # holds the lock until killed (or its stdin closes)
    """
)


def test_kill_9_of_the_holder_never_leaves_a_stale_lock(tmp_path: Path) -> None:
    environ = _environ(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, "k", environ["XDG_STATE_HOME"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        _refused(["k"], environ, f"pid {holder.pid} ")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()
    with hold_run_lock(["k"], environ, "after the kill", _clock):
        pass


def test_a_forked_child_does_not_keep_the_lock_alive(tmp_path: Path) -> None:
    environ = _environ(tmp_path)
    read, write = os.pipe()
    with hold_run_lock(["k"], environ, "parent", _clock):
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            os.close(read)
            os.write(write, b"x")
            signal.pause()
        os.close(write)
        os.read(read, 1)
    try:
        # The parent left the block: the lock is free although the child lives on.
        with hold_run_lock(["k"], environ, "next", _clock):
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(read)


def test_describe_holder_without_a_record() -> None:
    assert "has not said who it is" in describe_holder({})
