"""Plans and reports go through checked paths: prepared before any work, written atomically,
and never replacing a directory, a symlink, a FIFO or a device."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fleetlogoff.output_file import (
    OutputPathError,
    OutputWriteError,
    prepare_output,
    write_atomically,
)


def test_a_new_file_and_a_regular_file_are_fine(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    assert prepare_output(str(target)) == target
    write_atomically(str(target), b"one")
    write_atomically(str(target), b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temp file left


def test_a_missing_folder_is_refused_before_anything(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="does not exist"):
        prepare_output(str(tmp_path / "nope" / "report.json"))


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="is a folder"):
        prepare_output(str(tmp_path))
    with pytest.raises(OutputPathError, match="names a folder"):
        prepare_output(str(tmp_path) + "/")


def test_a_symlink_is_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(OutputPathError, match="symbolic link"):
        write_atomically(str(link), b"new")
    assert link.is_symlink() and real.read_text() == "keep"


def test_a_fifo_is_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputPathError, match="special file"):
        write_atomically(str(fifo), b"new")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a device node")
def test_a_device_is_not_replaced_even_by_root(tmp_path: Path) -> None:
    """What `plan -o /dev/full` as root did: replace the device node with a plan file. A
    copy of /dev/full's node (char 1:7) inside the temp dir stands in for it."""
    device = tmp_path / "full"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    with pytest.raises(OutputPathError, match="special file"):
        write_atomically(str(device), b"{}")
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_a_read_only_file_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may write any file")
    target = tmp_path / "ro.json"
    target.write_text("keep")
    target.chmod(0o444)
    with pytest.raises(OutputPathError, match="not writable"):
        prepare_output(str(target))


FULL_DISK = """
import resource, sys
from fleetlogoff.output_file import OutputWriteError, write_atomically
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))  # the disk holds 1000 bytes a file
try:
    write_atomically(sys.argv[1], b"x" * 5000)
except OutputWriteError as exc:
    print(exc)
"""


def test_a_full_disk_keeps_the_old_file_and_says_so(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("the old report")
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(target)], capture_output=True, text=True, check=True
    )
    assert "cannot write: File too large" in done.stdout
    assert target.read_text() == "the old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_write_errors_name_the_path() -> None:
    error = OutputWriteError("r.json", "No space left on device")
    assert str(error) == "r.json: cannot write: No space left on device"
