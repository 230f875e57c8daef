"""Inventory sources from disk as Ansible's InventoryManager reads them: directories,
several -i sources, host lists, group_vars/host_vars beside each source, vault-encrypted
files and values, and the dynamic sources that need ansible-core."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.inventory import ansible_cli
from fleetlogoff.inventory.files import (
    MAX_FILE_BYTES,
    expand_limit,
    join_sources,
    load_inventory,
    split_sources,
)
from fleetlogoff.inventory.vault import Keyring, VaultSecret, encrypt
from fleetlogoff.model import Secret
from tests.inventoryutil import values

VAULT = Path(__file__).parents[1] / "fixtures" / "vault"
LAB = b"Lab-Vault-Passw0rd!"


def write(base: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return base


def lab_keyring() -> Keyring:
    return Keyring([VaultSecret("default", LAB)])


# ---- directories and several sources ------------------------------------------------


def test_a_directory_is_every_inventory_in_it_sorted_with_its_group_vars(tmp_path: Path) -> None:
    write(
        tmp_path / "inv",
        {
            "10-static.yml": "rds:\n  hosts:\n    rds01:\n",
            "20-more.ini": "[rds]\nrds02\n",
            "sub/30-deeper": "[rds]\nrds03\n",
            "sub/group_vars/rds.yml": "never: read\n",
            "group_vars/rds.yml": "ansible_user: svc\n",
            "README.md": "not an inventory",
            "notes.txt": "[broken",
            "old.yml.bak": "[broken",
            ".hidden.yml": "[broken",
            "ansible.cfg": "[defaults]\n",
            "run.retry": "rds01\n",
            "x.orig": "[broken",
        },
    )
    inventory = load_inventory([str(tmp_path / "inv")])
    assert inventory.names == ["rds01", "rds02", "rds03"]
    assert values(inventory, "rds03") == {"ansible_user": "svc"}
    assert inventory.source == str(tmp_path / "inv")


def test_a_file_no_plugin_reads_in_a_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    write(
        tmp_path, {"inv/hosts.yml": "rds:\n  hosts: {rds01: }\n", "inv/requirements.yml": "- x\n"}
    )
    with pytest.raises(ConfigError) as info:
        load_inventory([str(tmp_path / "inv")])
    assert info.value.source.endswith("requirements.yml")


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "inv" / "group_vars").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no inventory file in this directory"):
        load_inventory([str(tmp_path / "inv")])


def test_several_sources_merge_in_order_with_their_own_group_vars(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a/hosts.yml": "rds:\n  vars: {x: a}\n  hosts:\n    rds01: {h: a}\n    rds02:\n",
            "a/group_vars/all.yml": "y: file-a\nz: file-a\n",
            "a/group_vars/rds.yml": "w: rds-file-a\n",
            "b/hosts.ini": "[rds]\nrds02 h=b\nrds03\n[rds:vars]\nx=b\n",
            "b/group_vars/all.yml": "y: file-b\n",
        },
    )
    sources = [str(tmp_path / "a" / "hosts.yml"), str(tmp_path / "b" / "hosts.ini"), "rds04,rds01,"]
    inventory = load_inventory(sources)
    assert inventory.names == ["rds04", "rds01", "rds02", "rds03"]
    # the later source's inline var replaces the earlier one's; group_vars beat both;
    # source b's group_vars/all comes after a's, and a's group_vars/rds after both alls
    assert values(inventory, "rds02") == {
        "x": "b",
        "h": "b",
        "y": "file-b",
        "z": "file-a",
        "w": "rds-file-a",
    }
    assert inventory.groups["ungrouped"] == ("rds04",)
    assert split_sources(inventory.source) == tuple(sources)


def test_join_and_split_sources() -> None:
    assert join_sources(["hosts.yml"]) == "hosts.yml"
    assert split_sources("hosts.yml") == ("hosts.yml",)
    both = join_sources(["a.yml", "h1,h2,"])
    assert split_sources(both) == ("a.yml", "h1,h2,")
    assert split_sources('["not json') == ('["not json',)


def test_a_host_list_keeps_ports_addresses_and_literal_ranges() -> None:
    inventory = load_inventory(["rds01, rds02:5986,[2001:db8::5]:5985,rds[1:2],"])
    assert inventory.names == ["rds01", "rds02", "2001:db8::5", "rds[1:2]"]
    assert values(inventory, "rds02") == {"ansible_port": 5986}
    assert inventory.select("2001:db8::5")[0].connection.port == 5985


def test_a_missing_source_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_inventory([str(tmp_path / "nope.yml")])
    assert str(info.value) == f"{tmp_path / 'nope.yml'}: no such inventory file or directory"
    with pytest.raises(ConfigError, match="no inventory given"):
        load_inventory([])


def test_the_digest_covers_every_source_and_var_file(tmp_path: Path) -> None:
    write(tmp_path, {"a.yml": "rds:\n  hosts: {rds01: }\n", "b.ini": "[rds]\nrds02\n"})
    write(tmp_path, {"group_vars/rds/main.yml": "x: 1\n"})
    sources = [str(tmp_path / "a.yml"), str(tmp_path / "b.ini")]
    before = load_inventory(sources).digest
    (tmp_path / "group_vars" / "rds" / "main.yml").write_text("x: 2\n", encoding="utf-8")
    after_var = load_inventory(sources).digest
    (tmp_path / "b.ini").write_text("[rds]\nrds03\n", encoding="utf-8")
    assert len({before, after_var, load_inventory(sources).digest}) == 3
    assert load_inventory(sources[:1]).digest != load_inventory(sources).digest


def test_a_file_past_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "big.yml").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="larger than 16 MiB"):
        load_inventory([str(tmp_path / "big.yml")])


def test_non_utf8_is_tolerated_in_comment_lines_only(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_bytes(b"# caf\xe9\n[rds]\nrds01\n")
    assert load_inventory([str(tmp_path / "hosts")]).names == ["rds01"]
    (tmp_path / "hosts").write_bytes(b"[rds]\nrds\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_inventory([str(tmp_path / "hosts")])
    assert (info.value.line, info.value.reason) == (2, "this line is not UTF-8 text")


# ---- group_vars and host_vars -----------------------------------------------------------


def test_var_files_are_found_as_ansibles_find_vars_files_finds_them(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "hosts.yml": "rds:\n  hosts:\n    rds01.corp.example:\n    rds02.corp.example:\n",
            "group_vars/rds/10-conn.yml": "ansible_user: from-dir\n",
            "group_vars/rds/20-sub/30-more.yaml": "deep: sub-folder\n",
            "group_vars/rds/30-noext": "noext_in_dir: read\n",
            "group_vars/rds/ignored.txt": "ignored: txt\n",
            "group_vars/rds/.hidden.yml": "hidden: yes\n",
            "group_vars/rds/backup.yml~": "backup: yes\n",
            "group_vars/rds/sub.d/x.yml": "dotted_folder: skipped\n",
            "group_vars/rds.yml": "ansible_user: never-read\n",
            "host_vars/rds01.corp.example": "noext: read\n",
            "host_vars/rds02.corp.example.yml": "withext: read\n",
            "host_vars/rds02.corp.example.json": '{"json": "never: .yml came first"}',
        },
    )
    inventory = load_inventory([str(tmp_path / "hosts.yml")])
    assert values(inventory, "rds01.corp.example") == {
        "ansible_user": "from-dir",
        "deep": "sub-folder",
        "noext_in_dir": "read",
        "noext": "read",
    }
    assert values(inventory, "rds02.corp.example")["withext"] == "read"


def test_a_name_ending_in_a_dot_has_an_extension_as_for_ansible(tmp_path: Path) -> None:
    # Ansible takes extensions with os.path.splitext: 'zz-old.' and 'sub.' end in '.',
    # which is no YAML extension, so neither is read (Path.suffix would see none)
    write(
        tmp_path,
        {
            "hosts.yml": "rds:\n  hosts:\n    rds01:\n",
            "group_vars/rds/10-conn.yml": "ansible_port: 5985\n",
            "group_vars/rds/zz-old.": "ansible_port: 6\n",
            "group_vars/rds/sub./x.yml": "dotted: read\n",
            "group_vars/rds/.yml": "hidden: read\n",
        },
    )
    inventory = load_inventory([str(tmp_path / "hosts.yml")])
    assert values(inventory, "rds01") == {"ansible_port": 5985}


def test_group_vars_files_beat_every_inline_group_var_but_not_host_vars(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "hosts.yml": (
                "all:\n  vars: {x: all-inline}\n  children:\n    parent:\n"
                "      vars: {x: parent-inline, z: parent-inline}\n      children:\n"
                "        child:\n          vars: {x: child-inline, z: child-inline}\n"
                "          hosts:\n            h1: {x: host-inline}\n            h2:\n"
            ),
            "group_vars/all.yml": "x: all-file\n",
            "group_vars/parent.yml": "z: parent-file\n",
            "host_vars/h2.yml": "x: host-file\n",
        },
    )
    inventory = load_inventory([str(tmp_path / "hosts.yml")])
    assert values(inventory, "h1") == {"x": "host-inline", "z": "parent-file"}
    assert values(inventory, "h2") == {"x": "host-file", "z": "parent-file"}


def test_group_vars_that_is_a_file_is_skipped_as_ansible_does(tmp_path: Path) -> None:
    write(tmp_path, {"hosts.yml": "rds:\n  hosts: {rds01: }\n", "group_vars": "x: 1\n"})
    assert values(load_inventory([str(tmp_path / "hosts.yml")]), "rds01") == {}


def test_var_files_never_reach_outside_their_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "inv/hosts.yml": "rds:\n  hosts:\n    '../secret':\n    a/b:\n",
            "inv/host_vars/a/b.yml": "nested: never\n",
            "inv/secret.yml": "escaped: never\n",
        },
    )
    inventory = load_inventory([str(tmp_path / "inv" / "hosts.yml")])
    assert values(inventory, "../secret") == {} and values(inventory, "a/b") == {}


# ---- vault --------------------------------------------------------------------------------


def test_a_vault_encrypted_group_vars_file_is_read(tmp_path: Path) -> None:
    write(tmp_path, {"hosts.yml": "rds:\n  hosts:\n    rds01:\n"})
    (tmp_path / "group_vars").mkdir()
    shutil.copy(VAULT / "group-vars-1.2-lab.vault", tmp_path / "group_vars" / "rds.yml")
    inventory = load_inventory([str(tmp_path / "hosts.yml")], keyring=lab_keyring())
    host = inventory.select(None)[0]
    assert host.connection.username == "Administrator"
    assert host.connection.password == Secret("Lab-Admin-Passw0rd!")
    assert host.settings["fleetlogoff_protected_users"] == ("svc-*",)


def test_an_encrypted_file_no_password_opens_is_an_error_never_a_skip(tmp_path: Path) -> None:
    write(tmp_path, {"hosts.yml": "rds:\n  hosts:\n    rds01:\n"})
    (tmp_path / "group_vars").mkdir()
    shutil.copy(VAULT / "group-vars-1.2-lab.vault", tmp_path / "group_vars" / "rds.yml")
    target = tmp_path / "group_vars" / "rds.yml"
    with pytest.raises(ConfigError) as info:
        load_inventory([str(tmp_path / "hosts.yml")])
    assert str(info.value) == (
        f"{target}: vault-encrypted file: it is vault-encrypted and no vault password was given"
        " (--ask-vault-pass, --vault-password-file or --vault-id)"
    )
    wrong = Keyring([VaultSecret("lab", b"wrong-pass")])
    with pytest.raises(ConfigError) as info:
        load_inventory([str(tmp_path / "hosts.yml")], keyring=wrong)
    assert str(info.value) == (
        f"{target}: vault-encrypted file: no vault password given opens it (vault ids tried: lab)"
    )
    assert "wrong-pass" not in str(info.value)


def test_a_whole_inventory_may_be_vault_encrypted(tmp_path: Path) -> None:
    text = "[rds]\nrds01 ansible_host=192.0.2.90\n[rds:vars]\nansible_password=from-vault\n"
    (tmp_path / "hosts.ini").write_text(encrypt(text.encode(), LAB), encoding="ascii")
    host = load_inventory([str(tmp_path / "hosts.ini")], keyring=lab_keyring()).select(None)[0]
    assert (host.connection.address, host.connection.password) == (
        "192.0.2.90",
        Secret("from-vault"),
    )


def test_vault_values_decrypt_only_where_fleetlogoff_reads_them(tmp_path: Path) -> None:
    password = encrypt(b"Lab-Admin-Passw0rd!", LAB).replace("\n", "\n      ")
    become = encrypt(b"other", b"a-password-we-do-not-have").replace("\n", "\n      ")
    (tmp_path / "hosts.yml").write_text(
        "rds:\n  hosts:\n    rds01:\n  vars:\n"
        f"    ansible_password: !vault |\n      {password}\n"
        f"    ansible_become_password: !vault |\n      {become}\n",
        encoding="utf-8",
    )
    host = load_inventory([str(tmp_path / "hosts.yml")], keyring=lab_keyring()).select(None)[0]
    assert host.connection.password == Secret("Lab-Admin-Passw0rd!")


def test_a_wrong_password_for_a_vault_value_names_file_line_and_column(tmp_path: Path) -> None:
    password = encrypt(b"Lab-Admin-Passw0rd!", LAB).replace("\n", "\n      ")
    (tmp_path / "hosts.yml").write_text(
        f"rds:\n  hosts:\n    rds01:\n  vars:\n    ansible_password: !vault |\n      {password}\n",
        encoding="utf-8",
    )
    inventory = load_inventory(
        [str(tmp_path / "hosts.yml")], keyring=Keyring([VaultSecret("default", b"x")])
    )
    with pytest.raises(ConfigError) as info:
        inventory.select(None)
    assert str(info.value).startswith(
        f"{tmp_path / 'hosts.yml'}:5:23: host 'rds01': ansible_password:"
    )
    assert "no vault password given opens it" in str(info.value)


def test_ansibles_visible_vault_layout_is_read(tmp_path: Path) -> None:
    """Ansible's tip "keep vaulted variables safely visible": vars.yml says
    `ansible_password: "{{ vault_ansible_password }}"`, vault.yml (encrypted, or a
    `!vault` value) holds it; the host's own value of the name counts."""
    vaulted = encrypt(b"Lab-Admin-Passw0rd!", LAB).replace("\n", "\n  ")
    write(
        tmp_path,
        {
            "hosts.yml": "rds:\n  hosts:\n    rds01:\n    rds02:\n      vault_user: CORP\\other\n",
            "group_vars/all/vars.yml": "ansible_user: '{{ vault_user }}'\n"
            'ansible_password: "{{vault_ansible_password}}"\n',
            "group_vars/all/vault.yml": f"vault_user: CORP\\svc\n"
            f"vault_ansible_password: !vault |\n  {vaulted}\n",
        },
    )
    rds01, rds02 = load_inventory([str(tmp_path / "hosts.yml")], keyring=lab_keyring()).select(None)
    assert (rds01.connection.username, rds02.connection.username) == ("CORP\\svc", "CORP\\other")
    assert rds01.connection.password == Secret("Lab-Admin-Passw0rd!")
    with pytest.raises(ConfigError) as info:
        load_inventory([str(tmp_path / "hosts.yml")]).select(None)
    assert "vault_ansible_password" not in str(info.value)  # the error is at the vault value
    assert "ansible_password is vault-encrypted and no vault password was given" in str(info.value)


