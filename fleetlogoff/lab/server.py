"""The lab's WinRM server: makes each SimulatedHost look like a Windows WinRM listener.

One asyncio event loop serves every host (no thread per host). Each host gets its own
loopback address 127.x.y.z with ports 5985/5986 where binding works, else 127.0.0.1 with
ephemeral ports. Per connection: HTTP/1.1 keep-alive, Negotiate/NTLM (or Basic over HTTPS),
Kerberos when the lab has a realm (kdc.py), message encryption over HTTP, then WS-Man
dispatch to the host's ShellService.
"""

from __future__ import annotations

import asyncio
import logging
import random
import resource
import socket
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fleetlogoff.lab import auth
from fleetlogoff.lab.contract import SimulatedHost
from fleetlogoff.lab.kdc import KerberosRealm
from fleetlogoff.lab.server_conn import Connection
from fleetlogoff.lab.server_errors import LabStartError
from fleetlogoff.lab.server_shells import ShellLimits, ShellService
from fleetlogoff.lab.tls import LabCertificateAuthority

log = logging.getLogger(__name__)

HTTP_PORT = 5985  # WinRM default ports (capture S14 DefaultPorts)
HTTPS_PORT = 5986
_LISTEN_BACKLOG = 64
_READ_LIMIT = 128 * 1024
# HTTP.sys closes a connection idle for TimerConnectionIdle (120 s) or whose head takes
# longer than HeaderWait (120 s); WinRM gives a body MaxPacketRetrievalTimeSeconds (120 s,
# capture S14). One 120 s budget per request covers all three, so an idle or trickling
# client cannot hold a socket and a task forever.
CONNECTION_IDLE_S = 120.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one simulated host listens.

    Attributes:
        name: the host's computer name.
        address: the IP clients connect to.
        http_port: the HTTP (5985-style) port.
        https_port: the HTTPS port, None when the lab serves HTTP only.
        ca_path: the CA PEM that validates the HTTPS certificate, None without HTTPS.
    """

    name: str
    address: str
    http_port: int
    https_port: int | None
    ca_path: str | None


@dataclass(frozen=True, slots=True)
class KerberosOptions:
    """How a lab's hosts take Kerberos (winrm/config/service/auth on Windows).

    Attributes:
        realm: the running realm; the lab registers each host's principals in it at start
            and a user principal for every account of every host (domain accounts).
        offer_negotiate: offer the Negotiate scheme as well as Kerberos (Windows' default);
            False makes clients use the raw Kerberos scheme and its encryption label.
        strict_cbt: CbtHardeningLevel=Strict: over HTTPS, refuse a client whose Kerberos
            authenticator or NTLM response carries no channel bindings (Windows' default,
            Relaxed, allows it).
    """

    realm: KerberosRealm
    offer_negotiate: bool = True
    strict_cbt: bool = False


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How a lab serves its hosts.

    Attributes:
        https: also listen on HTTPS with a lab-CA certificate.
        bind_base: first address of the block (e.g. "127.20.0.1"); None picks one at random.
        limits: Winrs quotas and idle timeout.
        seed: seeds the per-host random generators behind reset_rate/error_rate.
        work_dir: where user files and certificates go; None makes a temp dir.
        connection_idle_s: how long a connection may take to deliver its next complete
            request before it is closed (idle keep-alive or a slow, endless head or body).
        kerberos: accept Kerberos with this realm; None keeps NTLM and Basic only.
    """

    https: bool = True
    bind_base: str | None = None
    limits: ShellLimits = field(default_factory=ShellLimits)
    seed: int = 0
    work_dir: Path | None = None
    connection_idle_s: float = CONNECTION_IDLE_S
    kerberos: KerberosOptions | None = None


class HostSite:
    """Everything the server keeps per host."""

    def __init__(self, host: SimulatedHost, index: int, options: ServerOptions, work: Path) -> None:
        self.host = host
        self.tag = f"{index}-{host.name}"
        self.shells = ShellService(host, options.limits)
        self.rng = random.Random(options.seed * 1_000_003 + index)
        self.user_file = auth.write_user_file(work, self.tag, host.accounts)
        self.address = "127.0.0.1"
        self.connections: set[Connection] = set()
        self.kerberos = options.kerberos
        self.principals: frozenset[str] = frozenset()  # set at start when the lab has a realm

    @property
    def dns_name(self) -> str:
        """The host's DNS name in the realm's domain (rds01.lab.test), or its bare name."""
        if self.kerberos is None:
            return self.host.name.lower()
        return f"{self.host.name.lower()}.{self.kerberos.realm.realm.lower()}"


class LabServer:
    """Serves a list of simulated hosts on loopback until stopped."""

    def __init__(
        self, hosts: Sequence[SimulatedHost], options: ServerOptions | None = None
    ) -> None:
        self.options = options or ServerOptions()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if self.options.work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fleetlogoff-lab-")
            self.work_dir = Path(self._tmp.name)
        else:
            self.work_dir = self.options.work_dir
            self.work_dir.mkdir(parents=True, exist_ok=True)
        self.sites = [HostSite(h, i, self.options, self.work_dir) for i, h in enumerate(hosts)]
        self.ca: LabCertificateAuthority | None = None
        self.endpoints: list[Endpoint] = []
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> list[Endpoint]:
        """Bind every host's listeners.

        Returns:
            One Endpoint per host, in host order.

        Raises:
            LabStartError: no address could be bound at all.
        """
        raise_fd_limit()
        if self.sites:
            auth.prime_user_file_variable(self.sites[0].user_file)
        if self.options.https:
            self.ca = LabCertificateAuthority(self.work_dir)
        addresses = pick_addresses(len(self.sites), self.options.bind_base)
        for site, address in zip(self.sites, addresses, strict=True):
            self.endpoints.append(await self._bind_site(site, address))
        if self.options.kerberos is not None:
            # kadmin.local is a subprocess: keep the loop free while it runs.
            await asyncio.to_thread(self._register_principals, self.options.kerberos.realm)
        log.info("lab serving %d hosts", len(self.endpoints))
        return self.endpoints

    def _register_principals(self, realm: KerberosRealm) -> None:
        """Every account becomes a domain user; every host gets its own service keys."""
        realm.add_users(
            (account.username, account.password)
            for site in self.sites
            for account in site.host.accounts
        )
        registered = realm.add_hosts((s.address, s.dns_name) for s in self.sites)
        for site, principals in zip(self.sites, registered, strict=True):
            site.principals = frozenset(principals)

    async def stop(self) -> None:
        """Close listeners and connections, cancel running commands."""
        for server in self._servers:
            server.close()
        for site in self.sites:
            site.shells.close_all()
            for conn in list(site.connections):
                conn.abort()
        # Cancel what still waits (a long-poll Receive, a black-holed client) and await it,
        # so stopping never leaves pending tasks behind for the loop to complain about.
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _bind_site(self, site: HostSite, address: str) -> Endpoint:
        ca_path = str(self.ca.ca_path) if self.ca else None
        try:
            http_port = await self._listen(site, address, HTTP_PORT, tls=False)
            https_port = (
                await self._listen(site, address, HTTPS_PORT, tls=True) if self.ca else None
            )
        except OSError as exc:
            log.debug("cannot bind %s (%s); falling back to 127.0.0.1", address, exc)
            address = "127.0.0.1"
            http_port = await self._listen(site, address, 0, tls=False)
            https_port = await self._listen(site, address, 0, tls=True) if self.ca else None
        site.address = address
        return Endpoint(site.host.name, address, http_port, https_port, ca_path)

    async def _listen(self, site: HostSite, address: str, port: int, *, tls: bool) -> int:
        if site.host.network.down:
            return port or _unused_port(address)  # nothing listens: connections are refused

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await self._serve(site, reader, writer, tls=tls)

        server = await asyncio.start_server(
            accept, address, port, backlog=_LISTEN_BACKLOG, limit=_READ_LIMIT, reuse_address=True
        )
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _serve(
        self,
        site: HostSite,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        tls: bool,
    ) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        bindings = None
        if tls and self.ca is not None and site.kerberos is not None:
            der = self.ca.certificate_der(site.host.name, site.address)
            bindings = auth.tls_channel_bindings(der)
        conn = Connection(
            site,
            reader,
            writer,
            tls=tls,
            idle_s=self.options.connection_idle_s,
            channel_bindings=bindings,
        )
        site.connections.add(conn)
        try:
            if tls and self.ca is not None:
                context = self.ca.server_context(site.host.name, site.address)
                await writer.start_tls(context)
            await conn.run()
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            log.debug("%s: connection ended: %s", site.host.name, exc)
        finally:
            site.connections.discard(conn)
            conn.abort()


def pick_addresses(count: int, base: str | None) -> list[str]:
    """Choose one loopback address per host.

    All of 127/8 routes to lo on Linux, so each host can own 127.x.y.z with the standard
    ports. A random block keeps two labs (parallel tests) apart; .0 and .255 last octets are
    skipped so no address looks like a network or broadcast address.

    Args:
        count: number of hosts.
        base: the first address, or None for a random block.

    Returns:
        Addresses in host order.
    """
    if base is None:
        rng = random.SystemRandom()
        start = (127 << 24) | (rng.randrange(16, 255) << 16) | (rng.randrange(0, 256) << 8) | 1
    else:
        try:
            start = struct.unpack("!I", socket.inet_aton(base))[0]
        except OSError:
            raise LabStartError(f"--bind-base {base!r}: not an IPv4 address") from None
        if start >> 24 != 127:
            raise LabStartError(f"--bind-base {base}: must be a loopback address in 127.0.0.0/8")
    addresses: list[str] = []
    value = start
    while len(addresses) < count:
        if value & 0xFF not in (0, 255):
            addresses.append(socket.inet_ntoa(struct.pack("!I", value)))
        value += 1
        if value >> 24 != 127:
            raise LabStartError(f"address block from {base} runs past 127.255.255.255")
    return addresses


def raise_fd_limit() -> None:
    """Raise RLIMIT_NOFILE to the hard limit (two listeners per host plus connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _unused_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])
