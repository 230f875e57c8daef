"""wire_errors: what each transport failure means, whether or not pypsrp's stack (requests,
urllib3, http.client) is loaded."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import sys

import pytest
import requests
import urllib3

from fleetlogoff.transport.http11 import AnswerTooLargeError, DeadlineError, HttpProtocolError
from fleetlogoff.transport.wire_errors import classify_wire_error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            http.client.RemoteDisconnected("Remote end closed connection"),
            ("reset", "the host closed the connection before answering"),
        ),
        (
            http.client.IncompleteRead(b"abc", 10),
            ("reset", "the host closed the connection mid-answer"),
        ),
        (
            http.client.LineTooLong("header line"),
            ("protocol", "bad HTTP answer: headers too large"),
        ),
        (
            http.client.HTTPException("got more than 100 headers"),
            ("protocol", "bad HTTP answer: headers too large"),
        ),
        (
            http.client.BadStatusLine("SSH-2.0"),
            ("protocol", "bad HTTP answer: not an HTTP status line"),
        ),
        (
            http.client.ImproperConnectionState(),
            ("protocol", "bad HTTP answer: ImproperConnectionState"),
        ),
        (DeadlineError("no complete answer in time"), ("timeout", "no answer in time")),
        (TimeoutError("timed out"), ("timeout", "no answer in time")),
        (
            AnswerTooLargeError("big"),
            ("protocol", "answer too large (over 1 MiB: a broken or hostile host)"),
        ),
        (
            HttpProtocolError("not an HTTP answer"),
            ("protocol", "bad HTTP answer: not an HTTP answer"),
        ),
        (
            ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] verify failed"),
            ("tls", "TLS failed: [SSL: CERTIFICATE_VERIFY_FAILED] verify failed"),
        ),
        (ConnectionRefusedError(111, "refused"), ("unreachable", "connection refused")),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            ("reset", "connection reset by the host"),
        ),
        (
            ConnectionResetError("the host closed the connection mid-answer"),
            ("reset", "the host closed the connection mid-answer"),
        ),
        (OSError(113, "No route to host"), ("unreachable", "[Errno 113] No route to host")),
        (ValueError("odd"), ("protocol", "ValueError: odd")),
    ],
)
def test_plain_errors(error: Exception, expected: tuple[str, str]) -> None:
    assert classify_wire_error(error) == expected


def test_a_requests_error_is_read_by_what_the_socket_or_http_client_said() -> None:
    cause = http.client.RemoteDisconnected("Remote end closed connection without response")
    wrapped = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", cause)
    )
    assert classify_wire_error(wrapped) == (
        "reset",
        "the host closed the connection before answering",
    )


def test_requests_errors_as_requests_raises_them() -> None:
    url = "http://127.0.0.1:5985/wsman"
    timed_out = urllib3.exceptions.ReadTimeoutError(None, url, "Read timed out.")  # type: ignore[arg-type]
    assert classify_wire_error(requests.exceptions.ReadTimeout(timed_out)) == (
        "timeout",
        "no answer in time",
    )
    refused = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    retries = urllib3.exceptions.MaxRetryError(None, url, refused)  # type: ignore[arg-type]
    kind, _ = classify_wire_error(requests.exceptions.ConnectionError(retries))
    assert kind == "unreachable"


def test_the_default_path_starts_without_http_client() -> None:
    """The lean transport has its own HTTP/1.1 client: http.client (and the email package
    behind it) would only cost every command's start-up."""
    probe = (
        "import sys, fleetlogoff.cli.main, fleetlogoff.transport.connector;"
        "print(sorted(m for m in ('http.client', 'email.parser', 'requests') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "[]"


def test_a_requests_error_without_a_cause_is_read_by_its_own_kind() -> None:
    """requests' exceptions are OSErrors: one raised without a cause is still its kind."""
    assert classify_wire_error(requests.exceptions.ReadTimeout("read timed out")) == (
        "timeout",
        "no answer in time",
    )
    assert classify_wire_error(requests.exceptions.ConnectTimeout("connect timed out")) == (
        "unreachable",
        "connection timed out",
    )
