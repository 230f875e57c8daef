"""What a failed exchange means, in one line: (kind, reason) for the socket, TLS, HTTP and
requests/urllib3 errors of every transport. pypsrp's own errors are read in winrm.py,
which then hands the rest here.

requests and http.client are looked up, never imported: only pypsrp's stack loads them,
and an error of theirs cannot exist before it has. The default path (lean.py) thus starts
without them (http.client and the email package: about 3 ms of every command's start,
measured as the imports' CPU, 0.122 -> 0.119 s).
"""

from __future__ import annotations

import ssl
import sys
from typing import Any

from fleetlogoff.transport.http11 import (
    AnswerTooLargeError,
    HttpProtocolError,
    RedirectRefusedError,
)
from fleetlogoff.transport.ntlm_http import UnsealedAnswerError


def classify_wire_error(exc: Exception) -> tuple[str, str]:
    """(kind, reason) for a transport-level failure; see winrm.classify_error for kinds."""
    requests: Any = sys.modules.get("requests")  # only pypsrp's stack loads it
    if requests is not None and isinstance(exc, requests.exceptions.RequestException):
        root = _root_cause(exc)
        # requests' own errors are OSErrors too: only a cause inside one is the wire's word.
        said_by_wire = isinstance(root, OSError) or _http_client_error(root) is not None
        if root is not exc and isinstance(root, Exception) and said_by_wire:
            return _classify_plain(root)  # what the socket or http.client really said
        return _classify_requests(exc, requests)
    return _classify_plain(exc)


def _classify_requests(exc: Exception, requests: Any) -> tuple[str, str]:
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls", f"TLS failed: {one_line(str(exc))}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "unreachable", "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timeout", "no answer in time"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return _classify_connection_error(exc)
    return "protocol", f"{type(exc).__name__}: {one_line(str(exc))}"


def _classify_plain(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, TimeoutError):  # the exchange's deadline (DeadlineError) included
        return "timeout", "no answer in time"
    if isinstance(exc, AnswerTooLargeError):
        return "protocol", "answer too large (over 1 MiB: a broken or hostile host)"
    if isinstance(exc, RedirectRefusedError | UnsealedAnswerError):
        return "protocol", str(exc)
    if isinstance(exc, HttpProtocolError):
        return "protocol", f"bad HTTP answer: {one_line(str(exc))}"
    http_client = _http_client_error(exc)
    if http_client is not None:
        return _classify_http_client(exc, http_client)
    if isinstance(exc, ssl.SSLError):
        return "tls", f"TLS failed: {one_line(str(exc))}"
    if isinstance(exc, ConnectionRefusedError):
        return "unreachable", "connection refused"
    if isinstance(exc, ConnectionResetError):
        ours = str(exc).startswith("the host closed")  # http11's own words
        return "reset", str(exc) if ours else "connection reset by the host"
    if isinstance(exc, ConnectionError):
        return "reset", f"connection lost: {one_line(str(exc)) or type(exc).__name__}"
    if isinstance(exc, OSError):
        return "unreachable", one_line(str(exc))
    return "protocol", f"{type(exc).__name__}: {one_line(str(exc))}"


def _http_client_error(exc: BaseException) -> Any:
    """http.client, when `exc` is one of its errors; else None."""
    http_client: Any = sys.modules.get("http.client")
    if http_client is not None and isinstance(exc, http_client.HTTPException):
        return http_client
    return None


def _classify_http_client(exc: BaseException, http_client: Any) -> tuple[str, str]:
    if isinstance(exc, http_client.RemoteDisconnected):
        return "reset", "the host closed the connection before answering"
    if isinstance(exc, http_client.IncompleteRead):
        return "reset", "the host closed the connection mid-answer"
    if isinstance(exc, http_client.LineTooLong) or "more than 100 headers" in str(exc):
        return "protocol", "bad HTTP answer: headers too large"
    if isinstance(exc, http_client.BadStatusLine):
        return "protocol", "bad HTTP answer: not an HTTP status line"
    return "protocol", f"bad HTTP answer: {type(exc).__name__}"


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception requests/urllib3 wrapped (a MaxRetryError's reason, a
    ProtocolError's original error), found through their arguments."""
    for _ in range(8):  # wrappers nest two or three deep; never loop on a cycle
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in reversed(exc.args) if isinstance(a, BaseException)), None)
        if inner is None:
            return exc
        exc = inner
    return exc


def _classify_connection_error(exc: Exception) -> tuple[str, str]:
    text = str(exc)
    if "Connection refused" in text or "Errno 111" in text:
        return "unreachable", "connection refused"
    if "reset" in text.lower() or "aborted" in text.lower():
        return "reset", "connection reset by the host"
    if "Name or service not known" in text or "getaddrinfo" in text:
        return "unreachable", "host name not found"
    return "unreachable", one_line(text)


def one_line(text: str) -> str:
    """`text` on one line, at most 300 characters (a host's words go into one-line errors)."""
    flat = " ".join(text.split())
    return flat[:300]
