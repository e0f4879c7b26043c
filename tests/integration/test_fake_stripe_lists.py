"""The stand-in's list endpoints answer in Stripe's list shape, through the official SDK:
newest first, paged by `starting_after`, sub-lists cut with `has_more`, subscriptions of every
status only with `status=all`, 429s when told to, and /v1/events holding every event made."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billing_ledger.stripe_api.client import Backoff, StripeGateway
from billing_ledger.stripe_api.errors import RateLimited
from billing_ledger.stripe_api.fake import FakeStripe, fake_stripe
from tests.support.http_server import serving


@pytest.fixture
def stand() -> Iterator[tuple[FakeStripe, StripeGateway]]:
    with fake_stripe("http://unset", None, None, settle_seconds=0.1) as fake:
        with serving(fake.app) as url:
            fake.store.public_url = url
            gateway = StripeGateway(
                "sk_test_lists", api_base=url, backoff=Backoff(retries=0, sleep=lambda _: None)
            )
            yield fake, gateway


def listed(gateway: StripeGateway, resource: str, **params: Any) -> dict[str, Any]:
    return gateway.call(resource, "list", params=params).object


def test_customers_page_newest_first_by_starting_after(
    stand: tuple[FakeStripe, StripeGateway],
) -> None:
    fake, gateway = stand
    made = [
        gateway.call("customers", "create", params={"email": f"c{n}@example.com"}).object["id"]
        for n in range(5)
    ]
    first = listed(gateway, "customers", limit=2)
    assert first["object"] == "list" and first["url"] == "/v1/customers"
    assert [c["id"] for c in first["data"]] == made[::-1][:2]
    assert first["has_more"] is True
    rest = listed(gateway, "customers", limit=10, starting_after=first["data"][-1]["id"])
    assert [c["id"] for c in rest["data"]] == made[::-1][2:]
    assert rest["has_more"] is False


def test_a_long_sub_list_is_cut_and_paged_at_its_own_endpoint(
    stand: tuple[FakeStripe, StripeGateway],
) -> None:
    _, gateway = stand
    customer = gateway.call("customers", "create", params={"email": "a@example.com"}).object
    for n in range(12):
        gateway.call(
            "invoice_items",
            "create",
            params={"customer": customer["id"], "amount": 100 + n, "currency": "eur"},
        )
    invoice = gateway.call("invoices", "create", params={"customer": customer["id"]}).object
    [shown] = listed(gateway, "invoices", limit=10)["data"]
    assert len(shown["lines"]["data"]) == 10 and shown["lines"]["has_more"] is True
    lines = gateway.call(
        "invoices.line_items", "list", id=invoice["id"], params={"limit": 100}
    ).object
    assert [line["amount"] for line in lines["data"]] == [100 + n for n in range(12)]


def test_subscriptions_of_every_status_only_when_asked(
    stand: tuple[FakeStripe, StripeGateway],
) -> None:
    fake, gateway = stand
    for status in ("active", "canceled", "past_due"):
        sub_id = fake.store.new_id("sub")
        fake.store.add(
            {"id": sub_id, "object": "subscription", "status": status, "created": 1, "items": {}}
        )
    assert {s["status"] for s in listed(gateway, "subscriptions")["data"]} == {
        "active",
        "past_due",
    }
    assert len(listed(gateway, "subscriptions", status="all")["data"]) == 3


def test_lists_answer_429_when_rate_limited(stand: tuple[FakeStripe, StripeGateway]) -> None:
    fake, gateway = stand
    fake.store.rate_limited = 1
    with pytest.raises(RateLimited):
        listed(gateway, "customers")
    assert listed(gateway, "customers")["object"] == "list"


def test_events_list_every_event_made_filtered_by_time_and_type(
    stand: tuple[FakeStripe, StripeGateway],
) -> None:
    fake, gateway = stand
    gateway.call("customers", "create", params={"email": "a@example.com"})
    gateway.call("customers", "create", params={"email": "b@example.com"})
    events = listed(gateway, "events", limit=100)
    assert [e["type"] for e in events["data"]] == ["customer.created", "customer.created"]
    assert events["data"][0]["id"] == fake.store.events[-1]["id"]  # newest first
    since = fake.store.events[0]["created"]
    assert len(listed(gateway, "events", created={"gte": since})["data"]) == 2
    assert listed(gateway, "events", created={"gt": since + 3600})["data"] == []
    assert listed(gateway, "events", type="invoice.*")["data"] == []
