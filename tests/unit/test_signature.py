"""Conformance of webhook verification with Stripe's scheme, case by case."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import stripe

from billing_ledger.ingest.signature import SignatureError, sign, verify

SECRET = "whsec_primary"
OLD_SECRET = "whsec_retiring"
NOW = 1_767_225_600
BODY = b'{"id": "evt_1", "object": "event"}'


def v1(body: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def check(header: str | None, secrets: tuple[str, ...] = (SECRET,), body: bytes = BODY) -> int:
    return verify(body, header, secrets, now=NOW, tolerance=300).secret_index


def test_a_valid_header_verifies() -> None:
    assert check(f"t={NOW},v1={v1(BODY, SECRET, NOW)}") == 0


def test_stripe_python_accepts_what_we_sign() -> None:
    header = sign(BODY, SECRET, NOW)
    stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=None)
    assert check(header) == 0


def test_one_valid_v1_among_several_is_enough() -> None:
    header = f"t={NOW},v1={'0' * 64},v1={v1(BODY, SECRET, NOW)},v1={'f' * 64}"
    assert check(header) == 0


def test_rotation_accepts_the_second_secret_and_says_which() -> None:
    header = f"t={NOW},v1={v1(BODY, OLD_SECRET, NOW)}"
    assert check(header, (SECRET, OLD_SECRET)) == 1


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Stripe-Signature header"),
        ("", "missing Stripe-Signature header"),
        (f"t={NOW},v0={v1(BODY, SECRET, NOW)}", "no v1 signature in Stripe-Signature header"),
        ("garbage", "malformed Stripe-Signature header"),
        (f"t=,v1={v1(BODY, SECRET, NOW)}", "malformed timestamp in Stripe-Signature header"),
        (f"t=12a,v1={v1(BODY, SECRET, NOW)}", "malformed timestamp in Stripe-Signature header"),
        (f"v1={v1(BODY, SECRET, NOW)}", "no timestamp in Stripe-Signature header"),
        (f"t={NOW},v1={v1(BODY, 'whsec_wrong', NOW)}", "no signature matches the payload"),
        (
            f"t={NOW - 301},v1={v1(BODY, SECRET, NOW - 301)}",
            "timestamp outside the tolerance (too old)",
        ),
        (
            f"t={NOW + 301},v1={v1(BODY, SECRET, NOW + 301)}",
            "timestamp outside the tolerance (in the future)",
        ),
    ],
)
def test_rejections_name_their_reason(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as raised:
        check(header)
    assert raised.value.reason == reason


def test_a_body_altered_by_one_byte_is_rejected() -> None:
    header = f"t={NOW},v1={v1(BODY, SECRET, NOW)}"
    altered = BODY.replace(b"evt_1", b"evt_2")
    with pytest.raises(SignatureError, match="no signature matches"):
        check(header, body=altered)


def test_timestamps_exactly_at_the_tolerance_are_accepted() -> None:
    for stamp in (NOW - 300, NOW + 300):
        assert check(f"t={stamp},v1={v1(BODY, SECRET, stamp)}") == 0


def test_signing_with_a_different_timestamp_invalidates() -> None:
    header = f"t={NOW},v1={v1(BODY, SECRET, NOW - 1)}"
    with pytest.raises(SignatureError, match="no signature matches"):
        check(header)
