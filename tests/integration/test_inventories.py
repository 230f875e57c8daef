"""The inventories an Ansible admin already has, against the lab: several -i sources, an
INI inventory, a directory, a vaulted password and vault-encrypted group_vars, --limit
@file, and ansible_winrm_path honoured on the wire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.inventory.vault import encrypt
from fleetlogoff.lab.host import LAB_ADMIN, SimHost
from tests.cliutil import run_cli

from .conftest import disconnected, lab, services_and_console, sim_host

STALE = ["--state", "disconnected", "--idle", ">= 2h", "--format", "json"]
VAULT_PASSWORD = "Lab-Vault-Passw0rd!"  # a lab password, not a secret


def _host(name: str) -> SimHost:
    return sim_host(name, sessions=[*services_and_console(), disconnected(2, "stale.user", 5)])


def _entries(inventory: Path) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    hosts: dict[str, dict[str, Any]] = data["all"]["children"]["rds"]["hosts"]
    return hosts


def _ini(entries: dict[str, dict[str, Any]], names: list[str], password: str | None) -> str:
    lines = ["[rds]"]
    for name in names:
        entry = entries[name]
        lines.append(
            f"{name} ansible_host={entry['ansible_host']} ansible_port={entry['ansible_port']}"
        )
    lines += [
        "",
        "[rds:vars]",
        f"ansible_user={LAB_ADMIN.username}",
        "ansible_winrm_transport=ntlm",
    ]
    lines += ["ansible_winrm_scheme=http"]
    if password is not None:
        lines.append(f"ansible_password={password}")
    return "\n".join(lines) + "\n"


def _planned(result_json: dict[str, Any]) -> dict[str, str]:
    return {h["name"]: h["status"] for h in result_json["hosts"]}


def _two_sites(tmp_path: Path, generated: Path) -> tuple[Path, Path]:
    """site-a: an INI file for rds-a1/rds-a2 whose password is in a vaulted group_vars;
    site-b: an INI file for rds-b1 with its password inline; the vault password file."""
    entries = _entries(generated)
    site_a, site_b = tmp_path / "site-a", tmp_path / "site-b"
    (site_a / "group_vars").mkdir(parents=True)
    site_b.mkdir()
    (site_a / "hosts").write_text(_ini(entries, ["rds-a1", "rds-a2"], None), encoding="utf-8")
    secret = f"ansible_password: {LAB_ADMIN.password}\n".encode()
    (site_a / "group_vars" / "rds.yml").write_text(
        encrypt(secret, VAULT_PASSWORD.encode(), "lab"), encoding="ascii"
    )
    (site_b / "hosts.ini").write_text(
        _ini(entries, ["rds-b1"], LAB_ADMIN.password), encoding="utf-8"
    )
    (tmp_path / "vault-pass").write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
    return site_a, site_b


def test_several_sources_an_ini_file_and_a_vaulted_group_vars(tmp_path: Path) -> None:
    hosts = [_host("rds-a1"), _host("rds-a2"), _host("rds-b1")]
    with lab(hosts, tmp_path) as (_, generated):
        site_a, site_b = _two_sites(tmp_path, generated)
        sources = ["-i", str(site_a / "hosts"), "-i", str(site_b / "hosts.ini")]
        vault = ["--vault-id", f"lab@{tmp_path / 'vault-pass'}"]
        plan = tmp_path / "plan.json"
        planned = run_cli(["plan", *sources, *vault, *STALE, "-o", str(plan)])
        asked = run_cli(["plan", *sources, "--ask-vault-pass", *STALE], password=VAULT_PASSWORD)
        wrong = run_cli(["plan", *sources, "--ask-vault-pass", *STALE], password="not-it")
        missing = run_cli(["plan", *sources, *STALE])
        applied = run_cli(["apply", str(plan), *sources, *vault, "--yes", "--warn", "0s"])
    assert planned.status == ExitStatus.OK, planned.stderr
    assert _planned(planned.json()) == {"rds-a1": "ok", "rds-a2": "ok", "rds-b1": "ok"}
    assert planned.json()["summary"]["targets"] == 3
    assert asked.status == ExitStatus.OK, asked.stderr
    for refused in (wrong, missing):
        assert refused.status == ExitStatus.USAGE
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert str(site_a / "group_vars" / "rds.yml") in refused.stderr
    assert "vault ids tried: default" in wrong.stderr and "not-it" not in wrong.stderr
    assert "no vault password was given" in missing.stderr
    assert applied.status == ExitStatus.OK, applied.stderr
    everything = planned.stdout + asked.stdout + wrong.stderr + missing.stderr + applied.stdout
    assert LAB_ADMIN.password not in everything and VAULT_PASSWORD not in everything


def test_the_visible_vault_layout_and_an_env_lookup_reach_the_hosts(tmp_path: Path) -> None:
    """Ansible's "keep vaulted variables safely visible": the password is
    `{{ vault_ansible_password }}`, set in an encrypted group_vars file; the user is read
    from the controller's environment with lookup('env', ...). plan reads with both."""
    hosts = [_host("rds-a1"), _host("rds-a2")]
    with lab(hosts, tmp_path) as (_, generated):
        site = tmp_path / "site"
        (site / "group_vars" / "rds").mkdir(parents=True)
        (site / "hosts").write_text(
            _ini(_entries(generated), ["rds-a1", "rds-a2"], "{{ vault_ansible_password }}").replace(
                f"ansible_user={LAB_ADMIN.username}", "ansible_user={{ lookup('env', 'WINUSER') }}"
            ),
            encoding="utf-8",
        )
        secret = f"vault_ansible_password: {LAB_ADMIN.password}\n".encode()
        (site / "group_vars" / "rds" / "vault.yml").write_text(
            encrypt(secret, VAULT_PASSWORD.encode(), "lab"), encoding="ascii"
        )
        (tmp_path / "vault-pass").write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
        vault = ["--vault-password-file", str(tmp_path / "vault-pass")]
        environ = {"WINUSER": LAB_ADMIN.username}
        planned = run_cli(["plan", str(site / "hosts"), *vault, *STALE], environ=environ)
        no_user = run_cli(["plan", str(site / "hosts"), *vault, *STALE])
    assert planned.status == ExitStatus.OK, planned.stderr
    assert _planned(planned.json()) == {"rds-a1": "ok", "rds-a2": "ok"}
    assert planned.json()["summary"]["targets"] == 2
    assert no_user.status == ExitStatus.USAGE
    assert "ansible_user reads the environment variable WINUSER, which is not set" in no_user.stderr
    assert LAB_ADMIN.password not in planned.stdout + no_user.stderr


