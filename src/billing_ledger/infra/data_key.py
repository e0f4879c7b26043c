"""One person's data key: seals their personal values into tokens and their raw event bodies.

A data key is 64 random bytes: an AES-256-GCM key and a MAC key. Values become tokens
(schemas/personal.py) whose nonce is the MAC of (field path, value): the same value in the same
field seals to the same token, which the ordering rules rely on; a nonce repeats only with its
plaintext, so GCM's nonce rule holds. Bodies are sealed with a random nonce, bound to their
event id. Whoever holds neither this key nor the master key that wraps it reads nothing.
"""

from __future__ import annotations

import base64
import hmac
import os
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billing_ledger.errors import BillingLedgerError
from billing_ledger.schemas.personal import TOKEN_PREFIX

MATERIAL_BYTES = 64
NONCE_BYTES = 12
BODY_FORMAT = b"\x01"
Scalar = str | int | float | bool


class UnreadableSeal(BillingLedgerError):
    """A token or sealed body that this data key did not seal (or that was altered)."""


class DataKey:
    __slots__ = ("_aead", "_mac", "key_id")

    def __init__(self, key_id: UUID, material: bytes) -> None:
        if len(material) != MATERIAL_BYTES:
            raise ValueError(f"a data key is {MATERIAL_BYTES} bytes")
        self.key_id = key_id
        self._aead = AESGCM(material[:32])
        self._mac = material[32:]

    @staticmethod
    def new_material() -> bytes:
        return os.urandom(MATERIAL_BYTES)

    def seal_value(self, path: str, value: Scalar) -> str:
        """`value` (found at `path`) as a deterministic token."""
        plain = orjson.dumps(value)
        nonce = hmac.digest(self._mac, path.encode() + b"\0" + plain, "sha256")[:NONCE_BYTES]
        sealed = self.key_id.bytes + nonce + self._aead.encrypt(nonce, plain, self.key_id.bytes)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")

    def open_value(self, token: str) -> Scalar:
        raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :])
        if raw[:16] != self.key_id.bytes:
            raise UnreadableSeal("token sealed under another key")
        nonce, sealed = raw[16 : 16 + NONCE_BYTES], raw[16 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, sealed, self.key_id.bytes)
        except InvalidTag:
            raise UnreadableSeal("token altered or sealed under another key") from None
        value: Scalar = orjson.loads(plain)
        return value

    def seal_body(self, body: bytes, event_id: str) -> bytes:
        """The raw body, encrypted and bound to its event id (format byte, key id, nonce, …)."""
        nonce = os.urandom(NONCE_BYTES)
        head = BODY_FORMAT + self.key_id.bytes
        return head + nonce + self._aead.encrypt(nonce, body, head + event_id.encode())

    def open_body(self, sealed: bytes, event_id: str) -> bytes:
        head, nonce = sealed[:17], sealed[17 : 17 + NONCE_BYTES]
        if head != BODY_FORMAT + self.key_id.bytes:
            raise UnreadableSeal("body sealed under another key")
        try:
            return self._aead.decrypt(nonce, sealed[17 + NONCE_BYTES :], head + event_id.encode())
        except InvalidTag:
            raise UnreadableSeal("sealed body altered, or of another event") from None


def sealed_body_key_id(sealed: bytes) -> UUID | None:
    """The id of the data key that sealed a body (None if it is not a sealed body)."""
    if len(sealed) < 17 or sealed[:1] != BODY_FORMAT:
        return None
    return UUID(bytes=sealed[1:17])
