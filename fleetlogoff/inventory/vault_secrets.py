"""Where a run's vault passwords come from, as ansible-core's CLI gathers them
(lib/ansible/cli/__init__.py setup_vault_secrets, parsing/vault get_file_vault_secret):

* `--vault-id [label@]source`, where source is `prompt`, a file, or an executable: a
  plain script prints the password; a script named `*-client` or `*-client.EXT` is a
  client script, run with `--vault-id LABEL` (exit code 2: it has no such secret);
* `--vault-password-file FILE` and ANSIBLE_VAULT_PASSWORD_FILE, as `default@FILE`;
* `--ask-vault-pass`, a prompt for `default`.

ANSIBLE_VAULT_IDENTITY_LIST comes first, then the --vault-id options, the password files
and the prompt. A password file's content is stripped of surrounding white space, a
script's output of its line ends; an empty password is an error. Any password source that
cannot be read is an error at once (Ansible warns when another source worked).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fleetlogoff.errors import ConfigError, UsageError
from fleetlogoff.input_file import read_bounded
from fleetlogoff.inventory.vault import (
    DEFAULT_LABEL,
    Keyring,
    VaultError,
    VaultSecret,
    is_vault_text,
)

# A password script that has not answered in two minutes will not (Ansible waits forever).
SCRIPT_TIMEOUT_S = 120.0
_CLIENT_UNKNOWN_ID = 2  # a client script's exit code for "no secret for this vault id"
_MAX_PASSWORD_FILE = 2**20
_PROMPTS = ("prompt", "prompt_ask_vault_pass")


@dataclass(frozen=True, slots=True)
class VaultOptions:
    """The vault flags of a command line."""

    vault_ids: tuple[str, ...] = ()
    password_files: tuple[str, ...] = ()
    ask: bool = False


def vault_id_slugs(options: VaultOptions, environ: Mapping[str, str]) -> list[str]:
    """Every `label@source` in the order Ansible tries them."""
    identities = [i.strip() for i in environ.get("ANSIBLE_VAULT_IDENTITY_LIST", "").split(",")]
    slugs = [i for i in identities if i] + list(options.vault_ids)
    files = list(options.password_files)
    if environ.get("ANSIBLE_VAULT_PASSWORD_FILE"):
        files.append(environ["ANSIBLE_VAULT_PASSWORD_FILE"])
    slugs += [f"{DEFAULT_LABEL}@{file}" for file in files]
    if options.ask:
        slugs.append(f"{DEFAULT_LABEL}@prompt_ask_vault_pass")
    return slugs


def load_keyring(
    options: VaultOptions, environ: Mapping[str, str], ask: Callable[[str], str]
) -> Keyring:
    """The vault secrets of a run, read in order (a password file may itself be
    vault-encrypted with a password given before it, as in Ansible).

    Raises:
        UsageError: a malformed --vault-id.
        ConfigError: a password source that cannot be read or gives an empty password.
    """
    secrets: list[VaultSecret] = []
    for slug in vault_id_slugs(options, environ):
        label, source = _split(slug)
        if source in _PROMPTS:
            password = _prompt(label, source, ask)
        else:
            password = _from_file(source, label, Keyring(secrets))
        secrets.append(VaultSecret(label, password))
    return Keyring(secrets)


def _split(slug: str) -> tuple[str, str]:
    label, at, source = slug.partition("@")
    if not at:
        return DEFAULT_LABEL, slug
    if not source:
        raise UsageError(f"--vault-id {slug!r}: give a source after '@' (a file or prompt)")
    return label or DEFAULT_LABEL, source


def _prompt(label: str, source: str, ask: Callable[[str], str]) -> bytes:
    prompt = (
        "Vault password: " if source == "prompt_ask_vault_pass" else f"Vault password ({label}): "
    )
    try:
        password = ask(prompt).encode("utf-8").strip()
    except EOFError:
        raise UsageError(f"no vault password entered for {label!r}") from None
    if not password:
        raise UsageError(f"the vault password entered for {label!r} is empty")
    return password


def _from_file(source: str, label: str, earlier: Keyring) -> bytes:
    path = Path(source).expanduser()
    if not path.exists():
        raise ConfigError(source, 0, 0, "vault password file not found")
    if path.is_dir():
        raise ConfigError(source, 0, 0, "a vault password file cannot be a directory")
    if os.access(path, os.X_OK):
        return _from_script(path, label)
    try:
        data = read_bounded(path, _MAX_PASSWORD_FILE).strip()
    except OSError as exc:
        raise ConfigError(
            source, 0, 0, f"cannot read vault password file: {exc.strerror}"
        ) from None
    if len(data) > _MAX_PASSWORD_FILE:
        raise ConfigError(source, 0, 0, "vault password file larger than 1 MiB")
    if is_vault_text(data):
        try:
            data = earlier.decrypt(data.decode("ascii", "replace"))
        except VaultError as exc:
            raise ConfigError(
                source, 0, 0, f"vault-encrypted password file: {exc.reason}"
            ) from None
    return _not_empty(data.strip(b"\r\n"), source)


def _from_script(path: Path, label: str) -> bytes:
    client = path.stem.endswith("-client") or path.name.endswith("-client")
    command = [str(path)] + (["--vault-id", label] if client else [])
    try:
        process = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            # A plain script may prompt on stderr (Ansible leaves it to the terminal).
            stderr=subprocess.PIPE if client else None,
            timeout=SCRIPT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(str(path), 0, 0, "vault password script did not answer") from None
    except OSError as exc:
        raise ConfigError(
            str(path), 0, 0, f"cannot run vault password script: {exc.strerror}"
        ) from None
    if client and process.returncode == _CLIENT_UNKNOWN_ID:
        raise ConfigError(str(path), 0, 0, f"vault password client has no secret for {label!r}")
    if process.returncode != 0:
        raise ConfigError(
            str(path), 0, 0, f"vault password script exited with code {process.returncode}"
        )
    return _not_empty(process.stdout.strip(b"\r\n"), str(path))


def _not_empty(password: bytes, source: str) -> bytes:
    if not password:
        raise ConfigError(source, 0, 0, "the vault password is empty")
    return password
