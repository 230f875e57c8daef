"""Dynamic inventories (executable scripts, plugin configurations such as `plugin:
amazon.aws.aws_ec2` or `constructed`, TOML) read the only way that is faithful: by
ansible-core itself, as `ansible-inventory -i SOURCE... --list`, whose JSON (each host's
variables merged by Ansible) the pure sources module reads.

Without ansible-core such a source is refused with one line saying what to install. The
vault passwords of the run go to ansible-inventory through files in a private temporary
folder (mode 0700, files 0600) that are removed as soon as it has answered.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.vault import Keyring

EXECUTABLE = "ansible-inventory"
# A cloud inventory plugin may page through an API for a while; past five minutes
# something is stuck. Its JSON for 100,000 hosts stays far below 256 MiB.
TIMEOUT_S = 300.0
MAX_OUTPUT = 256 * 2**20
_CHUNK = 2**16


def find_ansible_inventory(environ: Mapping[str, str]) -> str | None:
    """ansible-inventory on PATH, else beside this Python (a virtualenv's bin/)."""
    found = shutil.which(EXECUTABLE, path=environ.get("PATH"))
    if found is None:
        beside = Path(sys.executable).parent / EXECUTABLE
        found = str(beside) if os.access(beside, os.X_OK) else None
    return found


def run_ansible_inventory(
    sources: Sequence[str], keyring: Keyring, environ: Mapping[str, str], *, needing: str
) -> bytes:
    """The JSON `ansible-inventory --list` prints for the sources, in order.

    Args:
        sources: every `-i` source.
        keyring: the run's vault passwords, handed on.
        environ: the environment ansible-inventory runs with.
        needing: the source that needs ansible-core (named in errors).

    Raises:
        ConfigError: ansible-core is not installed, or ansible-inventory failed (its
            error line is kept), took too long or printed too much.
    """
    source = needing
    executable = find_ansible_inventory(environ)
    if executable is None:
        raise ConfigError(
            source,
            0,
            0,
            "an executable inventory script or an inventory plugin configuration is read by "
            "running ansible-inventory, and ansible-core is not installed (pip install "
            "ansible-core, or export it once: ansible-inventory -i SOURCE --list --yaml)",
        )
    with tempfile.TemporaryDirectory(prefix="fleetlogoff-vault-") as folder:
        command = [executable, *(a for s in sources for a in ("-i", s)), "--list"]
        command += _vault_arguments(keyring, Path(folder))
        return _run(command, source, _environment(environ))


def _environment(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    # A source that no plugin can parse is an error, never a warning and no hosts.
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    env["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = "true"
    env["ANSIBLE_NOCOLOR"] = "true"
    return env


def _vault_arguments(keyring: Keyring, folder: Path) -> list[str]:
    arguments: list[str] = []
    for number, secret in enumerate(keyring.secrets):
        path = folder / f"secret-{number}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secret.reveal())
        arguments += ["--vault-id", f"{secret.label}@{path}"]
    return arguments


def _run(command: list[str], source: str, env: dict[str, str]) -> bytes:
    try:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise ConfigError(source, 0, 0, f"cannot run ansible-inventory: {exc.strerror}") from None
    with process:
        try:
            stdout, stderr = _collect(process, source)
        finally:
            if process.poll() is None:
                process.kill()
    if process.returncode != 0:
        raise ConfigError(source, 0, 0, f"ansible-inventory failed: {_error_line(stderr)}")
    return stdout


def _collect(process: subprocess.Popen[bytes], source: str) -> tuple[bytes, bytes]:
    """Both outputs until the process closes them, within TIMEOUT_S and MAX_OUTPUT."""
    if process.stdout is None or process.stderr is None:  # pragma: no cover - PIPE given
        raise ConfigError(source, 0, 0, "ansible-inventory has no output pipes")
    deadline = time.monotonic() + TIMEOUT_S
    buffers: dict[int, bytearray] = {
        process.stdout.fileno(): bytearray(),
        process.stderr.fileno(): bytearray(),
    }
    with selectors.DefaultSelector() as selector:
        for stream in (process.stdout, process.stderr):
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfigError(source, 0, 0, f"ansible-inventory took over {TIMEOUT_S:g} s")
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffers[key.fd] += chunk
                if len(buffers[key.fd]) > MAX_OUTPUT:
                    raise ConfigError(source, 0, 0, "ansible-inventory printed over 256 MiB")
    return bytes(buffers[process.stdout.fileno()]), bytes(buffers[process.stderr.fileno()])


def _error_line(stderr: bytes) -> str:
    """The line that says what went wrong (Ansible prints `[ERROR]: ...` or `ERROR! ...`)."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if "ERROR" in line:
            return line[:300]
    return (lines[-1] if lines else "no message")[:300]
