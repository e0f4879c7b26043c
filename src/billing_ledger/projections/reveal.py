"""Personal values as the read schema shows them: decrypted while their key exists, a fixed
redaction once it is gone, never ciphertext. So a rebuild writes what the live tables hold,
byte for byte, before an erasure and after it.

Domain events carry personal values as the tokens of the log's facts (schemas/personal.py). A
projection asks `KeyLookup` for the keys its batch's tokens name, inside its transaction, and
shows each value through `Revealed`:
- text: the value; `REDACTED` when its key is gone (or for a person already forgotten);
- JSON (an address): the object with its values; NULL when any of them cannot be shown.
Values that are not tokens (rows of a log written before sealing) are shown as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, Protocol
from uuid import UUID

import psycopg

from billing_ledger.schemas.personal import REDACTED, is_token, token_key_id, tokens_in


class Opener(Protocol):
    def open_value(self, token: str) -> str | int | float | bool: ...


class KeyLookup(Protocol):
    """The data keys that exist among `key_ids`, locked until the caller's transaction ends
    (infra/keys.py `KeyStore.lookup`)."""

    def lookup(
        self, cur: psycopg.Cursor[Any], key_ids: Collection[UUID]
    ) -> Mapping[UUID, Opener]: ...


class Revealed:
    """Shows the values of one batch with the keys found for it."""

    def __init__(self, keys: Mapping[UUID, Opener]) -> None:
        self._keys = keys

    @classmethod
    def for_values(
        cls, lookup: KeyLookup, cur: psycopg.Cursor[Any], values: Iterable[object]
    ) -> Revealed:
        wanted = {key_id for token in tokens_in(values) if (key_id := token_key_id(token))}
        return cls(lookup.lookup(cur, wanted))

    def text(self, value: str | None) -> str | None:
        if value is None or not is_token(value):
            return value
        opened = self._open(value)
        return REDACTED if opened is None else str(opened)

    def json(self, value: Mapping[str, object] | None) -> dict[str, object] | None:
        if value is None:
            return None
        shown: dict[str, object] = {}
        for name, inner in value.items():
            if inner == REDACTED:
                return None
            if is_token(inner):
                assert isinstance(inner, str)
                opened = self._open(inner)
                if opened is None:
                    return None
                shown[name] = opened
            else:
                shown[name] = inner
        return shown

    def _open(self, token: str) -> str | int | float | bool | None:
        key_id = token_key_id(token)
        key = self._keys.get(key_id) if key_id is not None else None
        return key.open_value(token) if key is not None else None
