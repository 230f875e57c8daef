"""Files a user names may be FIFOs, devices or folders: reading one is bounded and never
blocks (a FIFO nobody writes reads as empty), and every command says so in one line."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.audit import AuditError, AuditLog
from fleetlogoff.input_file import read_bounded
from fleetlogoff.model import Host
from fleetlogoff.transport import HostSession
from tests.cliutil import Result, run_cli

HANG_S = 60.0  # only a broken build gets anywhere near this: the reads return at once


def test_a_regular_file_is_read_up_to_one_byte_past_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    assert read_bounded(path, 100) == b"0123456789"
    assert read_bounded(path, 4) == b"01234"  # more than the bound: the caller refuses it


def test_a_device_that_never_ends_stops_at_the_bound() -> None:
    assert read_bounded("/dev/zero", 3 * 2**20) == b"\0" * (3 * 2**20 + 1)


def test_a_fifo_without_a_writer_reads_as_empty_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_bounded(fifo, 100) == b""


def test_a_fifo_with_a_writer_is_read_as_a_pipe(tmp_path: Path) -> None:
    """What a shell's `-i <(generate-inventory)` gives: the writer is there first."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"all:\n  hosts: {}\n")
    os.close(write_end)
    try:
        assert read_bounded(f"/proc/self/fd/{read_end}", 100) == b"all:\n  hosts: {}\n"
    finally:
        os.close(read_end)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        read_bounded(tmp_path, 100)


def test_an_audit_log_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    with pytest.raises(AuditError, match="not a regular file"):
        AuditLog(fifo, "run")
    with pytest.raises(AuditError, match="not a regular file"):
        AuditLog(Path("/dev/null"), "run")


class NoNetwork:
    """Every line here fails on its input first: no host is ever opened (or resolved)."""

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        raise AssertionError(f"{host.name} was contacted")


def _run(argv: list[str]) -> Result:
    """run_cli on a thread: a blocked open() would otherwise hang the suite."""
    results: list[Result] = []
    runner = threading.Thread(
        target=lambda: results.append(run_cli(argv, connector=NoNetwork())), daemon=True
    )
    runner.start()
    runner.join(HANG_S)
    assert not runner.is_alive(), f"{argv} blocked"
    return results[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["plan", "{fifo}"], ExitStatus.USAGE),
        (["plan", "-i", "{fifo}"], ExitStatus.USAGE),
        (["apply", "{fifo}", "--yes"], ExitStatus.USAGE),
        (["show", "{fifo}"], ExitStatus.USAGE),
        (["show", "/dev/zero"], ExitStatus.USAGE),
        (["parse", "quser", "{fifo}"], ExitStatus.USAGE),
        (["parse", "quser", "/dev/zero"], ExitStatus.USAGE),
        (["plan", "h1,", "--rules", "{fifo}"], ExitStatus.USAGE),
        (["plan", "h1,", "--limit", "@{fifo}"], ExitStatus.USAGE),
        (["plan", "h1,", "--vault-password-file", "{fifo}"], ExitStatus.USAGE),
        (["logoff", "2", "--server", "h1", "-i", "{fifo}"], ExitStatus.USAGE),
    ],
)
def test_every_command_answers_a_fifo_or_a_device_in_one_line(
    tmp_path: Path, argv: list[str], expected: ExitStatus
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = _run([word.replace("{fifo}", str(fifo)) for word in argv])
    assert result.status == expected, result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("fleetlogoff: error")
