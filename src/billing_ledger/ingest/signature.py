"""Stripe webhook signature verification.

Stripe signs `"{t}.{raw body}"` with HMAC-SHA256 under the endpoint's secret and sends
`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (other schemes such as `v0`
are ignored). We accept when any `v1` matches any configured secret, so several secrets can
be active while one is rotated. Like stripe-python we reject timestamps older than the
tolerance; unlike it we also reject timestamps further than the tolerance in the future,
so a captured request cannot be replayed later by someone who can skew our clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from billing_ledger.errors import BillingLedgerError

SIGNATURE_SCHEME = "v1"


class SignatureError(BillingLedgerError):
    """The request is not proven to come from Stripe. `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedSignature:
    timestamp: int
    secret_index: int  # which configured secret matched: tells operators when one can retire


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send for `payload` (used by send-sample/tests)."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={_signature(payload, secret, timestamp)}"


def verify(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: int,
    tolerance: int = 300,
) -> VerifiedSignature:
    """Return which secret verified `payload`, or raise SignatureError naming the reason."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp, signatures = _parse_header(header)
    if not signatures:
        raise SignatureError("no v1 signature in Stripe-Signature header")
    if timestamp < now - tolerance:
        raise SignatureError("timestamp outside the tolerance (too old)")
    if timestamp > now + tolerance:
        raise SignatureError("timestamp outside the tolerance (in the future)")
    for index, secret in enumerate(secrets):
        expected = _signature(payload, secret, timestamp)
        # Compare against every candidate so timing does not reveal which one matched.
        matched = [hmac.compare_digest(expected, candidate) for candidate in signatures]
        if any(matched):
            return VerifiedSignature(timestamp=timestamp, secret_index=index)
    raise SignatureError("no signature matches the payload")


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Stripe-Signature header")
        if key == "t":
            if not value.isascii() or not value.isdigit():
                raise SignatureError("malformed timestamp in Stripe-Signature header")
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("no timestamp in Stripe-Signature header")
    return timestamp, signatures


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
