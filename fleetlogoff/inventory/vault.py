"""Ansible Vault: the 1.1 and 1.2 formats (`$ANSIBLE_VAULT;1.1;AES256` and
`$ANSIBLE_VAULT;1.2;AES256;label`), written from Ansible's documentation of the format
(docs.ansible.com, "Vault payload format 1.1 - 1.2"), with the `cryptography` package:

* The header line is followed by the hex of `hex(salt) \\n hex(hmac) \\n hex(ciphertext)`.
* PBKDF2-HMAC-SHA256 over the password, 10,000 iterations, gives 80 bytes: the AES key
  (32), the HMAC key (32) and the counter block (16).
* The plaintext is PKCS#7-padded to the AES block and encrypted with AES-256 in CTR mode;
  the HMAC-SHA256 of the ciphertext authenticates it.

Pure: the passwords come in a Keyring that the I/O layer (vault_secrets) fills. Nothing
here ever puts a password or a plaintext in a message.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from fleetlogoff.errors import FleetLogoffError
from fleetlogoff.yamlsource import STR_TAG, YamlNode, YamlScalar

HEADER = "$ANSIBLE_VAULT"
DEFAULT_LABEL = "default"
_ITERATIONS = 10_000  # the format's fixed PBKDF2 iteration count
_KEY_BYTES = 32  # AES-256 key, and the HMAC-SHA256 key
_COUNTER_BYTES = 16  # one AES block
_SALT_BYTES = 32
_LINE = 80  # ansible-vault writes the hex in lines of 80 characters
_VERSIONS = ("1.1", "1.2")


class VaultError(FleetLogoffError):
    """Vault data that cannot be read or decrypted; `reason` never holds a secret."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class VaultSecret:
    """A vault password and the vault id (label) it was given for; never shows itself."""

    __slots__ = ("_password", "label")

    def __init__(self, label: str, password: bytes) -> None:
        self.label = label
        self._password = password

    def reveal(self) -> bytes:
        return self._password

    def __repr__(self) -> str:
        return f"VaultSecret({self.label!r}, '***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Envelope:
    """A vault text taken apart: version, label (None in 1.1) and the payload parts."""

    version: str
    label: str | None
    salt: bytes
    mac: bytes
    ciphertext: bytes


def is_vault_text(data: bytes | str) -> bool:
    """Whether data starts as Ansible's is_encrypted checks: with the vault header."""
    head = data[: len(HEADER)]
    return (head.decode("ascii", "replace") if isinstance(head, bytes) else head) == HEADER


def parse_envelope(text: str) -> Envelope:
    """Take a vault text apart.

    Raises:
        VaultError: not vault data, an unknown version or cipher, or a damaged payload.
    """
    lines = text.strip().splitlines()
    header = lines[0].strip().split(";") if lines else []
    if len(header) < 3 or header[0] != HEADER:
        raise VaultError("not Ansible Vault data (no $ANSIBLE_VAULT header)")
    version, cipher = header[1].strip(), header[2].strip()
    if version not in _VERSIONS:
        raise VaultError(f"vault format {version!r} is not supported (1.1 and 1.2 are)")
    if cipher != "AES256":
        raise VaultError(f"vault cipher {cipher!r} is not supported (AES256 is)")
    label = header[3].strip() if len(header) > 3 else None
    try:
        inner = binascii.unhexlify("".join(line.strip() for line in lines[1:]))
        salt_hex, mac_hex, body_hex = inner.split(b"\n", 2)
        return Envelope(
            version,
            label,
            binascii.unhexlify(salt_hex),
            binascii.unhexlify(mac_hex),
            binascii.unhexlify(body_hex),
        )
    except (ValueError, binascii.Error):
        raise VaultError("the vault payload is damaged (not the hex the format needs)") from None


def _derive(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=2 * _KEY_BYTES + _COUNTER_BYTES,
        salt=salt,
        iterations=_ITERATIONS,
    )
    derived = kdf.derive(password)
    return derived[:_KEY_BYTES], derived[_KEY_BYTES : 2 * _KEY_BYTES], derived[2 * _KEY_BYTES :]


