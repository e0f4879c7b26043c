from __future__ import annotations

from typing import Any

import pytest

from billing_ledger.schemas.envelope import MalformedEvent, parse_event
from tests.support.stripe import (
    charge,
    customer,
    dispute,
    event,
    invoice,
    invoice_payment,
    payment_intent,
    refund,
    subscription,
    tax_id,
)
from tests.support.webhooks import body_of


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


@pytest.mark.parametrize(
    ("obj", "owner"),
    [
        (payment_intent("pi_1", "cus_A"), "pi_1"),
        (charge("ch_1", "pi_1"), "pi_1"),
        (charge("ch_legacy", None), "ch_legacy"),
        (refund("re_1", "pi_1"), "pi_1"),
        (dispute("dp_1", "pi_1"), "pi_1"),
        (invoice_payment("inpay_1", "in_1", "pi_1"), "pi_1"),
        (invoice("in_1", "cus_A"), "cus_A"),
        (tax_id("txi_1", "cus_A"), "cus_A"),
    ],
)
def test_partition_key_keeps_each_aggregates_events_in_one_partition(
    obj: dict[str, Any], owner: str
) -> None:
    parsed = parse_event(body_of(event("any.type", obj)))
    assert parsed.partition_key == f":false:{owner}"


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_1", "n": ' + b"9" * 5000 + b"}",  # past Python's integer digit limit
        b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the parser recurses
    ],
)
def test_pathological_json_is_malformed_not_a_crash(body: bytes) -> None:
    with pytest.raises(MalformedEvent, match="body is not valid JSON"):
        parse_event(body)


def test_a_created_no_timestamp_can_hold_is_refused() -> None:
    document = event("customer.created", customer("cus_A"), created=10**20)
    with pytest.raises(MalformedEvent, match="invalid created"):
        parse_event(body_of(document))