# ---- dynamic sources ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "mode"),
    [
        ("inventory.py", "#!/usr/bin/env python3\nprint('{}')\n", 0o755),
        ("aws_ec2.yml", "plugin: amazon.aws.aws_ec2\nregions: [eu-central-2]\n", 0o644),
        ("hosts.toml", "[rds]\nhosts.rds01 = {}\n", 0o644),
    ],
)
def test_dynamic_sources_without_ansible_core_are_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, mode: int
) -> None:
    monkeypatch.setattr(ansible_cli, "find_ansible_inventory", lambda environ: None)
    (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / name).chmod(mode)
    with pytest.raises(ConfigError) as info:
        load_inventory([str(tmp_path / name)])
    message = str(info.value)
    assert message.startswith(f"{tmp_path / name}: ")
    assert "ansible-core is not installed (pip install ansible-core" in message
    assert "invalid YAML" not in message and "must be a mapping" not in message


def test_a_plugin_config_not_named_yml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "aws.json").write_text('{"plugin": "amazon.aws.aws_ec2"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a .yml or .yaml file"):
        load_inventory([str(tmp_path / "aws.json")])


def test_an_executable_file_without_a_shebang_is_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("rds:\n  hosts: {rds01: }\n", encoding="utf-8")
    (tmp_path / "hosts.yml").chmod(0o755)  # copied from a Windows share: +x everywhere
    assert load_inventory([str(tmp_path / "hosts.yml")]).names == ["rds01"]


# ---- --limit @file ----------------------------------------------------------------------


def test_limit_files_give_one_pattern_a_line(tmp_path: Path) -> None:
    (tmp_path / "retry").write_text("rds01\n\n  rds02  \n!rds03\n", encoding="utf-8")
    assert expand_limit(f"@{tmp_path / 'retry'},web") == ["rds01", "rds02", "!rds03", "web"]
    assert expand_limit("rds") == "rds" and expand_limit(None) is None
    (tmp_path / "empty").write_text("\n \n", encoding="utf-8")
    with pytest.raises(UsageError, match="names no host pattern"):
        expand_limit(f"@{tmp_path / 'empty'}")
    with pytest.raises(ConfigError, match="must be a file, not a directory"):
        expand_limit(f"@{tmp_path}")
    with pytest.raises(ConfigError, match="cannot read the --limit file"):
        expand_limit(f"@{tmp_path / 'missing'}")


def test_a_group_called_plugin_is_a_group_not_a_plugin_config(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("plugin:\n  hosts:\n    rds01:\n", encoding="utf-8")
    assert load_inventory([str(tmp_path / "hosts.yml")]).groups["plugin"] == ("rds01",)
