"""Ansible Vault 1.1/1.2: ansible-vault's own output decrypts, our output is the format,
wrong passwords and damaged data are one line that never holds a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory.vault import (
    Keyring,
    VaultError,
    VaultSecret,
    encrypt,
    is_vault_text,
    open_value,
    parse_envelope,
)
from fleetlogoff.yamlsource import Position, YamlScalar

VECTORS = Path(__file__).parents[1] / "fixtures" / "vault"
LAB = b"Lab-Vault-Passw0rd!"
OTHER = b"Other-Lab-Passw0rd"


def vector(name: str) -> str:
    return (VECTORS / name).read_text(encoding="ascii")


@pytest.mark.parametrize(
    ("name", "password", "label", "plaintext"),
    [
        ("value-1.1.vault", LAB, None, "Lab-Admin-Passw0rd!"),
        ("value-1.2-prod.vault", OTHER, "prod", "ünïcode päss ✓"),
        ("group-vars-1.2-lab.vault", LAB, "lab", "ansible_user: Administrator\n"),
    ],
)
def test_ansible_vault_output_decrypts(
    name: str, password: bytes, label: str | None, plaintext: str
) -> None:
    text = vector(name)
    assert parse_envelope(text).label == label
    opened = Keyring([VaultSecret("any", password)]).decrypt(text).decode("utf-8")
    assert opened.startswith(plaintext)


def test_the_password_files_hold_what_the_readme_says() -> None:
    assert (VECTORS / "lab-password.txt").read_bytes().strip() == LAB
    assert (VECTORS / "other-password.txt").read_bytes().strip() == OTHER


@pytest.mark.parametrize("label", [None, "default", "lab", "prod.eu-1"])
def test_our_encryption_round_trips_in_the_right_version(label: str | None) -> None:
    text = encrypt("päss\n".encode(), LAB, label)
    header = text.splitlines()[0]
    versioned = label not in (None, "default")
    assert header == (
        f"$ANSIBLE_VAULT;1.2;AES256;{label}" if versioned else "$ANSIBLE_VAULT;1.1;AES256"
    )
    assert all(len(line) <= 80 for line in text.splitlines())
    assert Keyring([VaultSecret("x", LAB)]).decrypt(text) == "päss\n".encode()


def test_a_fixed_salt_gives_the_same_text() -> None:
    salt = bytes(range(32))
    assert encrypt(b"x", LAB, salt=salt) == encrypt(b"x", LAB, salt=salt)
    assert encrypt(b"x", LAB, salt=salt) != encrypt(b"x", OTHER, salt=salt)


def test_the_label_picks_the_secret_to_try_first_and_the_others_follow() -> None:
    text = vector("value-1.2-prod.vault")
    wrong_first = Keyring([VaultSecret("default", LAB), VaultSecret("prod", OTHER)])
    assert wrong_first._candidates("prod")[0].label == "prod"
    assert wrong_first.decrypt(text).decode() == "ünïcode päss ✓"
    # Ansible does not require the label to match: any secret that opens it does
    unlabelled = Keyring([VaultSecret("default", OTHER)])
    assert unlabelled.decrypt(text).decode() == "ünïcode päss ✓"


def test_a_wrong_password_names_the_ids_tried_never_a_secret() -> None:
    keyring = Keyring([VaultSecret("default", b"hunter2"), VaultSecret("ops", b"letmein")])
    with pytest.raises(VaultError) as info:
        keyring.decrypt(vector("value-1.1.vault"))
    message = str(info.value)
    assert message == "no vault password given opens it (vault ids tried: default, ops)"
    assert "hunter2" not in message and "Lab-Admin" not in message
    assert "hunter2" not in repr(keyring) and "hunter2" not in repr(keyring.secrets[0])


def test_no_password_at_all_says_which_flags_give_one() -> None:
    with pytest.raises(VaultError, match="--ask-vault-pass, --vault-password-file or --vault-id"):
        Keyring().decrypt(vector("value-1.1.vault"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hello", "no $ANSIBLE_VAULT header"),
        ("$ANSIBLE_VAULT;1.0;AES\n00\n", "format '1.0' is not supported"),
        ("$ANSIBLE_VAULT;1.1;AES128\n00\n", "cipher 'AES128' is not supported"),
        ("$ANSIBLE_VAULT;1.1;AES256\nzz\n", "damaged"),
        ("$ANSIBLE_VAULT;1.1;AES256\n6162\n", "damaged"),
        ("$ANSIBLE_VAULT;1.1;AES256\n", "damaged"),
    ],
)
def test_damaged_vault_data_is_one_line(text: str, reason: str) -> None:
    with pytest.raises(VaultError) as info:
        Keyring([VaultSecret("default", LAB)]).decrypt(text)
    assert reason in info.value.reason and "\n" not in info.value.reason


def test_a_flipped_bit_fails_the_mac_not_the_padding() -> None:
    text = vector("value-1.1.vault")
    lines = text.splitlines()
    last = lines[-1]
    lines[-1] = last[:-1] + ("0" if last[-1] != "0" else "1")
    with pytest.raises(VaultError, match="no vault password given opens it"):
        Keyring([VaultSecret("default", LAB)]).decrypt("\n".join(lines))


def test_each_vault_text_is_decrypted_once() -> None:
    keyring = Keyring([VaultSecret("default", LAB)])
    text = vector("value-1.1.vault")
    first = keyring.decrypt(text)
    keyring.secrets = ()  # a second decryption would now fail
    assert keyring.decrypt(text) == first


def test_is_vault_text_follows_ansible_is_encrypted() -> None:
    assert is_vault_text(b"$ANSIBLE_VAULT;1.1;AES256\n")
    assert is_vault_text("$ANSIBLE_VAULT")
    assert not is_vault_text(b" $ANSIBLE_VAULT;1.1;AES256\n")  # Ansible: startswith
    assert not is_vault_text(b"\xff\xfe")


def test_open_value_decrypts_a_vault_scalar_at_its_position() -> None:
    pos = Position("inv.yml", 4, 25)
    node = YamlScalar(vector("value-1.1.vault"), vector("value-1.1.vault"), "!vault", pos)
    opened = open_value(node, Keyring([VaultSecret("default", LAB)]), "ansible_password")
    assert isinstance(opened, YamlScalar)
    assert (opened.value, opened.tag, opened.pos) == (
        "Lab-Admin-Passw0rd!",
        "tag:yaml.org,2002:str",
        pos,
    )
    assert open_value(node, Keyring(), "x") is node  # no keyring: left for the reader
    with pytest.raises(ConfigError) as info:
        open_value(node, Keyring([VaultSecret("default", b"nope")]), "ansible_password")
    assert str(info.value).startswith("inv.yml:4:25: ansible_password: no vault password")


def test_a_vault_value_that_is_not_utf8_is_refused() -> None:
    text = encrypt(b"\xff\xfe", LAB)
    node = YamlScalar(text, text, "!vault", Position("v.yml", 1, 1))
    with pytest.raises(ConfigError, match="not UTF-8"):
        open_value(node, Keyring([VaultSecret("default", LAB)]), "x")
