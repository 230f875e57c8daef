"""The lab takes Kerberos the way Windows does, from real, unmodified clients and a real KDC:
Negotiate and raw Kerberos schemes, the mutual-auth token on the 200, message encryption
with the request's label echoed, channel binding over HTTPS (strict and relaxed), and each
host accepting only tickets for its own principals."""

from __future__ import annotations

import base64
import http.client
import importlib.util
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import spnego
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError

from fleetlogoff.lab import encryption
from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.kdc import KerberosRealm
from fleetlogoff.lab.server import KerberosOptions
from tests.lab.conftest import ADMIN, USER, FakeHost

pytestmark = pytest.mark.kerberos

PRINCIPAL = f"{ADMIN.username}@LAB.TEST"


@pytest.fixture(scope="module")
def kerberos_lab(realm: KerberosRealm) -> Iterator[RunningFleet]:
    hosts = [FakeHost("KRB01"), FakeHost("KRB02")]
    with start_fleet(hosts, https=True, kerberos=KerberosOptions(realm)) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def strict_lab(realm: KerberosRealm) -> Iterator[RunningFleet]:
    options = KerberosOptions(realm, offer_negotiate=False, strict_cbt=True)
    with start_fleet([FakeHost("STRICT01")], https=True, kerberos=options) as fleet:
        yield fleet


def client(fleet: RunningFleet, name: str, *, https: bool = False, **kwargs: Any) -> Client:
    endpoint = fleet.endpoint(name)
    options: dict[str, Any] = {
        "port": endpoint.https_port if https else endpoint.http_port,
        "ssl": https,
        "cert_validation": endpoint.ca_path if https else False,
        "auth": "kerberos",
        "username": PRINCIPAL,
        "password": ADMIN.password,
        "negotiate_service": "HTTP",
        "no_proxy": True,
        "connection_timeout": 5,
        "read_timeout": 10,
        "operation_timeout": 5,
    }
    options.update(kwargs)
    return Client(endpoint.address, **options)


@pytest.mark.parametrize("service", ["HTTP", "host", "WSMAN"])
def test_pypsrp_kerberos_with_message_encryption_every_service(
    kerberos_lab: RunningFleet, service: str
) -> None:
    with client(kerberos_lab, "KRB01", negotiate_service=service) as c:
        assert c.execute_cmd("hostname") == ("KRB01\r\n", "", 0)


def test_pypsrp_negotiate_picks_kerberos_and_short_user_name(kerberos_lab: RunningFleet) -> None:
    # "labadmin" alone is in the default realm (kerberos.md).
    with client(kerberos_lab, "KRB02", auth="negotiate", username=ADMIN.username) as c:
        assert c.execute_cmd("hostname")[0] == "KRB02\r\n"


def test_pypsrp_kerberos_over_https_with_channel_binding(kerberos_lab: RunningFleet) -> None:
    with client(kerberos_lab, "KRB01", https=True) as c:
        assert c.execute_cmd("echo over tls")[0] == "over tls\r\n"


def test_ticket_cache_from_kinit_without_password(
    kerberos_lab: RunningFleet, realm: KerberosRealm, tmp_path: Any, monkeypatch: Any
) -> None:
    cache = tmp_path / "ccache"
    realm.kinit(ADMIN.username, ADMIN.password, cache)
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
    with client(kerberos_lab, "KRB02", username=None, password=None) as c:
        assert c.execute_cmd("hostname")[0] == "KRB02\r\n"


def test_non_admin_principal_is_access_denied_not_401(kerberos_lab: RunningFleet) -> None:
    with (
        client(
            kerberos_lab, "KRB01", username=f"{USER.username}@LAB.TEST", password=USER.password
        ) as c,
        pytest.raises(Exception, match="(?i)access is denied|fault"),
    ):
        c.execute_cmd("hostname")


def test_a_ticket_for_another_host_is_refused(kerberos_lab: RunningFleet) -> None:
    """Connect to KRB02 with a ticket for KRB01's name: KRB02 holds only its own keys."""
    krb01 = "krb01.lab.test"
    with client(kerberos_lab, "KRB01", negotiate_hostname_override=krb01) as c:
        assert c.execute_cmd("hostname")[0] == "KRB01\r\n"  # the override itself works
    with (
        client(kerberos_lab, "KRB02", negotiate_hostname_override=krb01) as c,
        pytest.raises(AuthenticationError),
    ):
        c.execute_cmd("hostname")


