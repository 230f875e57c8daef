"""WinRS cmd shells of one simulated host: Create, Command, Receive, Send, Signal, Delete, Get.

Runs inside the lab's event loop (no locks needed). Host commands run on the loop itself, in a
task of their own: SimulatedHost.run is synchronous and costs tens of microseconds (host.py),
far less than handing it to a worker thread and back (a thread wake-up, a future and a write
to the loop's self-pipe per command), and with the GIL a thread would not run it any sooner.
Their simulated duration is awaited here so one process can serve a thousand hosts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetlogoff.lab import wsman as w
from fleetlogoff.lab import wsman_fault as faults
from fleetlogoff.lab.contract import CommandRequest, CommandResult, SimulatedHost

log = logging.getLogger(__name__)

MAX_TIMEOUT_S = 60.0  # MaxTimeoutms 60000 (capture S14): longer OperationTimeouts are clamped
DEFAULT_IDLE_TIMEOUT_S = 7200.0  # Winrs IdleTimeout 7200000 ms on 2012+ (MS-WSMV note <28>)
MAX_COMMAND_LINE = 8191  # cmd.exe's command-line limit (KB830473); longer lines fault as S15
DEFAULT_MAX_SHELLS_PER_USER = 30  # Winrs MaxShellsPerUser default (MS-WSMV 2.2.4.42, note <34>)
# Service MaxConcurrentOperationsPerUser (capture S14). It also bounds what one client can
# make a host remember: commands are only forgotten with their shell (note <118>).
DEFAULT_MAX_OPERATIONS_PER_USER = 1500
_TRUE = ("TRUE", "1")


# Far above what msg reads; bounds what many Sends to one command can pile up.
_MAX_STDIN_BYTES = 1024 * 1024


@dataclass(slots=True)
class _Command:
    command_id: str
    line: str
    skip_cmd_shell: bool
    stdin: bytearray = field(default_factory=bytearray)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    exit_code: int | None = None
    started: bool = False
    delivered: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class _Shell:
    info: w.ShellInfo
    codepage: int | None
    last_used: float
    commands: dict[str, _Command] = field(default_factory=dict)
    operations: int = 0


@dataclass(frozen=True, slots=True)
class ShellLimits:
    """Winrs quotas and timers a host enforces (configurable so tests stay fast)."""

    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    max_shells_per_user: int = DEFAULT_MAX_SHELLS_PER_USER
    max_operations_per_user: int = DEFAULT_MAX_OPERATIONS_PER_USER


class ShellService:
    """The WinRS cmd-shell provider of one host."""

    def __init__(
        self,
        host: SimulatedHost,
        limits: ShellLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.limits = limits or ShellLimits()
        self._clock = clock
        self._shells: dict[str, _Shell] = {}

    @property
    def shell_count(self) -> int:
        """Open shells (after idle expiry)."""
        self._expire_idle()
        return len(self._shells)

    async def handle(self, request: w.WsmanRequest, user: str, client_ip: str) -> bytes:
        """Answer one WS-Man request for this host.

        Args:
            request: the parsed request.
            user: the authenticated account name.
            client_ip: the peer address (reported as rsp:ClientIP).

        Returns:
            The reply envelope.

        Raises:
            WsmanFault: the request fails the way Windows would fail it.
        """
        timeout = self._operation_timeout(request.operation_timeout)
        self._expire_idle()
        action = request.action
        if action == w.ACTION_GET:
            return self._get(request)
        if request.resource_uri.lower() != w.RESOURCE_CMD:
            raise faults.action_not_supported(action)
        if action == w.ACTION_CREATE:
            return self._create(request, user, client_ip)
        shell = self._find_shell(request)
        shell.last_used = self._clock()
        if action == w.ACTION_COMMAND:
            return self._command(request, shell, user)
        if action == w.ACTION_RECEIVE:
            return await self._receive(request, shell, timeout)
        if action == w.ACTION_SEND:
            return self._send(request, shell, user)
        if action == w.ACTION_SIGNAL:
            return self._signal(request, shell)
        if action == w.ACTION_DELETE:
            self._close(shell)
            return w.build_delete_response(request.message_id)
        raise faults.action_not_supported(action)

    def close_all(self) -> None:
        """Delete every shell, cancelling running commands (lab shutdown)."""
        for shell in list(self._shells.values()):
            self._close(shell)

    @staticmethod
    def _operation_timeout(raw: str | None) -> float:
        if raw is None:
            return MAX_TIMEOUT_S
        try:
            seconds = w.parse_duration(raw)
        except ValueError:
            raise faults.invalid_timeout(raw) from None
        return min(seconds, MAX_TIMEOUT_S)

    def _expire_idle(self) -> None:
        now = self._clock()
        for shell in list(self._shells.values()):
            if now - shell.last_used > shell.info.idle_timeout_s:
                log.info("%s: shell %s idle-expired", self.host.name, shell.info.shell_id)
                self._close(shell)

    def _find_shell(self, request: w.WsmanRequest) -> _Shell:
        shell_id = request.selectors.get("shellid", "")
        # Selector values are case-insensitive on Windows (MS-WSMV 3.1.4.1.2).
        shell = self._shells.get(shell_id.upper())
        if shell is None:
            raise faults.unknown_shell(shell_id)
        return shell

    def _close(self, shell: _Shell) -> None:
        for command in shell.commands.values():
            if command.task is not None:
                command.task.cancel()
        self._shells.pop(shell.info.shell_id, None)

    def _owned_by(self, user: str) -> list[_Shell]:
        return [s for s in self._shells.values() if s.info.owner.lower() == user.lower()]

    def _create(self, request: w.WsmanRequest, user: str, client_ip: str) -> bytes:
        if 0 < self.limits.max_shells_per_user <= len(self._owned_by(user)):
            raise faults.max_shells()
        body = request.body
        idle = self.limits.idle_timeout_s
        requested_idle = _child_text(body, "IdleTimeOut")
        if requested_idle:
            try:
                idle = w.parse_duration(requested_idle)
            except ValueError:
                raise faults.invalid_parameter() from None
        info = w.ShellInfo(
            shell_id=w.new_guid(),
            owner=user,
            client_ip=client_ip,
            idle_timeout_s=idle,
            input_streams=_child_text(body, "InputStreams") or "stdin",
            output_streams=_child_text(body, "OutputStreams") or "stdout stderr",
            working_directory=_child_text(body, "WorkingDirectory"),
        )
        codepage = _parse_codepage(request.options.get("WINRS_CODEPAGE"))
        self._shells[info.shell_id] = _Shell(info, codepage, self._clock())
        return w.build_create_response(request.message_id, request.to, info)

    def _command(self, request: w.WsmanRequest, shell: _Shell, user: str) -> bytes:
        body = request.body
        if body is None or body.tag != w.qname(w.NS_RSP, "CommandLine"):
            raise faults.invalid_parameter()
        parts = [_child_text(body, "Command") or ""]
        parts += [(a.text or "") for a in body.findall(w.qname(w.NS_RSP, "Arguments"))]
        line = " ".join(p for p in parts if p)
        if len(line) > MAX_COMMAND_LINE:
            raise faults.command_line_too_long()
        # Each Command counts until its shell is deleted; Signal never releases it (MS-WSMV
        # 3.1.4.11, note <118>).
        limit = self.limits.max_operations_per_user
        if 0 < limit <= sum(s.operations for s in self._owned_by(user)):
            raise faults.max_operations(limit)
        shell.operations += 1
        skip = request.options.get("WINRS_SKIP_CMD_SHELL", "").upper() in _TRUE
        command_id = (body.get("CommandId") or w.new_guid()).upper()
        command = _Command(command_id, line, skip)
        shell.commands[command_id] = command
        if not self.host.wants_stdin(line):
            self._start(command, shell, user)
        return w.build_command_response(request.message_id, command_id)

    def _start(self, command: _Command, shell: _Shell, user: str) -> None:
        command.started = True
        request = CommandRequest(
            command_line=command.line,
            codepage=shell.codepage,
            account=user,
            stdin=bytes(command.stdin),
            skip_cmd_shell=command.skip_cmd_shell,
        )
        command.task = asyncio.get_running_loop().create_task(self._run(command, request))

    async def _run(self, command: _Command, request: CommandRequest) -> None:
        try:
            result = self.host.run(request)
        except Exception as exc:  # a host bug must not take the endpoint down
            log.exception("%s: host failed to run %r", self.host.name, request.command_line)
            result = CommandResult(b"", f"lab host error: {exc}\r\n".encode(), 1)
        if result.hang:
            return  # never finishes: Receive keeps timing out until Signal/Delete
        if result.delay_s > 0:
            await asyncio.sleep(result.delay_s)
        command.stdout += result.stdout
        command.stderr += result.stderr
        command.exit_code = result.exit_code
        command.changed.set()

    async def _receive(self, request: w.WsmanRequest, shell: _Shell, timeout: float) -> bytes:
        desired = (
            None if request.body is None else request.body.find(w.qname(w.NS_RSP, "DesiredStream"))
        )
        command_id = (desired.get("CommandId") or "") if desired is not None else ""
        if not command_id:
            raise faults.invalid_parameter()  # cmd shells need a CommandId (capture S8)
        command = shell.commands.get(command_id.upper())
        if command is None or command.delivered:
            raise faults.unknown_command()
        names = ((desired.text if desired is not None else None) or "stdout stderr").split()
        if not _has_news(command):
            command.changed.clear()
            try:
                await asyncio.wait_for(command.changed.wait(), timeout)
            except TimeoutError:
                raise faults.timed_out() from None
        return _drain(request.message_id, command, names)

    def _send(self, request: w.WsmanRequest, shell: _Shell, user: str) -> bytes:
        stream = None if request.body is None else request.body.find(w.qname(w.NS_RSP, "Stream"))
        if stream is None:
            raise faults.invalid_parameter()
        command = shell.commands.get((stream.get("CommandId") or "").upper())
        if command is None or command.delivered:
            raise faults.unknown_command()
        try:
            command.stdin += base64.b64decode(stream.text or "", validate=True)
        except (binascii.Error, ValueError):
            raise faults.invalid_parameter() from None
        if len(command.stdin) > _MAX_STDIN_BYTES:
            # One client must not make a host hold unbounded input (each Send is capped by
            # MaxEnvelopeSize, their sum was not).
            raise faults.invalid_parameter()
        if (stream.get("End") or "").upper() in _TRUE and not command.started:
            self._start(command, shell, user)
        return w.build_send_response(request.message_id)

    def _signal(self, request: w.WsmanRequest, shell: _Shell) -> bytes:
        body = request.body
        code = (_child_text(body, "Code") or "").lower()
        if body is None or code.rsplit("/", 1)[-1] not in ("ctrl_c", "ctrl_break", "terminate"):
            raise faults.invalid_parameter()
        command = shell.commands.pop((body.get("CommandId") or "").upper(), None)
        if command is None:
            raise faults.unknown_command()
        if command.task is not None:
            command.task.cancel()
        return w.build_signal_response(request.message_id)

    def _get(self, request: w.WsmanRequest) -> bytes:
        resource = request.resource_uri.lower()
        if resource == w.RESOURCE_CONFIG:
            return w.build_config_response(
                request.message_id,
                max_shells_per_user=self.limits.max_shells_per_user,
                idle_ms=int(self.limits.idle_timeout_s * 1000),
            )
        if resource in (w.RESOURCE_SHELL, w.RESOURCE_CMD):
            shell = self._shells.get(request.selectors.get("shellid", "").upper())
            if shell is None:
                raise faults.unknown_shell_get()
            shell.last_used = self._clock()
            return w.build_get_shell_response(request.message_id, shell.info)
        raise faults.action_not_supported(request.action)


def _child_text(parent: ET.Element | None, local: str) -> str | None:
    if parent is None:
        return None
    child = parent.find(w.qname(w.NS_RSP, local))
    return None if child is None or child.text is None else child.text.strip()


def _parse_codepage(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise faults.invalid_parameter() from None


def _has_news(command: _Command) -> bool:
    return bool(command.stdout or command.stderr or command.exit_code is not None)


def _drain(relates_to: str, command: _Command, names: list[str]) -> bytes:
    chunks = []
    for name, buffer in (("stdout", command.stdout), ("stderr", command.stderr)):
        if name in names and buffer:
            chunks.append(w.StreamChunk(name, bytes(buffer)))
        buffer.clear()
    if command.exit_code is not None:
        # Windows always ends both streams before the final state (MS-WSMV note <122>).
        chunks += [w.StreamChunk(name, b"", end=True) for name in names]
        command.delivered = True
    command.changed.clear()
    return w.build_receive_response(relates_to, command.command_id, chunks, command.exit_code)
