"""The audit log keeps whole lines or says it cannot: short writes, a full disk, I/O errors."""

from __future__ import annotations

import errno
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetlogoff.app.record import RunRecord
from fleetlogoff.audit import AuditError, AuditLog, default_audit_path, event_record
from fleetlogoff.events import ErrorInfo, Event, Kind
from fleetlogoff.recap import Recap

WHEN = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def event(kind: Kind = Kind.WARNED, **kwargs: object) -> Event:
    return Event(kind, WHEN, host="rds01", session_id=2, username="ann", **kwargs)  # type: ignore[arg-type]  # keyword table


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Disk:
    """os.write that takes `room` more bytes, writes part of what does not fit, then fails."""

    def __init__(self, room: int, error: int = errno.ENOSPC) -> None:
        self.room = room
        self.error = error

    def write(self, fd: int, data: bytes) -> int:
        if self.room <= 0:
            raise OSError(self.error, os.strerror(self.error))
        part = data[: self.room]
        self.room -= len(part)
        return os.write(fd, part)


def test_every_line_is_whole_json_with_run_and_version(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    error = ErrorInfo("TransportError", "reset", "connection lost", None)
    with AuditLog(path, "run1") as audit:
        audit.write(event(reason="hello", data={"deadline": "x"}))
        audit.write(event(Kind.HOST_UNREACHABLE, error=error))
    first, second = lines(path)
    assert first["run"] == "run1" and first["v"] == 1 and first["deadline"] == "x"
    assert second["error"] == {
        "type": "TransportError",
        "kind": "reset",
        "reason": "connection lost",
        "code": None,
    }


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EFBIG, errno.EIO])
def test_a_short_write_then_a_failure_leaves_only_whole_lines(tmp_path: Path, error: int) -> None:
    path = tmp_path / "audit.jsonl"
    first_line = len(json.dumps(event_record(event(), "r"), sort_keys=True)) + 1
    disk = Disk(room=first_line + 10, error=error)
    with AuditLog(path, "r", writer=disk.write) as audit:
        audit.write(event())
        with pytest.raises(AuditError, match=os.strerror(error)):
            audit.write(event(Kind.LOGOFF_SENT))
    assert [r["event"] for r in lines(path)] == ["warned"]  # the 10 bytes were taken back


def test_a_writer_that_writes_nothing_is_a_failure(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "a.jsonl", "r", writer=lambda fd, data: 0)
    with audit, pytest.raises(AuditError, match="short write"):
        audit.write(event())


def test_an_unopenable_audit_log_is_an_audit_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AuditError, match="cannot open"):
        AuditLog(blocker / "audit.jsonl", "r")


def test_default_path_follows_xdg() -> None:
    assert default_audit_path({"XDG_STATE_HOME": "/s"}) == Path("/s/fleetlogoff/audit.jsonl")
    assert default_audit_path({"HOME": "/h"}) == Path("/h/.local/state/fleetlogoff/audit.jsonl")


def test_the_run_record_stops_the_run_and_refuses_pre_records(tmp_path: Path) -> None:
    stop = threading.Event()
    shown: list[Kind] = []
    recap = Recap(["rds01"])
    disk = Disk(room=0)
    with AuditLog(tmp_path / "a.jsonl", "r", writer=disk.write) as audit:
        record = RunRecord(audit, recap, lambda e: shown.append(e.kind), stop)
        record.emit(event(Kind.WARNED))  # fails to be written: the run must stop
        assert stop.is_set() and record.failure is not None
        with pytest.raises(AuditError):
            record.emit(event(Kind.LOGOFF_SENT))  # no record, no act
        record.emit(event(Kind.NOT_ATTEMPTED))
    assert shown == [Kind.WARNED, Kind.NOT_ATTEMPTED]  # the screen still shows the facts
    assert recap.total("warned") == 1 and recap.total("not_attempted") == 1