def decrypt_with(envelope: Envelope, password: bytes) -> bytes | None:
    """The plaintext, or None when this password does not open the envelope."""
    aes_key, mac_key, counter = _derive(password, envelope.salt)
    mac = HMAC(mac_key, hashes.SHA256())
    mac.update(envelope.ciphertext)
    try:
        mac.verify(envelope.mac)
    except InvalidSignature:
        return None
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(counter)).decryptor()
    padded = decryptor.update(envelope.ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise VaultError("the vault payload is damaged (bad padding after decryption)") from None


def encrypt(
    plaintext: bytes, password: bytes, label: str | None = None, salt: bytes | None = None
) -> str:
    """Vault text for `plaintext`, as ansible-vault writes it (1.2 when a label other
    than `default` is given, else 1.1). Used to make test vectors and fixtures."""
    salt = salt if salt is not None else os.urandom(_SALT_BYTES)
    aes_key, mac_key, counter = _derive(password, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(counter)).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize())
    ciphertext += encryptor.finalize()
    mac = HMAC(mac_key, hashes.SHA256())
    mac.update(ciphertext)
    inner = b"\n".join(binascii.hexlify(part) for part in (salt, mac.finalize(), ciphertext))
    payload = binascii.hexlify(inner).decode("ascii")
    versioned = label is not None and label != DEFAULT_LABEL
    header = f"{HEADER};1.2;AES256;{label}" if versioned else f"{HEADER};1.1;AES256"
    lines = [header] + [payload[i : i + _LINE] for i in range(0, len(payload), _LINE)]
    return "\n".join(lines) + "\n"


class Keyring:
    """The vault secrets of a run, tried as Ansible tries them: the secrets whose label
    matches the vault text's first, then every other one, in the order given. Each vault
    text is decrypted once (a group's `!vault` value is shared by all its hosts)."""

    def __init__(self, secrets: Iterable[VaultSecret] = ()) -> None:
        self.secrets = tuple(secrets)
        self._opened: dict[str, bytes] = {}

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __repr__(self) -> str:
        return f"Keyring({[s.label for s in self.secrets]!r})"

    def decrypt(self, text: str) -> bytes:
        """The plaintext of a vault text.

        Raises:
            VaultError: no secret given, none opens it, or the data is damaged.
        """
        if text in self._opened:
            return self._opened[text]
        envelope = parse_envelope(text)
        if not self.secrets:
            raise VaultError(
                "it is vault-encrypted and no vault password was given "
                "(--ask-vault-pass, --vault-password-file or --vault-id)"
            )
        for secret in self._candidates(envelope.label):
            plaintext = decrypt_with(envelope, secret.reveal())
            if plaintext is not None:
                self._opened[text] = plaintext
                return plaintext
        tried = ", ".join(dict.fromkeys(s.label for s in self.secrets))
        raise VaultError(f"no vault password given opens it (vault ids tried: {tried})")

    def _candidates(self, label: str | None) -> list[VaultSecret]:
        matching = [s for s in self.secrets if s.label == label]
        return matching + [s for s in self.secrets if s.label != label]


def open_value(node: YamlNode, keyring: Keyring, what: str) -> YamlNode:
    """A `!vault` value decrypted into the string it holds (Ansible's vaulted values are
    always strings); any other node as it is. With no keyring the node stays encrypted,
    so the reader can say the value needs a vault password.

    Raises:
        ConfigError: at the value's position, when no password given opens it.
    """
    if not (isinstance(node, YamlScalar) and node.is_vault) or not keyring:
        return node
    try:
        plaintext = keyring.decrypt(node.text).decode("utf-8")
    except VaultError as exc:
        raise node.pos.error(f"{what}: {exc.reason}") from None
    except UnicodeDecodeError:
        raise node.pos.error(f"{what}: the vault value is not UTF-8 text") from None
    return YamlScalar(plaintext, plaintext, STR_TAG, node.pos)
