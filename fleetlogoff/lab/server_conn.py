"""One client TCP connection to a simulated host: HTTP keep-alive, auth, encryption, faults.

Negotiate/NTLM and Kerberos auth are bound to the connection (RFC 4559; winrm-wire.md §3):
later requests carry no Authorization header, and a new header restarts the handshake. Over
plain HTTP the lab behaves like AllowUnencrypted=false: SOAP must arrive sealed
(winrm-wire.md §4), and the answer carries the request's encryption label.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spnego.channel_bindings import GssChannelBindings

from fleetlogoff.lab import auth, encryption, wsman
from fleetlogoff.lab import wsman_fault as faults
from fleetlogoff.lab.server_errors import WsmanParseError
from fleetlogoff.lab.server_http import HttpError, HttpRequest, read_request, render_response

if TYPE_CHECKING:
    from fleetlogoff.lab.server import HostSite

log = logging.getLogger(__name__)

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_NEGOTIATE_SCHEMES = ("negotiate", "ntlm")
_KERBEROS_SCHEME = "kerberos"


@dataclass(slots=True)
class Reply:
    """What to answer: status, headers, body; `close` ends the connection afterwards."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = False


class Connection:
    """Serves requests on one accepted connection until the client goes away."""

    def __init__(
        self,
        site: HostSite,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        tls: bool,
        idle_s: float = 120.0,
        channel_bindings: GssChannelBindings | None = None,
    ) -> None:
        self.site = site
        self.channel_bindings = channel_bindings
        self.idle_s = idle_s
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.acceptor: auth.NegotiateAcceptor | None = None
        self._watchdog: asyncio.TimerHandle | None = None  # see _read
        self._read_started = 0.0
        self._reading = False
        self._idle_fired = False
        peer = writer.get_extra_info("peername")
        self.client_ip = str(peer[0]) if peer else "127.0.0.1"

    def abort(self) -> None:
        """Drop the connection now."""
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()

    def reset(self) -> None:
        """Reset the connection (RST, not FIN): SO_LINGER with a zero timeout, then abort."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.abort()

    async def run(self) -> None:
        """Read and answer requests until EOF or a fatal error."""
        if self.site.host.network.down:
            # Went down after the listener was bound (SimHost.set_network): reset at once,
            # the nearest a bound listener gets to a refused connection.
            self.reset()
            return
        if self.site.host.network.black_hole:
            await self._swallow()
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        try:
            while True:
                try:
                    request = await self._read(loop, task)
                except _IdleTimeout:
                    log.debug(
                        "%s: connection idle for %.0f s, closed", self.site.host.name, self.idle_s
                    )
                    return
                except HttpError as exc:
                    reply = Reply(exc.status, [("Content-Type", "text/plain")], b"", True)
                    await self._write(reply)
                    return
                if request is None or not await self._serve_one(request):
                    return
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()

    async def _read(
        self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any] | None
    ) -> HttpRequest | None:
        """The next request, within the idle budget (CONNECTION_IDLE_S) counted from now.

        One timer per connection, not one per request (asyncio.timeout schedules and
        cancels a timer on every read): the watchdog wakes when the oldest possible
        deadline passes and either closes a connection still inside the same read, or
        sleeps until the current read's deadline. The cancellation is the one
        asyncio.timeout would deliver, at the same await.
        """
        self._read_started = loop.time()
        self._reading = True
        if self._watchdog is None and task is not None:
            self._watchdog = loop.call_at(
                self._read_started + self.idle_s, self._check_idle, loop, task
            )
        try:
            return await read_request(self.reader)
        except asyncio.CancelledError:
            if self._idle_fired and task is not None and task.uncancel() == 0:
                raise _IdleTimeout from None  # ours, not the lab stopping
            raise
        finally:
            self._reading = False

    def _check_idle(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        self._watchdog = None
        if not self._reading:
            return  # answering a request: the next read arms the watchdog again
        deadline = self._read_started + self.idle_s
        if loop.time() >= deadline:
            self._idle_fired = True
            task.cancel()
        else:
            self._watchdog = loop.call_at(deadline, self._check_idle, loop, task)

    async def _serve_one(self, request: HttpRequest) -> bool:
        """Answer one request; False when the connection ends with it."""
        network = self.site.host.network
        if network.down:
            self.reset()
            return False
        if network.latency_s > 0:
            await asyncio.sleep(network.latency_s)
        if network.reset_rate > 0 and self.site.rng.random() < network.reset_rate:
            self.reset()
            return False
        if network.error_rate > 0 and self.site.rng.random() < network.error_rate:
            reply = Reply(500, [("Content-Type", "text/plain")], b"Internal Server Error")
        else:
            reply = await self.respond(request)
        reply.close = reply.close or not request.keep_alive
        await self._write(reply)
        return not reply.close

    async def _swallow(self) -> None:
        while await self.reader.read(65536):
            pass

    async def _write(self, reply: Reply) -> None:
        self.writer.write(
            render_response(reply.status, reply.headers, reply.body, close=reply.close)
        )
        await self.writer.drain()

    def _offer(self) -> Reply:
        # Windows lists its schemes in this order (winrm-wire.md §3, capture S17).
        kerberos = self.site.kerberos
        headers = []
        if kerberos is None or kerberos.offer_negotiate:
            headers.append(("WWW-Authenticate", "Negotiate"))
        if kerberos is not None:
            headers.append(("WWW-Authenticate", "Kerberos"))
        if self.tls:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        return Reply(401, headers)

    async def respond(self, request: HttpRequest) -> Reply:
        """Authenticate and answer one HTTP request."""
        if request.path.lower() != "/wsman":
            return Reply(404)
        if request.method != "POST":
            return Reply(405)
        try:
            user, extra = self._authenticate(request)
        except auth.AuthFailed as exc:
            log.debug("%s: 401 (%s)", self.site.host.name, exc)
            self.acceptor = None
            return self._offer()
        except _Challenge as challenge:
            return challenge.reply
        if self.site.host.network.auth_fails:
            self.acceptor = None
            return self._offer()  # as a changed password would: 401 for everyone
        if not request.body:
            return Reply(200, extra)  # the blank POST that drives auth (pypsrp-notes §2.1)
        reply = await self._answer_soap(request, user)
        reply.headers[:0] = extra
        return reply

    def _authenticate(self, request: HttpRequest) -> tuple[str, list[tuple[str, str]]]:
        header = request.headers.get("authorization")
        if header is None:
            if self.acceptor is not None and self.acceptor.complete:
                return self.acceptor.user, []
            raise auth.AuthFailed("no Authorization header")
        scheme, token = auth.parse_authorization(header)
        if scheme.lower() == "basic":
            if not self.tls:
                raise auth.AuthFailed("Basic is only accepted over HTTPS")
            return auth.check_basic(token, self.site.host.accounts).username, []
        if scheme.lower() not in self._schemes():
            raise auth.AuthFailed(f"unsupported scheme {scheme}")
        if self.acceptor is None or self.acceptor.complete:
            self.acceptor = auth.NegotiateAcceptor(
                self.site.user_file,
                principals=self.site.principals,
                channel_bindings=self.channel_bindings,
            )
        out = self.acceptor.step(token)
        # Echo the client's scheme name: requests_ntlm only reads a challenge under "NTLM";
        # the Kerberos mutual-auth token on the 200 goes back under the scheme it came in.
        answer = [("WWW-Authenticate", f"{scheme} {_b64(out)}")] if out else []
        if not self.acceptor.complete:
            raise _Challenge(Reply(401, answer))
        self._check_kerberos(scheme)
        return self.acceptor.user, answer

    def _schemes(self) -> tuple[str, ...]:
        kerberos = self.site.kerberos
        if kerberos is None:
            return _NEGOTIATE_SCHEMES
        offered = _NEGOTIATE_SCHEMES if kerberos.offer_negotiate else ()
        return (*offered, _KERBEROS_SCHEME)

    def _check_kerberos(self, scheme: str) -> None:
        """What Windows checks once a handshake completed: the Kerberos scheme carries only
        Kerberos, and under CbtHardeningLevel=Strict an HTTPS client must bind its
        authentication (Kerberos or NTLM) to the TLS channel."""
        acceptor = self.acceptor
        kerberos = self.site.kerberos
        if acceptor is None or kerberos is None:
            return
        if scheme.lower() == _KERBEROS_SCHEME and acceptor.mechanism != "kerberos":
            raise auth.AuthFailed(f"{acceptor.mechanism} token under the Kerberos scheme")
        if (
            kerberos.strict_cbt
            and self.tls
            and acceptor.mechanism in ("kerberos", "ntlm")
            and not acceptor.channel_bound()
        ):
            raise auth.AuthFailed("no channel bindings (CbtHardeningLevel=Strict)")

    async def _answer_soap(self, request: HttpRequest, user: str) -> Reply:
        if not encryption.is_encrypted(request.headers.get("content-type", "")):
            if not self.tls:
                return self._offer()  # AllowUnencrypted=false (winrm-wire.md §3)
            plain = await self._dispatch(request.body, user)
            return Reply(plain.status, [("Content-Type", SOAP_CONTENT_TYPE)], plain.body)
        if self.acceptor is None or not self.acceptor.complete:
            return self._offer()
        context = self.acceptor.sealer
        try:
            label = encryption.request_protocol(request.headers.get("content-type", ""))
            body = encryption.unseal(context, request.body)
        except encryption.EncryptionError as exc:
            log.info("%s: %s", self.site.host.name, exc)
            return self._offer()
        plain = await self._dispatch(body, user)
        # Faults are sealed too (pypsrp decrypts before raise_for_status). The acceptor may
        # have been replaced meanwhile; seal with the context that unsealed the request.
        wrapped = encryption.seal(context, plain.body, label)
        return Reply(plain.status, [("Content-Type", encryption.content_type(label))], wrapped)

    async def _dispatch(self, body: bytes, user: str) -> Reply:
        host = self.site.host
        try:
            request = wsman.parse_request(body)
        except WsmanParseError as exc:
            log.info("%s: %s", host.name, exc)
            return _fault_reply(faults.invalid_xml(), exc.message_id, host.name)
        realm = self.site.kerberos.realm.realm if self.site.kerberos is not None else None
        account = auth.find_account(host.accounts, user, realm)
        try:
            if account is None or not account.admin:
                raise faults.access_denied()
            answer = await self.site.shells.handle(request, account.username, self.client_ip)
        except faults.WsmanFault as fault:
            return _fault_reply(fault, request.message_id, host.name)
        except Exception:  # a lab bug must cost one fault, not the connection and a traceback
            log.exception("%s: failed to answer %s", host.name, request.action)
            return _fault_reply(faults.internal_error(), request.message_id, host.name)
        return Reply(200, body=answer)


def _fault_reply(fault: faults.WsmanFault, relates_to: str, machine: str) -> Reply:
    # Every fault in the captures is HTTP 500 (winrm-wire.md §2.1).
    return Reply(500, body=faults.render_fault(fault.spec, relates_to, machine))


class _IdleTimeout(Exception):  # noqa: N818 (control flow: the idle budget ran out)
    pass


class _Challenge(Exception):  # noqa: N818 (control flow: carries the 401 challenge reply)
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        super().__init__("challenge")


def _b64(token: bytes) -> str:
    return base64.b64encode(token).decode("ascii")
