"""plan and apply through the CLI against a Kerberos lab and a real KDC, as an admin of a
domain fleet would run them: message encryption over HTTP, channel binding over HTTPS
(strict), kinit caches, hostname overrides, and every Kerberos failure as one line."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.lab.contract import Account
from fleetlogoff.lab.fleet import RunningFleet, start_fleet
from fleetlogoff.lab.host import LAB_ADMIN, SimHost
from fleetlogoff.lab.inventory_out import KerberosInventory, write_inventory
from fleetlogoff.lab.kdc import KerberosRealm
from fleetlogoff.lab.server import KerberosOptions
from tests.cliutil import Result, run_cli
from tests.integration.conftest import active, disconnected, services_and_console, sim_host
from tests.kerberos.conftest import use_realm_env

pytestmark = pytest.mark.kerberos

STALE = ["--state", "disconnected", "--idle", ">= 2h"]
FLEET_SIZE = 20


def _host(name: str) -> SimHost:
    sessions = [
        *services_and_console(),
        disconnected(2, "stale.user", idle_h=5),
        active(3, "busy.user", idle_min=2),
    ]
    return sim_host(name, sessions=sessions)


@contextmanager
def kerberos_fleet(
    hosts: Sequence[SimHost],
    tmp_path: Path,
    realm: KerberosRealm,
    *,
    https: bool = False,
    strict_cbt: bool = False,
) -> Iterator[tuple[RunningFleet, Path]]:
    """A Kerberos lab in this process and its inventory, as `fleetlogoff lab --auth
    kerberos` writes it (over HTTPS: the HTTPS port, scheme and the lab CA)."""
    options = KerberosOptions(realm, strict_cbt=strict_cbt)
    with start_fleet(list(hosts), https=https, work_dir=tmp_path, kerberos=options) as fleet:
        inventory = tmp_path / "inventory.yml"
        names = [site.dns_name for site in fleet.server.sites]
        krb = KerberosInventory(realm.realm, str(realm.krb5_conf), names)
        write_inventory(inventory, list(hosts), fleet.endpoints, krb)
        if https:
            edit_hosts(
                inventory,
                lambda entry: entry.update(
                    ansible_port=entry["lab_https_port"], ansible_winrm_scheme="https"
                ),
            )
        yield fleet, inventory


def edit_hosts(inventory: Path, change: Any) -> None:
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    for entry in data["all"]["children"]["rds"]["hosts"].values():
        change(entry)
    inventory.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def set_vars(inventory: Path, **values: Any) -> None:
    """Set (None: remove) the same variables on every host."""

    def change(entry: dict[str, Any]) -> None:
        for name, value in values.items():
            if value is None:
                entry.pop(name, None)
            else:
                entry[name] = value

    edit_hosts(inventory, change)


def plan(inventory: Path, *extra: str) -> Result:
    return run_cli(["plan", str(inventory), *STALE, "--format", "json", "--timeout", "20s", *extra])


def statuses(result: Result) -> dict[str, tuple[str, str | None]]:
    return {h["name"]: (h["status"], h.get("error")) for h in result.json()["hosts"]}


def assert_one_line_failures(result: Result, words: str) -> None:
    """Every host tried failed with auth_failed and a reason containing `words`, and once
    the credentials failed a few times no further host was tried with them (the lockout
    guard); one line each, no traceback."""
    assert result.status == ExitStatus.ERROR, result.stderr
    tried = 0
    for name, (status, error) in statuses(result).items():
        assert error is not None and "\n" not in error
        if "account lockout protection" in error:
            assert status == "error", (name, status, error)
            continue
        tried += 1
        assert status == "auth_failed", (name, status, error)
        assert words in error, (name, error)
    assert tried >= 1
    assert "Traceback" not in result.stderr + result.stdout


def test_plan_and_apply_20_hosts_over_http_with_message_encryption(
    realm: KerberosRealm, tmp_path: Path
) -> None:
    hosts = [_host(f"rds{n:02d}") for n in range(1, FLEET_SIZE + 1)]
    with kerberos_fleet(hosts, tmp_path, realm) as (_, inventory):
        planned = plan(inventory, "-o", str(tmp_path / "plan.json"))
        assert planned.status == ExitStatus.OK, planned.stderr
        assert planned.json()["summary"]["targets"] == FLEET_SIZE
        assert {s for s, _ in statuses(planned).values()} == {"ok"}
        applied = run_cli(
            [
                "apply",
                str(tmp_path / "plan.json"),
                "--yes",
                "--warn",
                "1s",
                "--timeout",
                "20s",
                "--audit-log",
                str(tmp_path / "audit.jsonl"),
            ]
        )
        assert applied.status == ExitStatus.OK, applied.stderr + applied.stdout
        for host in hosts:
            assert {(s.id, s.user) for s in host.sessions() if s.user} == {(3, "busy.user")}
            assert [m["session_id"] for m in host.state()["messages"]] == [2]


def test_plan_and_apply_20_hosts_over_https_with_strict_channel_binding(
    realm: KerberosRealm, tmp_path: Path
) -> None:
    hosts = [_host(f"tls{n:02d}") for n in range(1, FLEET_SIZE + 1)]
    with kerberos_fleet(hosts, tmp_path, realm, https=True, strict_cbt=True) as (_, inventory):
        result = run_cli(
            [
                "apply",
                str(inventory),
                *STALE,
                "--yes",
                "--warn",
                "1s",
                "--timeout",
                "20s",
                "--audit-log",
                str(tmp_path / "audit.jsonl"),
            ]
        )
        assert result.status == ExitStatus.OK, result.stderr + result.stdout
        for host in hosts:
            assert {(s.id, s.user) for s in host.sessions() if s.user} == {(3, "busy.user")}
        # Strict CBT refuses a client that binds nothing: the inventory can say so.
        set_vars(inventory, ansible_winrm_send_cbt=False)
        refused = plan(inventory)
    assert_one_line_failures(refused, "refused the Kerberos ticket")


def test_negotiate_prefers_kerberos_and_psrp_names_work(
    realm: KerberosRealm, tmp_path: Path
) -> None:
    with kerberos_fleet([_host("neg01"), _host("neg02")], tmp_path, realm) as (_, inventory):
        set_vars(inventory, ansible_winrm_transport="negotiate")
        assert plan(inventory).status == ExitStatus.OK
        # The psrp plugin's names: ansible_psrp_auth, its default WSMAN service.
        set_vars(
            inventory,
            ansible_connection="psrp",
            ansible_winrm_transport=None,
            ansible_winrm_scheme=None,
            ansible_psrp_auth="kerberos",
            ansible_psrp_protocol="http",
        )
        result = plan(inventory)
    assert result.status == ExitStatus.OK, result.stdout


def test_user_principal_forms(realm: KerberosRealm, tmp_path: Path) -> None:
    with kerberos_fleet([_host("upn01")], tmp_path, realm) as (_, inventory):
        for user in ("Administrator", "Administrator@LAB.TEST", "Administrator@lab.test"):
            set_vars(inventory, ansible_user=user)
            result = plan(inventory)
            assert result.status == ExitStatus.OK, (user, result.stdout)


def test_kinit_ticket_cache_without_a_password(
    realm: KerberosRealm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with kerberos_fleet([_host("cc01"), _host("cc02")], tmp_path, realm) as (_, inventory):
        cache = tmp_path / "user.ccache"
        realm.kinit(LAB_ADMIN.username, LAB_ADMIN.password, cache)  # once the lab made it
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
        set_vars(inventory, ansible_password=None)
        with_user = plan(inventory)
        set_vars(inventory, ansible_user=None)
        without_user = plan(inventory)
    assert with_user.status == ExitStatus.OK, with_user.stdout
    assert without_user.status == ExitStatus.OK, without_user.stdout


def test_no_ticket_and_no_password_is_one_line(
    realm: KerberosRealm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty.ccache'}")
    with kerberos_fleet([_host("nt01")], tmp_path, realm) as (_, inventory):
        set_vars(inventory, ansible_password=None)
        result = plan(inventory)
    assert_one_line_failures(result, "no Kerberos ticket")


def test_wrong_password_is_one_line(realm: KerberosRealm, tmp_path: Path) -> None:
    with kerberos_fleet([_host("wp01"), _host("wp02")], tmp_path, realm) as (_, inventory):
        set_vars(inventory, ansible_password="not-the-password")
        result = plan(inventory)
    assert_one_line_failures(result, "wrong password for Administrator@LAB.TEST")
    assert "not-the-password" not in result.stdout + result.stderr


def test_unknown_principal_is_one_line(realm: KerberosRealm, tmp_path: Path) -> None:
    with kerberos_fleet([_host("up01")], tmp_path, realm) as (_, inventory):
        set_vars(inventory, ansible_user="nobody@LAB.TEST")
        result = plan(inventory)
    assert_one_line_failures(result, "unknown user principal nobody@LAB.TEST")


def test_hostname_override_names_the_service_principal(
    realm: KerberosRealm, tmp_path: Path
) -> None:
    hosts = [_host("ov01"), _host("ov02")]
    with kerberos_fleet(hosts, tmp_path, realm) as (_, inventory):
        edit_hosts(
            inventory,
            lambda e: e.update(ansible_winrm_kerberos_hostname_override=e["lab_kerberos_hostname"]),
        )
        right = plan(inventory)
        # Every host asked for ov01's ticket: ov02 holds only its own keys and refuses it.
        set_vars(inventory, ansible_winrm_kerberos_hostname_override="ov01.lab.test")
        crossed = plan(inventory)
        set_vars(inventory, ansible_winrm_kerberos_hostname_override="nosuch.lab.test")
        unknown = plan(inventory)
    assert right.status == ExitStatus.OK, right.stdout
    assert statuses(crossed)["ov01"][0] == "ok"
    status, error = statuses(crossed)["ov02"]
    assert status == "auth_failed" and error is not None
    assert "refused the Kerberos ticket for HTTP/ov01.lab.test" in error
    assert_one_line_failures(unknown, "knows no service principal HTTP/nosuch.lab.test")


def test_service_override(realm: KerberosRealm, tmp_path: Path) -> None:
    with kerberos_fleet([_host("svc01")], tmp_path, realm) as (_, inventory):
        set_vars(inventory, ansible_winrm_service="WSMAN")
        assert plan(inventory).status == ExitStatus.OK
        set_vars(inventory, ansible_winrm_service="CIFS")
        result = plan(inventory)
    assert_one_line_failures(result, "knows no service principal CIFS/")


@pytest.mark.parametrize(
    ("timesync", "words"),
    [
        # The client keeps its own clock: the KDC refuses it.
        (False, "clock skew too great"),
        # The client follows the KDC's clock (MIT's default): the host, on the real clock,
        # refuses the ticket; the line says that a clock may be why.
        (True, "more than 5 minutes off"),
    ],
)
def test_clock_skew_is_one_line(
    realm: KerberosRealm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    timesync: bool,
    words: str,
) -> None:
    """A KDC whose clock runs 10 minutes ahead, past Kerberos' 5 minutes of tolerance."""
    skewed = KerberosRealm(tmp_path / "skewed", clock_offset_s=600, client_timesync=timesync)
    skewed.start()
    try:
        for name, value in skewed.env().items():
            monkeypatch.setenv(name, value)
        with kerberos_fleet([_host("sk01")], tmp_path, skewed) as (_, inventory):
            result = plan(inventory)
    finally:
        skewed.stop()
        use_realm_env(realm)
    assert_one_line_failures(result, words)


def test_the_cache_principal_is_protected_like_ansible_user(
    realm: KerberosRealm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a kinit cache and no ansible_user, fleetlogoff still knows whose sessions are
    its own and never selects them."""
    service = Account("svc.logoff", "Svc-Logoff-Passw0rd!", admin=True)
    sessions = [
        *services_and_console(),
        disconnected(2, "stale.user", idle_h=5),
        disconnected(4, "svc.logoff", idle_h=6),
    ]
    host = sim_host("own01", sessions=sessions, accounts=[LAB_ADMIN, service])
    with kerberos_fleet([host], tmp_path, realm) as (_, inventory):
        cache = tmp_path / "svc.ccache"
        realm.kinit(service.username, service.password, cache)
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
        set_vars(inventory, ansible_user=None, ansible_password=None)
        result = plan(inventory)
    assert result.status == ExitStatus.OK, result.stdout + result.stderr
    (only,) = result.json()["hosts"]
    assert [t["username"] for t in only["targets"]] == ["stale.user"]
    action = {s["username"]: (s["action"], s.get("reason", "")) for s in only["sessions"]}
    assert action["svc.logoff"][0] == "protected"
    assert "own account" in action["svc.logoff"][1]
