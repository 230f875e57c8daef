"""Reading a file a user named, whatever it turns out to be: bounded, and never blocked.

Inventories, rules, plans, --limit @files, vault password files and saved outputs are
paths on a command line, and a path can name a FIFO, a device or a directory.
`open()` of a FIFO blocks until a writer appears, forever if none does, and SIGTERM
cannot end it (Python retries the interrupted open after running the handler, PEP 475);
reading /dev/zero never ends. Here the file is opened non-blocking (a FIFO without a
writer then reads as empty, at once; one with a writer, such as the pipe of a shell's
`<(command)`, reads as usual) and read up to a bound.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_CHUNK = 2**20


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The file's bytes, at most `limit` + 1 of them (more than `limit`: too large).

    Args:
        path: the file.
        limit: the largest size the caller accepts.

    Raises:
        OSError: it cannot be opened or read; IsADirectoryError for a directory.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        # Blocking again for the reads: a FIFO with a writer waits for its data, and one
        # without a writer is at its end (read() returns b"", POSIX read()).
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
