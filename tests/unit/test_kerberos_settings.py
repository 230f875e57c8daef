"""Kerberos settings as Ansible users write them, and Kerberos failures as one line
(no KDC needed: the end-to-end tests with a real KDC are in tests/kerberos)."""

from __future__ import annotations

import pytest

from fleetlogoff.errors import ConfigError, TransportError
from fleetlogoff.inventory import parse_inventory
from fleetlogoff.model import Connection
from fleetlogoff.transport import kerberos


def connection(host_vars: str) -> Connection:
    text = f"all:\n  hosts:\n    rds01:\n{host_vars}"
    return parse_inventory(text, "k.yml").select(None)[0].connection


WINRM = "      ansible_host: 127.0.0.9\n      ansible_winrm_transport: kerberos\n"


def test_winrm_defaults_ask_for_http_and_bind_the_channel() -> None:
    conn = connection(WINRM)
    assert (conn.transport, conn.kerberos_service) == ("kerberos", "HTTP")
    assert conn.kerberos_hostname_override is None and conn.send_cbt is True
    assert kerberos.service_principal(conn) == "HTTP/127.0.0.9"


def test_winrm_kerberos_variables() -> None:
    conn = connection(
        WINRM
        + "      ansible_winrm_kerberos_hostname_override: rds01.corp.example\n"
        + "      ansible_winrm_service: WSMAN\n"
        + "      ansible_winrm_send_cbt: no\n"
    )
    assert kerberos.service_principal(conn) == "WSMAN/rds01.corp.example"
    assert conn.send_cbt is False


def test_psrp_names_and_its_wsman_default() -> None:
    base = "      ansible_connection: psrp\n      ansible_psrp_auth: kerberos\n"
    assert connection(base).kerberos_service == "WSMAN"
    conn = connection(
        base
        + "      ansible_psrp_negotiate_hostname_override: rds01.corp.example\n"
        + "      ansible_psrp_negotiate_service: HTTP\n"
        + "      ansible_psrp_negotiate_send_cbt: 'False'\n"
    )
    assert kerberos.service_principal(conn) == "HTTP/rds01.corp.example"
    assert conn.send_cbt is False


def test_a_bad_boolean_names_the_variable_and_line() -> None:
    with pytest.raises(ConfigError, match=r"k.yml:7:31: ansible_winrm_send_cbt must be"):
        connection(WINRM + "      ansible_user: a\n      ansible_winrm_send_cbt: maybe\n")


@pytest.mark.parametrize(
    ("written", "asked"),
    [
        ("alice", "alice"),
        ("alice@LAB.TEST", "alice@LAB.TEST"),
        ("alice@lab.test", "alice@LAB.TEST"),
        ("LAB\\alice", "LAB\\alice"),
        (None, None),
    ],
)
def test_user_principal(written: str | None, asked: str | None) -> None:
    assert kerberos.user_principal(written) == asked


def test_missing_extra_is_one_line_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kerberos, "missing_libraries", lambda: ["gssapi", "krb5"])
    with pytest.raises(TransportError) as caught:
        kerberos.check_available("rds01", Connection("127.0.0.9", 5985, transport="kerberos"))
    assert caught.value.kind == "auth_unsupported"  # no credentials judged: no lockout count
    assert "pip install 'fleetlogoff[kerberos]'" in caught.value.reason
    # Negotiate falls back to NTLM without the libraries, as pypsrp does: nothing to check.
    kerberos.check_available("rds01", Connection("127.0.0.9", 5985, transport="negotiate"))


class _SpnegoLike(Exception):
    """Stands for spnego's error types: what classify reads is their module and text."""


_SpnegoLike.__module__ = "spnego.exceptions"

CONN = Connection("127.0.0.9", 5985, transport="kerberos", username="bob@lab.test")


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("Password incorrect while getting initial credentials", "wrong password for bob@LAB"),
        ("Decrypt integrity check failed", "wrong password for bob@LAB.TEST"),
        ("Client 'bob@LAB.TEST' not found in Kerberos database", "unknown user principal"),
        ("Server not found in Kerberos database", "knows no service principal HTTP/127.0.0.9"),
        ("Clock skew too great", "clock skew too great"),
        ("Ticket expired", "run kinit again"),
        ("Can't find client principal bob@LAB.TEST in cache collection", "no Kerberos ticket"),
        ("No credentials cache found", "no Kerberos ticket"),
        ('Cannot find KDC for realm "LAB.TEST"', "no KDC known"),
        ("Cannot contact any KDC for realm 'LAB.TEST'", "cannot reach a KDC"),
        ("Something\nnew   happened", "Kerberos failed: Something new happened"),
    ],
)
def test_kerberos_failures_read_as_one_line(text: str, meaning: str) -> None:
    kind, reason = kerberos.classify(_SpnegoLike(text), CONN) or ("", "")
    assert kind == "auth_failed" and meaning in reason and "\n" not in reason


def test_other_errors_are_not_kerberos_ones() -> None:
    assert kerberos.classify(ValueError("Clock skew too great"), CONN) is None
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = _SpnegoLike("Clock skew too great")
    assert kerberos.classify(wrapped, CONN) is not None
    missing = ImportError("GSSAPIProxy requires the Python gssapi library")
    assert "fleetlogoff[kerberos]" in (kerberos.classify(missing, CONN) or ("", ""))[1]
