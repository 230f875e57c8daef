"""The audit trail: one JSON line per event, flushed and fsynced as it happens, so a crash
or a kill -9 leaves a true record of everything done up to that moment."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from fleetlogoff.errors import FleetLogoffError
from fleetlogoff.events import Event


class AuditError(FleetLogoffError):
    """The audit log cannot be written; apply refuses to act without one."""


def default_audit_path(environ: Mapping[str, str]) -> Path:
    """$XDG_STATE_HOME/fleetlogoff/audit.jsonl, else ~/.local/state/fleetlogoff/audit.jsonl."""
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return Path(base).expanduser() / "fleetlogoff" / "audit.jsonl"


def event_record(event: Event, run_id: str) -> dict[str, object]:
    record: dict[str, object] = {
        "time": event.time.isoformat(timespec="milliseconds"),
        "run": run_id,
        "event": event.kind.value,
    }
    if event.host is not None:
        record["host"] = event.host
    if event.session_id is not None:
        record["session_id"] = event.session_id
    if event.username is not None:
        record["username"] = event.username
    if event.reason:
        record["reason"] = event.reason
    record.update(event.data)
    return record


class AuditLog:
    """Append-only JSON lines; thread-safe; every line on disk before `write` returns."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self._run_id = run_id
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: concurrent runs interleave whole lines, never overwrite each other.
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"audit log {path}: cannot open: {exc.strerror}") from exc

    @property
    def run_id(self) -> str:
        """The id every record of this run carries."""
        return self._run_id

    def write(self, event: Event) -> None:
        line = json.dumps(event_record(event, self._run_id), ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            try:
                os.write(self._fd, data)
                os.fsync(self._fd)
            except OSError as exc:
                raise AuditError(f"audit log {self.path}: write failed: {exc.strerror}") from exc

    def close(self) -> None:
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