def test_strict_cbt_refuses_a_client_without_bindings(strict_lab: RunningFleet) -> None:
    with client(strict_lab, "STRICT01", https=True) as c:
        assert c.execute_cmd("hostname")[0] == "STRICT01\r\n"
    with (
        client(strict_lab, "STRICT01", https=True, negotiate_send_cbt=False) as c,
        pytest.raises(AuthenticationError),
    ):
        c.execute_cmd("hostname")


def test_relaxed_cbt_accepts_a_client_without_bindings(kerberos_lab: RunningFleet) -> None:
    with client(kerberos_lab, "KRB01", https=True, negotiate_send_cbt=False) as c:
        assert c.execute_cmd("hostname")[0] == "KRB01\r\n"


def test_kerberos_only_lab_uses_the_kerberos_label_end_to_end(strict_lab: RunningFleet) -> None:
    # Only "Kerberos" is offered, so pypsrp seals with HTTP-Kerberos-session-encrypted.
    with client(strict_lab, "STRICT01") as c:
        assert c.execute_cmd("hostname")[0] == "STRICT01\r\n"
        transport = c.wsman.transport
        assert transport.encryption is not None
        assert transport.encryption.protocol == encryption.KERBEROS_PROTOCOL


# ---- the wire, step by step ----------------------------------------------------------


def _post(
    fleet: RunningFleet, name: str, headers: dict[str, str], body: bytes = b""
) -> tuple[http.client.HTTPResponse, bytes, http.client.HTTPConnection]:
    endpoint = fleet.endpoint(name)
    conn = http.client.HTTPConnection(endpoint.address, endpoint.http_port, timeout=10)
    conn.request("POST", "/wsman", body=body, headers=headers)
    response = conn.getresponse()
    return response, response.read(), conn


def _handshake(
    fleet: RunningFleet, name: str, scheme: str, protocol: str
) -> tuple[Any, http.client.HTTPConnection, http.client.HTTPResponse]:
    context = spnego.client(
        PRINCIPAL,
        ADMIN.password,
        hostname=fleet.endpoint(name).address,
        service="HTTP",
        protocol=protocol,
        options=spnego.NegotiateOptions.wrapping_winrm,
    )
    first = context.step()
    assert first is not None
    token = base64.b64encode(first).decode()
    response, _, conn = _post(fleet, name, {"Authorization": f"{scheme} {token}"})
    return context, conn, response


@pytest.mark.parametrize(
    ("scheme", "protocol", "label"),
    [
        ("Kerberos", "kerberos", encryption.KERBEROS_PROTOCOL),
        ("Negotiate", "negotiate", encryption.PROTOCOL),
        ("Negotiate", "kerberos", encryption.PROTOCOL),  # raw Kerberos under Negotiate
    ],
)
def test_mutual_auth_token_on_the_200_and_the_label_echoed(
    kerberos_lab: RunningFleet, scheme: str, protocol: str, label: str
) -> None:
    context, conn, response = _handshake(kerberos_lab, "KRB01", scheme, protocol)
    try:
        assert response.status == 200
        answer = response.getheader("WWW-Authenticate") or ""
        assert answer.startswith(f"{scheme} ")  # the AP-REP, under the scheme it came in
        context.step(base64.b64decode(answer.split(" ", 1)[1]))
        assert context.complete
        sealed = encryption.seal(context, b"<not-soap/>", label)
        headers = {"Content-Type": encryption.content_type(label)}
        conn.request("POST", "/wsman", body=sealed, headers=headers)
        reply = conn.getresponse()
        body = reply.read()
        assert reply.status == 500  # a sealed fault: the body was not SOAP
        assert f'protocol="{label}"' in (reply.getheader("Content-Type") or "")
        assert b"Envelope" in encryption.unseal(context, body)
    finally:
        conn.close()


def test_401_lists_negotiate_then_kerberos_like_windows(kerberos_lab: RunningFleet) -> None:
    response, _, conn = _post(kerberos_lab, "KRB01", {})
    conn.close()
    assert response.status == 401
    assert response.headers.get_all("WWW-Authenticate") == ["Negotiate", "Kerberos"]


def test_kerberos_only_lab_refuses_the_negotiate_scheme(strict_lab: RunningFleet) -> None:
    response, _, conn = _post(strict_lab, "STRICT01", {})
    conn.close()
    assert response.headers.get_all("WWW-Authenticate") == ["Kerberos"]
    _, conn, response = _handshake(strict_lab, "STRICT01", "Negotiate", "kerberos")
    conn.close()
    assert response.status == 401


