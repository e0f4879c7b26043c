"""The master key: wraps every person's data key (infra/keys.py), and is never stored beside
them in the database.

`MasterKey` is the port: a cloud KMS (AWS KMS, GCP KMS, Vault transit) can take the place of
`FileMasterKey` by wrapping and unwrapping through its API; nothing else changes. The file-based
key is 32 random bytes, base64 in a file (or in `BILLING_LEDGER_MASTER_KEY`). On the embedded
default it is created under `BILLING_LEDGER_HOME` on first start (see `bootstrap.key_store`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billing_ledger.errors import BillingLedgerError, ConfigurationError

KEY_BYTES = 32
NONCE_BYTES = 12
EMBEDDED_FILE = "master.key"


class WrongMasterKey(BillingLedgerError):
    """The master key does not unwrap a data key: it is not the key that wrapped it."""


class MasterKey(Protocol):
    """Wraps and unwraps data keys. `key_id` names the key (never reveals it), so the key
    store can tell which master wrapped each data key and refuse a wrong one at startup."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """`data_key` encrypted and authenticated together with `context` (the key's id)."""

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The data key `wrap` was given; WrongMasterKey if this key did not wrap it."""


class FileMasterKey:
    """A 256-bit AES-GCM key held in this process (read from a file or a setting)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"a master key is {KEY_BYTES} bytes, base64-encoded")
        self._aead = AESGCM(key)
        self._key_id = hashlib.sha256(b"billing-ledger master key:" + key).hexdigest()[:12]

    @classmethod
    def from_text(cls, text: str, origin: str) -> FileMasterKey:
        """The key written as base64 (what `generate_text` writes); `origin` names the setting
        or file in the error."""
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(f"{origin}: not a base64-encoded master key") from None
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"{origin}: a master key is {KEY_BYTES} bytes, base64")
        return cls(key)

    @classmethod
    def from_file(cls, path: Path, origin: str) -> FileMasterKey:
        try:
            return cls.from_text(path.read_text(encoding="ascii"), origin)
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigurationError(f"{origin}: cannot read {path}: {e}") from None

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except InvalidTag:
            raise WrongMasterKey(f"master key {self._key_id} did not wrap this data key") from None


def generate_text() -> str:
    """A new random master key, base64 (one line)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def create_file(path: Path) -> FileMasterKey:
    """Write a new master key to `path` (readable by its owner only); refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = generate_text()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    return FileMasterKey.from_text(text, str(path))
