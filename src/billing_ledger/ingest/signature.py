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

MISSING = "missing Stripe-Signature header"
MALFORMED = "malformed Stripe-Signature header"
MALFORMED_TIMESTAMP = "malformed timestamp in Stripe-Signature header"
NO_TIMESTAMP = "no timestamp in Stripe-Signature header"
NO_V1 = "no v1 signature in Stripe-Signature header"
TOO_OLD = "timestamp outside the tolerance (too old)"
IN_THE_FUTURE = "timestamp outside the tolerance (in the future)"
NO_MATCH = "no signature matches the payload"
SIGNATURE_REASONS = frozenset(
    {MISSING, MALFORMED, MALFORMED_TIMESTAMP, NO_TIMESTAMP, NO_V1, TOO_OLD, IN_THE_FUTURE, NO_MATCH}
)
"""Every reason SignatureError can give: a bounded set (they label metrics)."""


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
        raise SignatureError(MISSING)
    timestamp, signatures = _parse_header(header)
    if not signatures:
        raise SignatureError(NO_V1)
    if timestamp < now - tolerance:
        raise SignatureError(TOO_OLD)
    if timestamp > now + tolerance:
        raise SignatureError(IN_THE_FUTURE)
    for index, secret in enumerate(secrets):
        expected = _signature(payload, secret, timestamp)
        # Compare against every candidate so timing does not reveal which one matched.
        matched = [hmac.compare_digest(expected, candidate) for candidate in signatures]
        if any(matched):
            return VerifiedSignature(timestamp=timestamp, secret_index=index)
    raise SignatureError(NO_MATCH)


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(MALFORMED)
        if key == "t":
            # Bounded length: int() of thousands of digits is slow, and refused past 4300.
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError(MALFORMED_TIMESTAMP)
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME:
            if not value.isascii():  # hmac.compare_digest refuses non-ASCII text
                raise SignatureError(MALFORMED)
            signatures.append(value)
    if timestamp is None:
        raise SignatureError(NO_TIMESTAMP)
    return timestamp, signatures


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
