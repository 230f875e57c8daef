"""The audit trail: one JSON line per event, flushed and fsynced as it happens, so a crash
or a kill -9 leaves a true record of everything done up to that moment (schema:
docs/audit-and-report.md).

Every write is checked: a short write, a full disk (ENOSPC, EFBIG) or an I/O error (EIO)
raises AuditError, and the partial line is cut off again so the file stays whole lines.
apply then acts on nothing more: a logoff whose logoff_sent line cannot be written is not
sent.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from fleetlogoff.events import Event, RecordError

# os.write's shape, injected by tests to simulate short writes and full disks.
Writer = Callable[[int, bytes], int]
AUDIT_FORMAT = 1  # the `v` of every line; docs/audit-and-report.md


class AuditError(RecordError):
    """The audit log cannot be opened or written; apply acts on nothing without it.

    Attributes:
        path: the audit log.
        reason: what failed, in the system's words.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"audit log {path}: {reason}")


def default_audit_path(environ: Mapping[str, str]) -> Path:
    """$XDG_STATE_HOME/fleetlogoff/audit.jsonl, else ~/.local/state/fleetlogoff/audit.jsonl."""
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return Path(base).expanduser() / "fleetlogoff" / "audit.jsonl"


def event_record(event: Event, run_id: str) -> dict[str, object]:
    """One audit line: the format version, the run id, then the event's own fields."""
    return {**event.document(), "v": AUDIT_FORMAT, "run": run_id}


_NOT_A_FILE = "not a regular file (a FIFO, device or socket cannot keep an audit log)"


def _open_log(path: Path) -> int:
    """The log's descriptor, for appending. O_APPEND: concurrent runs interleave whole
    lines, never overwrite each other. O_NONBLOCK: opening a FIFO that nobody reads
    would block for ever (it fails at once instead, and a FIFO is refused anyway)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO without a reader
            raise AuditError(path, _NOT_A_FILE) from None
        raise
    os.set_blocking(fd, True)
    return fd


class AuditLog:
    """Append-only JSON lines; thread-safe; every line on disk before `write` returns."""

    def __init__(self, path: Path, run_id: str, writer: Writer = os.write) -> None:
        self.path = path
        self._run_id = run_id
        self._write = writer
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = _open_log(path)
        except OSError as exc:
            raise AuditError(path, f"cannot open: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            os.close(self._fd)
            raise AuditError(path, _NOT_A_FILE)

    @property
    def run_id(self) -> str:
        """The id every record of this run carries."""
        return self._run_id

    def write(self, event: Event) -> None:
        """Append one event's line and fsync it.

        Raises:
            AuditError: the line is not (wholly) on disk.
        """
        self.write_many([event])

    def write_many(self, events: Sequence[Event]) -> None:
        """Append the events' lines with one write and one fsync (a burst of events from
        worker processes: one fsync for all of them, not one each); all or none of them
        stay in the file.

        Raises:
            AuditError: the lines are not (wholly) on disk.
        """
        if not events:
            return
        lines = (
            json.dumps(event_record(event, self.run_id), ensure_ascii=False, sort_keys=True)
            for event in events
        )
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        with self._lock:
            written = 0
            try:
                while written < len(data):
                    count = self._write(self._fd, data[written:])
                    if count <= 0:
                        raise OSError(0, "short write: nothing written")
                    written += count
                os.fsync(self._fd)
            except OSError as exc:
                self._cut_partial_line(written)
                reason = exc.strerror or str(exc)
                raise AuditError(self.path, f"write failed: {reason}") from exc

    def _cut_partial_line(self, written: int) -> None:
        """Take back what made it to disk of lines that failed, if it is still the file's
        end (another run appending meanwhile keeps its line: then ours stays cut short)."""
        if written <= 0:
            return
        try:
            ours_end = os.lseek(self._fd, 0, os.SEEK_CUR)  # O_APPEND: just past our bytes
            if os.fstat(self._fd).st_size == ours_end:
                os.ftruncate(self._fd, ours_end - written)
        except OSError:
            pass  # the disk is failing: the reader skips a line that is not JSON

    def close(self) -> None:
        """Close the file (every line is already on disk)."""
        with self._lock:
            os.close(self._fd)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