def test_a_directory_inventory_with_a_limit_file(tmp_path: Path) -> None:
    hosts = [_host("rds-d1"), _host("rds-d2"), _host("rds-d3")]
    with lab(hosts, tmp_path) as (_, generated):
        inventory_dir = tmp_path / "inventory"
        inventory_dir.mkdir()
        generated.rename(inventory_dir / "lab.yml")
        (inventory_dir / "README.md").write_text("ignored, as by Ansible\n", encoding="utf-8")
        (tmp_path / "retry").write_text("rds-d1\nrds-d3\n", encoding="utf-8")
        result = run_cli(["plan", str(inventory_dir), "--limit", f"@{tmp_path / 'retry'}", *STALE])
        empty = run_cli(["plan", str(inventory_dir), "--limit", " ", *STALE])
        widened = run_cli(["plan", str(inventory_dir), "--limit", "rds]", *STALE])
    assert result.status == ExitStatus.OK, result.stderr
    assert _planned(result.json()) == {"rds-d1": "ok", "rds-d3": "ok"}
    for refused in (empty, widened):
        assert refused.status == ExitStatus.USAGE and refused.stdout == ""
        assert refused.stderr.count("\n") == 1


def test_the_winrm_path_reaches_the_wire(tmp_path: Path) -> None:
    hosts = [_host("rds-p1"), _host("rds-p2")]
    with lab(hosts, tmp_path) as (_, inventory):
        data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
        rds = data["all"]["children"]["rds"]["hosts"]
        rds["rds-p1"]["ansible_winrm_path"] = "/WSMan"  # the lab, like IIS, ignores case
        rds["rds-p2"]["ansible_winrm_path"] = "/not-wsman"
        inventory.write_text(yaml.safe_dump(data), encoding="utf-8")
        result = run_cli(["plan", str(inventory), *STALE, "--timeout", "10s"])
    assert result.status == ExitStatus.ERROR
    plan = {h["name"]: h for h in result.json()["hosts"]}
    # the same host, the same credentials: only the URL path differs, and the lab serves
    # /wsman only: its 404 comes back (not counted as a rejected password)
    assert plan["rds-p1"]["status"] == "ok"
    assert plan["rds-p2"]["status"] == "error"
    assert "HTTP 404" in plan["rds-p2"]["error"]


def test_logoff_reads_several_sources_and_vaulted_group_vars_as_plan_does(
    tmp_path: Path,
) -> None:
    """`fleetlogoff logoff` takes the inventories plan and apply take: several -i, vault
    flags (a path after --vault-password-file is not a Windows switch), --server as a
    pattern across sources; without the vault password it refuses in one line."""
    hosts = [_host("rds-a1"), _host("rds-a2"), _host("rds-b1")]
    with lab(hosts, tmp_path) as (_, generated):
        site_a, site_b = _two_sites(tmp_path, generated)
        sources = ["-i", str(site_a / "hosts"), "--inventory", str(site_b / "hosts.ini")]
        audit = ["--audit-log", str(tmp_path / "audit.jsonl"), "--yes"]
        vault_file = ["--vault-password-file", str(tmp_path / "vault-pass")]
        without = run_cli(["logoff", "stale.user", "--server", "rds-a*", *sources, *audit])
        by_file = run_cli(
            ["logoff", "stale.user", "/server:rds-a1:rds-b1", *sources, *vault_file, *audit]
        )
        asked = run_cli(
            ["logoff", "2", "--server", "rds-a2", *sources, "-J", *audit], password=VAULT_PASSWORD
        )
        left = {h.name: {s.user for s in h.sessions() if s.user} for h in hosts}
    assert without.status == ExitStatus.USAGE and without.stderr.count("\n") == 1
    assert str(site_a / "group_vars" / "rds.yml") in without.stderr
    assert "no vault password was given" in without.stderr
    assert by_file.status == ExitStatus.OK, by_file.stderr + by_file.stdout
    assert asked.status == ExitStatus.OK, asked.stderr + asked.stdout
    assert left == {"rds-a1": set(), "rds-a2": set(), "rds-b1": set()}
    everything = "".join(r.stdout + r.stderr for r in (without, by_file, asked))
    assert LAB_ADMIN.password not in everything and VAULT_PASSWORD not in everything
