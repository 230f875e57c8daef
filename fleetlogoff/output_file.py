"""Files the tool writes for its user (a saved plan, a report), through checked paths.

`prepare_output` checks a path before any work is done, so a typo costs nothing; the write
itself is atomic (a temp file beside the target, fsync, rename), and the target is checked
again right before the rename. Only a regular file is ever replaced: never a directory, a
symbolic link, a FIFO, a socket or a device (as root, `-o /dev/full` must not turn a device
node into a plan file).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from fleetlogoff.errors import FleetLogoffError, UsageError


class OutputPathError(UsageError):
    """An output path cannot take the file (bad input: exit code 64).

    Attributes:
        path: the path as given.
        reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class OutputWriteError(FleetLogoffError):
    """Writing an output file failed (disk full, I/O error); the old file, if any, is kept.

    Attributes:
        path: the path as given.
        reason: the system's words.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: cannot write: {reason}")


def prepare_output(path: str) -> Path:
    """Check that `path` can take a file: its folder exists and is writable, and the path is
    absent or a writable regular file.

    Returns:
        The absolute path.

    Raises:
        OutputPathError: with one line saying what is wrong.
    """
    if not path or path.endswith(("/", os.sep)):
        raise OutputPathError(path, "names a folder, not a file")
    target = Path(path).absolute()
    _check_existing(path, target)
    folder = target.parent
    if not folder.is_dir():
        raise OutputPathError(path, f"its folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(path, f"its folder {folder} is not writable")
    return target


def _check_existing(path: str, target: Path) -> None:
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputPathError(path, f"cannot check it: {exc.strerror}") from exc
    if stat.S_ISLNK(mode):
        raise OutputPathError(path, "is a symbolic link: not replaced (give the real path)")
    if stat.S_ISDIR(mode):
        raise OutputPathError(path, "is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise OutputPathError(path, "is a special file (device, FIFO or socket): not replaced")
    if not os.access(target, os.W_OK):
        raise OutputPathError(path, "is not writable")


def write_atomically(path: str, data: bytes) -> Path:
    """Write `data` to `path`: a crash leaves the old file or the new one, never half of one.

    Raises:
        OutputPathError: the path is (now) not one to write.
        OutputWriteError: the write failed; nothing was replaced.
    """
    target = prepare_output(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputWriteError(path, exc.strerror or str(exc)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)  # a buffered write raises on a short write (ENOSPC, EFBIG)
            handle.flush()
            os.fsync(handle.fileno())
        _check_existing(path, target)  # changed into something special meanwhile?
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputWriteError(path, exc.strerror or str(exc)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)
    return target


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the directory); best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
