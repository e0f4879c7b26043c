from __future__ import annotations

import pytest

from billing_ledger.schemas.envelope import MalformedEvent, parse_event
from tests.stripe_events import body_of, customer, event, subscription


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not valid JSON"),
        (b"\xff\xfe", "body is not valid JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'"evt"', "body is not a JSON object"),
        (b'{"id": "evt_1"}', "not a Stripe event: invalid created, data, livemode, type"),
    ],
)
def test_bodies_that_are_not_events_name_why(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent) as raised:
        parse_event(body)
    assert raised.value.reason == reason


def test_platform_events_have_the_empty_account_id() -> None:
    parsed = parse_event(body_of(event("customer.created", customer("cus_A"))))
    assert parsed.account_id == ""
    assert parsed.partition_key == ":false:cus_A"


def test_partition_key_keeps_a_customers_objects_together() -> None:
    document = event(
        "customer.subscription.created",
        subscription("sub_A", "cus_A"),
        account="acct_1",
        livemode=True,
    )
    assert parse_event(body_of(document)).partition_key == "acct_1:true:cus_A"


def test_unknown_fields_are_ignored() -> None:
    document = event("customer.created", customer("cus_A"))
    document["a_field_stripe_adds_next_year"] = {"nested": True}
    assert parse_event(body_of(document)).type == "customer.created"