def test_a_token_for_an_unknown_realm_user_maps_to_no_account() -> None:
    from fleetlogoff.lab.auth import find_account

    assert find_account([ADMIN], f"{ADMIN.username}@LAB.TEST", "LAB.TEST") == ADMIN
    assert find_account([ADMIN], f"{ADMIN.username}@OTHER.TEST", "LAB.TEST") is None
    assert find_account([ADMIN], f"{ADMIN.username}@LAB.TEST", None) is None


@pytest.mark.skipif(
    importlib.util.find_spec("kerberos") is None,
    reason="pywinrm's Kerberos needs pykerberos: pip install 'fleetlogoff[kerberos-test]'",
)
@pytest.mark.parametrize("https", [False, True])
def test_pywinrm_kerberos_unchanged(
    kerberos_lab: RunningFleet, realm: KerberosRealm, tmp_path: Any, monkeypatch: Any, https: bool
) -> None:
    import winrm

    # pywinrm's Kerberos (requests_kerberos over pykerberos) needs a ticket: kinit first,
    # as Ansible's winrm plugin does for it.
    cache = tmp_path / "ccache"
    realm.kinit(ADMIN.username, ADMIN.password, cache)
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
    endpoint = kerberos_lab.endpoint("KRB02")
    scheme, port = ("https", endpoint.https_port) if https else ("http", endpoint.http_port)
    session = winrm.Session(
        f"{scheme}://{endpoint.address}:{port}/wsman",
        auth=(PRINCIPAL, ""),
        transport="kerberos",
        server_cert_validation="validate",
        ca_trust_path=endpoint.ca_path,
    )
    result = session.run_cmd("hostname")
    assert (result.status_code, result.std_out) == (0, b"KRB02\r\n")


def test_https_bindings_are_the_certificate_hash(kerberos_lab: RunningFleet) -> None:
    endpoint = kerberos_lab.endpoint("KRB01")
    assert endpoint.https_port is not None and endpoint.ca_path is not None
    context = ssl.create_default_context(cafile=endpoint.ca_path)
    conn = http.client.HTTPSConnection(
        endpoint.address, endpoint.https_port, timeout=5, context=context
    )
    try:
        conn.connect()
        assert isinstance(conn.sock, ssl.SSLSocket)
        der = conn.sock.getpeercert(binary_form=True)
    finally:
        conn.close()
    assert der is not None
    from fleetlogoff.lab.auth import tls_channel_bindings

    server = kerberos_lab.server
    assert server.ca is not None
    assert server.ca.certificate_der("KRB01", endpoint.address) == der
    bindings = tls_channel_bindings(der).application_data or b""
    assert bindings.startswith(b"tls-server-end-point:")


def test_a_lab_without_kerberos_refuses_a_valid_ticket(
    kerberos_lab: RunningFleet, realm: KerberosRealm
) -> None:
    """The realm's keytab is process-wide: an NTLM-only lab must still say no."""
    with start_fleet([FakeHost("NTLM01")], https=False) as plain:
        with (
            client(plain, "NTLM01", negotiate_hostname_override="krb01.lab.test") as c,
            pytest.raises(AuthenticationError),
        ):
            c.execute_cmd("hostname")
        with client(plain, "NTLM01", auth="ntlm", username=ADMIN.username) as c:
            assert c.execute_cmd("hostname")[0] == "NTLM01\r\n"


@pytest.fixture(scope="module")
def strict_negotiate_lab(realm: KerberosRealm) -> Iterator[RunningFleet]:
    options = KerberosOptions(realm, offer_negotiate=True, strict_cbt=True)
    with start_fleet([FakeHost("STRICT02")], https=True, kerberos=options) as fleet:
        yield fleet


def test_strict_cbt_refuses_an_ntlm_client_without_bindings(
    strict_negotiate_lab: RunningFleet,
) -> None:
    """Strict holds for NTLM under Negotiate too. (A client that leaves the bindings out,
    as pyspnego's does, pyspnego's acceptor refuses by itself; one that sends zeros is
    refused by the lab's own check, ntlm_bindings.py, tested on real messages in
    tests/lab/test_ntlm_bindings.py: no client at hand sends zeros.)"""
    ntlm = {"auth": "ntlm", "username": ADMIN.username}
    with client(strict_negotiate_lab, "STRICT02", https=True, **ntlm) as c:
        assert c.execute_cmd("hostname")[0] == "STRICT02\r\n"
    with (
        client(strict_negotiate_lab, "STRICT02", https=True, negotiate_send_cbt=False, **ntlm) as c,
        pytest.raises(AuthenticationError),
    ):
        c.execute_cmd("hostname")
