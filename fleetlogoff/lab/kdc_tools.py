"""Processes and ports for the lab's KDC: where the MIT tools are, a free port, whether
it answers, and a child that dies with its parent. Split from kdc.py, which runs the realm."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

from fleetlogoff.lab.server_errors import LabError

TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local")
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class KdcError(LabError):
    """The realm could not be created, started or changed."""


def find_tool(name: str) -> str | None:
    """Where an MIT Kerberos admin tool is (they live in sbin, often not on a user's PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in _SBIN:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def missing_tools() -> list[str]:
    """The MIT KDC programs this machine lacks (Debian: krb5-kdc, krb5-admin-server)."""
    return [name for name in TOOLS if find_tool(name) is None]


def die_with_parent() -> None:
    """In the child before exec: have Linux send SIGTERM to krb5kdc when the thread that
    started it ends (PR_SET_PDEATHSIG), so a lab killed with SIGKILL leaves no KDC behind.
    Start realms from a thread that lives as long as the realm (the main thread)."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def tool_path(name: str) -> str:
    path = find_tool(name)
    if path is None:
        raise KdcError(f"{name} not found; install krb5-kdc and krb5-admin-server")
    return path


def free_port() -> int:
    # The port is free for both protocols when we look; krb5kdc binds it moments later.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False
