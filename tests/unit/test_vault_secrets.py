"""Where vault passwords come from, as ansible-core's CLI gathers them: --vault-id
label@source (file, script, client script, prompt), --vault-password-file,
ANSIBLE_VAULT_PASSWORD_FILE, ANSIBLE_VAULT_IDENTITY_LIST, --ask-vault-pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.inventory.vault import encrypt
from fleetlogoff.inventory.vault_secrets import VaultOptions, load_keyring, vault_id_slugs


def never_asked(prompt: str) -> str:
    raise AssertionError(f"unexpected prompt {prompt!r}")


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)
    return path


def secrets(options: VaultOptions, environ: dict[str, str] | None = None, ask=never_asked):  # type: ignore[no-untyped-def]  # test helper
    keyring = load_keyring(options, environ or {}, ask)
    return [(s.label, s.reveal()) for s in keyring.secrets]


def test_order_is_identity_list_then_vault_ids_then_files_then_the_prompt() -> None:
    options = VaultOptions(("a@f1", "prompt"), ("f2",), ask=True)
    environ = {"ANSIBLE_VAULT_IDENTITY_LIST": "x@fx, y@fy", "ANSIBLE_VAULT_PASSWORD_FILE": "f3"}
    assert vault_id_slugs(options, environ) == [
        "x@fx",
        "y@fy",
        "a@f1",
        "prompt",
        "default@f2",
        "default@f3",
        "default@prompt_ask_vault_pass",
    ]


def test_a_password_file_is_stripped_and_labelled(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("  Lab-Pass \n\n", encoding="utf-8")
    got = secrets(
        VaultOptions(vault_ids=(f"lab@{tmp_path / 'pw'}",), password_files=(str(tmp_path / "pw"),))
    )
    assert got == [("lab", b"Lab-Pass"), ("default", b"Lab-Pass")]


def test_ansible_vault_password_file_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-env\n", encoding="utf-8")
    got = secrets(VaultOptions(), {"ANSIBLE_VAULT_PASSWORD_FILE": str(tmp_path / "pw")})
    assert got == [("default", b"from-env")]


def test_an_executable_prints_the_password(tmp_path: Path) -> None:
    path = script(tmp_path / "vault-pass.sh", "printf 'from-script\\r\\n'\n")
    assert secrets(VaultOptions(password_files=(str(path),))) == [("default", b"from-script")]


def test_a_client_script_is_asked_for_its_vault_id(tmp_path: Path) -> None:
    path = script(
        tmp_path / "keyring-client.sh",
        'if [ "$1" = "--vault-id" ] && [ "$2" = "prod" ]; then echo prod-pass; exit 0; fi\n'
        "echo unknown >&2; exit 2\n",
    )
    assert secrets(VaultOptions(vault_ids=(f"prod@{path}",))) == [("prod", b"prod-pass")]
    with pytest.raises(ConfigError, match="has no secret for 'dev'"):
        secrets(VaultOptions(vault_ids=(f"dev@{path}",)))


def test_a_failing_script_is_an_error_with_its_exit_code(tmp_path: Path) -> None:
    path = script(tmp_path / "broken.sh", "exit 3\n")
    with pytest.raises(ConfigError, match="exited with code 3"):
        secrets(VaultOptions(password_files=(str(path),)))


@pytest.mark.parametrize(
    ("content", "reason"),
    [("\n  \n", "the vault password is empty")],
)
def test_an_empty_password_is_an_error(tmp_path: Path, content: str, reason: str) -> None:
    (tmp_path / "pw").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=reason):
        secrets(VaultOptions(password_files=(str(tmp_path / "pw"),)))


def test_missing_file_or_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        secrets(VaultOptions(password_files=(str(tmp_path / "nope"),)))
    assert str(info.value) == f"{tmp_path / 'nope'}: vault password file not found"
    with pytest.raises(ConfigError, match="cannot be a directory"):
        secrets(VaultOptions(password_files=(str(tmp_path),)))


def test_prompts_say_which_vault_id(tmp_path: Path) -> None:
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return "typed " if "ops" in prompt else "asked"

    got = secrets(VaultOptions(vault_ids=("ops@prompt",), ask=True), ask=ask)
    assert got == [("ops", b"typed"), ("default", b"asked")]
    assert prompts == ["Vault password (ops): ", "Vault password: "]
    with pytest.raises(UsageError, match="empty"):
        secrets(VaultOptions(ask=True), ask=lambda _: "  ")


def test_a_vault_encrypted_password_file_opens_with_an_earlier_password(tmp_path: Path) -> None:
    (tmp_path / "first").write_text("first-pass\n", encoding="utf-8")
    (tmp_path / "second").write_text(encrypt(b"second-pass\n", b"first-pass"), encoding="ascii")
    got = secrets(VaultOptions(password_files=(str(tmp_path / "first"), str(tmp_path / "second"))))
    assert got == [("default", b"first-pass"), ("default", b"second-pass")]
    with pytest.raises(ConfigError, match="vault-encrypted password file"):
        secrets(VaultOptions(password_files=(str(tmp_path / "second"),)))


def test_a_malformed_vault_id_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="give a source after '@'"):
        secrets(VaultOptions(vault_ids=("lab@",)))
