"""Don't lock the service account out.

One wrong password tried on a thousand hosts at once can lock a domain account (a typical
lockout threshold is 5 to 10 bad attempts). So, per set of credentials (the same account
and password): until one host has accepted them, at most `limit` hosts try them at once,
and after `limit` rejections with no success, no further host is started with them. Once
a host accepted them, they are proven: later rejections are that host's own business (a
local account, a host outside the domain) and do not stop the fleet.

The guard is shared by the threads of a process, or by worker processes when built with
a multiprocessing context. collect uses it for reading; the executor can use it the same
way: `enter` before connecting, `prove` once connected, `leave` with the outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from enum import Enum, IntEnum
from multiprocessing.context import ForkContext, SpawnContext
from typing import Any

from fleetlogoff.model import Host

NOT_STARTED = "not started"
DEFAULT_LIMIT = 3
_WAIT_S = 0.5  # re-check now and then: a notification from another process can be missed


class Outcome(IntEnum):
    """How an attempt ended, as far as the credentials are concerned."""

    UNKNOWN = 0  # never judged (unreachable, timeout, ...)
    PROVEN = 1  # the host accepted them
    REJECTED = 2  # the host rejected them (HTTP 401: what a lockout counts)


class _Wait(Enum):
    WAIT = "wait"


WAIT = _Wait.WAIT

# Per credential: attempts in flight, rejections, proven (0/1), abandoned (0/1).
_FIELDS = 4
_IN_FLIGHT, _REJECTED, _PROVEN, _ABANDONED = range(_FIELDS)


class AuthFailureGuard:
    """Counts authentication failures per set of credentials across hosts.

    Args:
        hosts: every host the run may start (their credentials are grouped here).
        limit: rejections that stop a set of credentials; 0 turns the guard off.
        context: a multiprocessing context when worker processes share the guard.
    """

    def __init__(
        self,
        hosts: Sequence[Host],
        limit: int = DEFAULT_LIMIT,
        context: ForkContext | SpawnContext | None = None,
    ) -> None:
        self.limit = limit
        keys: dict[tuple[object, ...], int] = {}
        self._index: dict[str, int] = {}
        self._labels: list[str] = []
        for host in hosts:
            key = credentials_of(host)
            if key not in keys:
                keys[key] = len(keys)
                self._labels.append(_label(host))
            self._index[host.name] = keys[key]
        size = max(1, len(keys)) * _FIELDS
        self._state: Any
        self._cond: Any
        if context is None:
            self._state, self._cond = [0] * size, threading.Condition()
        else:
            self._state, self._cond = context.Array("i", size, lock=False), context.Condition()

    def enter(self, host: Host) -> str | None:
        """Wait for the right to try `host`; None to go ahead, else why it may not start.

        A caller that was let in must call `leave` exactly once.
        """
        if self.limit <= 0 or self._proven_already(host):
            return None
        with self._cond:
            while True:
                verdict = self.try_enter(host)
                if verdict is not WAIT:
                    return verdict
                self._cond.wait(_WAIT_S)

    def try_enter(self, host: Host) -> str | None | _Wait:
        """`enter` without waiting: WAIT when `limit` attempts with unproven credentials
        are already in flight."""
        if self.limit <= 0:
            return None
        if self._proven_already(host):
            return None
        base = self._base(host)
        with self._cond:
            refusal = self._refusal(host, base)
            if refusal is not None:
                return refusal
            if self._state[base + _PROVEN] or self._free_slot(base):
                self._state[base + _IN_FLIGHT] += 1
                return None
            return WAIT

    def prove(self, host: Host) -> None:
        """`host` accepted the credentials: the others may all go ahead."""
        if self.limit <= 0 or self._proven_already(host):
            return
        base = self._base(host)
        with self._cond:
            if not self._state[base + _PROVEN]:
                self._state[base + _PROVEN] = 1
                self._cond.notify_all()

    def leave(self, host: Host, outcome: Outcome) -> None:
        """The attempt on `host` ended with `outcome`."""
        if self.limit <= 0 or self._proven_already(host):
            return
        base = self._base(host)
        with self._cond:
            self._state[base + _IN_FLIGHT] -= 1
            if outcome is Outcome.PROVEN:
                self._state[base + _PROVEN] = 1
            elif outcome is Outcome.REJECTED:
                self._state[base + _REJECTED] += 1
            self._cond.notify_all()

    def abandon(self) -> None:
        """Let every waiter on unproven credentials go with a refusal (a worker process
        died holding a slot); proven credentials need no slot and go on."""
        with self._cond:
            for base in range(0, len(self._state), _FIELDS):
                self._state[base + _ABANDONED] = 1
            self._cond.notify_all()

    def is_refusal(self, reason: str | None) -> bool:
        """Whether a host's error is this guard's refusal to start it."""
        return bool(reason) and str(reason).startswith(f"{NOT_STARTED}:")

    def announcement(self, host: Host) -> str:
        """The one line that says the guard stopped `host`'s credentials."""
        return (
            f"stopped starting hosts that log on as {self._labels[self._index[host.name]]}: "
            f"{self.limit} authentication failures and no success (protecting the account "
            "from lockout; --auth-failure-limit N changes the limit, 0 turns it off)"
        )

    def _proven_already(self, host: Host) -> bool:
        """Whether `host`'s credentials are proven, read without the lock.

        Proof is final (nothing ever clears it), and once credentials are proven their
        counts (in flight, rejected) are never read again: every host may go ahead. So a
        host that sees proof skips the lock on entering and leaving, and nobody needs its
        counts or its notification; one that does not see it yet takes the lock as before.
        On a large fleet this spares every host but the first few three trips through a
        lock shared by all worker processes.
        """
        return bool(self._state[self._base(host) + _PROVEN])

    def _base(self, host: Host) -> int:
        return self._index[host.name] * _FIELDS

    def _free_slot(self, base: int) -> bool:
        used: int = self._state[base + _IN_FLIGHT] + self._state[base + _REJECTED]
        return used < self.limit

    def _refusal(self, host: Host, base: int) -> str | None:
        if self._state[base + _ABANDONED] and not self._state[base + _PROVEN]:
            return f"{NOT_STARTED}: a worker process died while its credentials were unproven"
        if not self._state[base + _PROVEN] and self._state[base + _REJECTED] >= self.limit:
            label = self._labels[self._index[host.name]]
            return (
                f"{NOT_STARTED}: {self.limit} authentication failures as {label} "
                "(account lockout protection)"
            )
        return None


def credentials_of(host: Host) -> tuple[object, ...]:
    """What makes two hosts' credentials the same: transport, account, password or
    certificate (the password is compared, never shown: Secret hides its value)."""
    conn = host.connection
    user = (conn.username or "").casefold()
    return (conn.transport, user, conn.password, conn.cert_pem)


def _label(host: Host) -> str:
    conn = host.connection
    if conn.username:
        return conn.username
    if conn.cert_pem:
        return f"the certificate {conn.cert_pem}"
    return "the default Kerberos credentials"
