"""One run at a time per inventory or plan: a lock the kernel holds for the process.

Each key (the canonical path of an inventory, of a plan) names a lock file in the state
directory, locked with flock(2). The kernel drops a flock when the last descriptor of
its open file is closed, which happens when the process dies, kill -9 included: the
lock can never go stale, and there is no pid file to clean up or to trust. The holder
writes who it is (pid, user, controller, start time, command) into the file it holds,
so a refused run can say who is in the way.

Forked children (collect's worker processes) inherit the descriptor and with it the
lock, which would outlive a killed parent; they close it at once (os.register_at_fork).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fleetlogoff.errors import FleetLogoffError
from fleetlogoff.inventory.files import split_sources

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "FLEETLOGOFF_LOCK_DIR"
# What is shown of a holder's record: enough for a person, bounded against a huge file.
_MAX_RECORD_BYTES = 4096


class RunLockedError(FleetLogoffError):
    """Another run holds the lock, or no lock could be taken (apply refuses: code 4).

    Attributes:
        key: what the lock protects ("inventory /path/inv.yml").
        holder: the holder's record as it wrote it ({} when unknown).
    """

    def __init__(self, key: str, reason: str, holder: Mapping[str, object] | None = None):
        self.key = key
        self.holder = dict(holder or {})
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock: written into the lock file, shown to a refused run."""

    pid: int
    user: str
    controller: str
    started: str
    command: str

    def record(self, key: str) -> dict[str, object]:
        return {
            "key": key,
            "pid": self.pid,
            "user": self.user,
            "controller": self.controller,
            "started": self.started,
            "command": self.command,
        }


def lock_dir(environ: Mapping[str, str]) -> Path:
    """$FLEETLOGOFF_LOCK_DIR, else the state directory's locks/ (beside the audit log).

    A team that shares a controller points FLEETLOGOFF_LOCK_DIR at one directory all its
    admins can write, so their runs exclude each other too.
    """
    explicit = environ.get(LOCK_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return Path(base).expanduser() / "fleetlogoff" / "locks"


def inventory_key(path: str) -> str:
    """The lock key of an inventory: its canonical path (symlinks and `..` resolved)."""
    return f"inventory {os.path.realpath(path)}"


def inventory_keys(sources: str) -> list[str]:
    """The lock keys of inventory sources as files.join_sources names them: one per source.

    `-i a.yml -i b.yml` is named by one JSON string; as one key its "canonical path" would
    be that string under the current folder, so two runs of the same sources from two
    folders, or a run of a.yml beside a run of a.yml and b.yml, would not exclude each
    other. A key per source makes any shared source exclude.
    """
    return [inventory_key(source) for source in split_sources(sources)]


def plan_key(path: str) -> str:
    """The lock key of a plan file: its canonical path."""
    return f"plan {os.path.realpath(path)}"


def host_key(address: str, port: int) -> str:
    """The lock key of one host reached without an inventory."""
    return f"host {address.lower()}:{port}"


def describe_holder(record: Mapping[str, object]) -> str:
    """One line about a holder: `pid 123 (alice on ctl-01, since ..., 'apply plan.json')`."""
    if not record:
        return "another run (it has not said who it is yet)"
    return (
        f"pid {record.get('pid', '?')} ({record.get('user', '?')} on "
        f"{record.get('controller', '?')}, since {record.get('started', '?')}, "
        f"{str(record.get('command', '?'))!r})"
    )


class _Held:
    """The descriptors this process holds locks on (closed in forked children)."""

    lock = threading.Lock()
    fds: set[int] = set()

    @classmethod
    def close_in_child(cls) -> None:
        for fd in list(cls.fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        cls.fds.clear()
        cls.lock = threading.Lock()  # the parent's threads are gone: a fresh lock


os.register_at_fork(after_in_child=_Held.close_in_child)


@contextlib.contextmanager
def hold_run_lock(
    keys: Sequence[str],
    environ: Mapping[str, str],
    command: str,
    clock: Callable[[], datetime],
) -> Iterator[None]:
    """Hold every key's lock for the duration of the block, or refuse at once.

    Args:
        keys: what the run acts on (inventory_key, plan_key, host_key); duplicates ignored.
        environ: where the state directory is (XDG_STATE_HOME, HOME, FLEETLOGOFF_LOCK_DIR).
        command: what this run is, for whoever is refused because of it.
        clock: the time recorded as the start of the run.

    Raises:
        RunLockedError: a key is held by another run (named), or the lock directory
            cannot be used (no lock, no run).
    """
    directory = lock_dir(environ)
    holder = Holder(
        pid=os.getpid(),
        user=_user(environ),
        controller=socket.gethostname(),
        started=clock().isoformat(timespec="seconds"),
        command=command,
    )
    taken: list[int] = []
    try:
        for key in sorted(set(keys)):  # one order for every run: no lock-order deadlock
            taken.append(_take(directory, key, holder))
        yield
    finally:
        for fd in taken:
            _release(fd)


def _take(directory: Path, key: str, holder: Holder) -> int:
    name = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".lock"
    path = directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_NOFOLLOW: a symlink planted at the lock's name is refused, never written to.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise RunLockedError(
            key, f"cannot take the run lock in {directory}: {exc.strerror or exc}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        record = _read_record(fd)
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunLockedError(key, f"cannot take the run lock {path}: {exc.strerror}") from None
        raise RunLockedError(
            key, f"{key} is in use by {describe_holder(record)}: wait for it or stop it", record
        ) from None
    with _Held.lock:
        _Held.fds.add(fd)
    _write_record(fd, holder.record(key))
    log.debug("run lock %s taken (%s)", key, path)
    return fd


def _release(fd: int) -> None:
    with _Held.lock:
        _Held.fds.discard(fd)
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)  # the next holder writes its own record; none left stale
    with contextlib.suppress(OSError):
        os.close(fd)  # closing drops the flock


def _write_record(fd: int, record: Mapping[str, object]) -> None:
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError as exc:  # the lock holds all the same; only the courtesy is lost
        log.warning("run lock: cannot record the holder: %s", exc.strerror)


def _read_record(fd: int) -> dict[str, object]:
    try:
        data = os.pread(fd, _MAX_RECORD_BYTES, 0)
        record = json.loads(data.decode("utf-8", "replace"))
    except (OSError, ValueError):
        return {}  # being written this very moment, or unreadable: still held
    return record if isinstance(record, dict) else {}


def _user(environ: Mapping[str, str]) -> str:
    try:
        return environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
