"""Idempotency: the caller's key, the fingerprint of what it asked, the keys sent to Stripe.

A command is identified by (caller, account, caller's key). Each Stripe request it makes gets
its own key derived from that identity and the step's name, so a command retried after a
crash, a timeout or a 5xx sends Stripe the same keys again and Stripe answers what it did the
first time: a retried command never charges twice. Keys are hashes: they carry no token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

MAX_CALLER_KEY_LENGTH = 255  # Stripe's own limit for idempotency keys


def derived_key(caller: str, account: str, caller_key: str, step: str) -> str:
    """The idempotency key of one Stripe request of a command (stable, 67 characters)."""
    material = "\x1f".join(("billing-ledger", caller, account, caller_key, step))
    return "bl_" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:64]


def fingerprint(kind: str, body: Mapping[str, Any]) -> str:
    """What a command asked, hashed: the same key with another body is refused by this."""
    canonical = json.dumps([kind, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def valid_caller_key(key: str | None) -> bool:
    return bool(key) and key is not None and len(key) <= MAX_CALLER_KEY_LENGTH and key.isprintable()
