"""The stand-in's subscriptions behave as Stripe's do for what we use: products and prices,
creation with its first invoice, 3-D Secure on `default_incomplete`, prorations and their
preview, cancellation, paused collection and trials, with time moved by a test clock; every
webhook signed and in the current API shape (our own parser takes them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from billing_ledger.stripe_api.client import StripeGateway
from billing_ledger.stripe_api.errors import InvalidRequest
from billing_ledger.stripe_api.fake import fake_stripe
from billing_ledger.stripe_api.fake.periods import shift
from billing_ledger.stripe_api.fake.store import Store
from tests.integration.test_fake_stripe import Receiver, Stand
from tests.support.http_server import serving
from tests.support.webhooks import SECRET

START = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
EXPAND = ["latest_invoice.payments", "latest_invoice.confirmation_secret"]


@pytest.fixture
def stand() -> Iterator[Stand]:
    receiver = Receiver()
    with serving(receiver.app()) as hook_base:
        with fake_stripe("http://unset", f"{hook_base}/webhooks/stripe", SECRET) as fake:
            with serving(fake.app) as url:
                fake.store.public_url = url
                yield Stand(StripeGateway("sk_test_subs", api_base=url), url, receiver)


def call(stand: Stand, resource: str, method: str, **kwargs: Any) -> dict[str, Any]:
    return stand.stripe.call(resource, method, **kwargs).object


def price(stand: Stand, amount: int, interval: str = "month", currency: str = "eur") -> str:
    product = call(stand, "products", "create", params={"name": f"Plan {amount}"})
    made = call(
        stand,
        "prices",
        "create",
        params={
            "product": product["id"],
            "unit_amount": amount,
            "currency": currency,
            "recurring": {"interval": interval},
        },
    )
    return str(made["id"])


def clocked_customer(stand: Stand, method: str | None = "pm_card_visa") -> tuple[str, str]:
    clock = call(stand, "test_helpers.test_clocks", "create", params={"frozen_time": START})
    customer = call(
        stand, "customers", "create", params={"email": "c@example.com", "test_clock": clock["id"]}
    )
    if method is not None:
        attached = call(
            stand, "payment_methods", "attach", id=method, params={"customer": customer["id"]}
        )
        call(
            stand,
            "customers",
            "update",
            id=customer["id"],
            params={"invoice_settings": {"default_payment_method": attached["id"]}},
        )
    return str(clock["id"]), str(customer["id"])


def advance(stand: Stand, clock: str, to: int) -> dict[str, Any]:
    return call(stand, "test_helpers.test_clocks", "advance", id=clock, params={"frozen_time": to})


def subscribe(stand: Stand, customer: str, price_id: str, **params: Any) -> dict[str, Any]:
    return call(
        stand,
        "subscriptions",
        "create",
        params={"customer": customer, "items": [{"price": price_id}], "expand": EXPAND, **params},
    )


def invoices_of(
    stand: Stand, sub: str, event_type: str = "invoice.finalized", count: int = 1
) -> list[Any]:
    """The subscription's invoices as `event_type` sent them, once `count` have arrived."""
    deadline = time.monotonic() + 10
    while len(found := _invoices(stand, sub, event_type)) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} {event_type} for {sub}"
        time.sleep(0.05)
    return found


def _invoices(stand: Stand, sub: str, event_type: str) -> list[Any]:
    return [
        e["data"]["object"]
        for e in stand.received.events
        if e["type"] == event_type
        and (e["data"]["object"].get("parent") or {})
        .get("subscription_details", {})
        .get("subscription")
        == sub
    ]


def test_a_card_subscription_starts_active_with_its_first_invoice_paid(stand: Stand) -> None:
    _, customer = clocked_customer(stand)
    sub = subscribe(stand, customer, price(stand, 2000))
    assert sub["status"] == "active"
    invoice = sub["latest_invoice"]
    assert (invoice["status"], invoice["amount_paid"], invoice["billing_reason"]) == (
        "paid",
        2000,
        "subscription_create",
    )
    assert invoice["parent"]["subscription_details"]["subscription"] == sub["id"]
    item = sub["items"]["data"][0]
    assert (item["current_period_start"], item["current_period_end"]) == (
        START,
        shift(START, "month", 1),
    )
    types = stand.received.types("invoice.paid")
    assert "customer.subscription.created" in types
    assert all(e["created"] == START for e in stand.received.events[-5:])  # clock time


def test_default_incomplete_leaves_the_payment_to_the_customer_until_3ds(stand: Stand) -> None:
    _, customer = clocked_customer(stand, "pm_card_authenticationRequired")
    sub = subscribe(stand, customer, price(stand, 1500), payment_behavior="default_incomplete")
    assert sub["status"] == "incomplete"
    invoice = sub["latest_invoice"]
    secret = invoice["confirmation_secret"]["client_secret"]
    intent = invoice["payments"]["data"][0]["payment"]["payment_intent"]
    assert secret.startswith(f"{intent}_secret_")
    waiting = call(
        stand, "payment_intents", "confirm", id=intent, params={"return_url": "http://shop/pay"}
    )
    assert waiting["status"] == "requires_action"
    assert call(stand, "subscriptions", "retrieve", id=sub["id"])["status"] == "incomplete"
    httpx.post(waiting["next_action"]["redirect_to_url"]["url"])
    assert call(stand, "subscriptions", "retrieve", id=sub["id"])["status"] == "active"
    stand.received.types("customer.subscription.updated")
    assert invoices_of(stand, sub["id"], "invoice.paid")[0]["amount_paid"] == 1500


def test_a_swap_prorates_and_the_preview_is_the_next_invoice(stand: Stand) -> None:
    clock, customer = clocked_customer(stand)
    sub = subscribe(stand, customer, price(stand, 3000))
    item = sub["items"]["data"][0]["id"]
    dearer = price(stand, 6000)
    halfway = START + 10 * DAY
    advance(stand, clock, halfway)
    change = {"items": [{"id": item, "price": dearer}], "proration_behavior": "create_prorations"}
    preview = call(
        stand,
        "invoices",
        "create_preview",
        params={
            "customer": customer,
            "subscription": sub["id"],
            "subscription_details": {**change, "proration_date": halfway},
        },
    )
    end = shift(START, "month", 1)
    left = end - halfway
    whole = end - START
    credit = -round(3000 * left / whole)
    debit = round(6000 * left / whole)
    assert [line["amount"] for line in preview["lines"]["data"]] == [credit, debit, 6000]
    assert preview["total"] == credit + debit + 6000
    call(
        stand, "subscriptions", "update", id=sub["id"], params={**change, "proration_date": halfway}
    )
    advance(stand, clock, end + 60)
    renewal = invoices_of(stand, sub["id"], count=2)[-1]
    assert (renewal["billing_reason"], renewal["total"]) == ("subscription_cycle", preview["total"])
    assert invoices_of(stand, sub["id"], "invoice.paid", count=2)[-1]["id"] == renewal["id"]


def test_cancel_at_period_end_then_resume_then_cancel_for_good(stand: Stand) -> None:
    clock, customer = clocked_customer(stand)
    sub = subscribe(stand, customer, price(stand, 1000))
    pending = call(
        stand, "subscriptions", "update", id=sub["id"], params={"cancel_at_period_end": True}
    )
    end = shift(START, "month", 1)
    assert (pending["cancel_at"], pending["canceled_at"]) == (end, START)
    resumed = call(
        stand, "subscriptions", "update", id=sub["id"], params={"cancel_at_period_end": False}
    )
    assert (resumed["cancel_at"], resumed["status"]) == (None, "active")
    call(stand, "subscriptions", "update", id=sub["id"], params={"cancel_at_period_end": True})
    advance(stand, clock, end + 60)
    ended = call(stand, "subscriptions", "retrieve", id=sub["id"])
    assert (ended["status"], ended["ended_at"]) == ("canceled", end)
    assert "customer.subscription.deleted" in stand.received.types("customer.subscription.deleted")
    assert len(invoices_of(stand, sub["id"])) == 1  # no renewal (the deletion came after)
    with pytest.raises(InvalidRequest):
        call(stand, "subscriptions", "cancel", id=sub["id"])


@pytest.mark.parametrize(
    ("behavior", "status"),
    [("void", "void"), ("mark_uncollectible", "uncollectible"), ("keep_as_draft", "draft")],
)
def test_paused_collection_treats_renewals_as_asked(
    stand: Stand, behavior: str, status: str
) -> None:
    clock, customer = clocked_customer(stand)
    sub = subscribe(stand, customer, price(stand, 1000))
    call(
        stand,
        "subscriptions",
        "update",
        id=sub["id"],
        params={"pause_collection": {"behavior": behavior}},
    )
    end = shift(START, "month", 1)
    advance(stand, clock, end + 60)
    renewal = call(stand, "subscriptions", "retrieve", id=sub["id"], params={"expand": EXPAND})
    assert renewal["latest_invoice"]["status"] == status
    assert renewal["status"] == "active"
    call(stand, "subscriptions", "update", id=sub["id"], params={"pause_collection": ""})
    advance(stand, clock, shift(START, "month", 2) + 60)
    again = call(stand, "subscriptions", "retrieve", id=sub["id"], params={"expand": EXPAND})
    assert (again["latest_invoice"]["status"], again["pause_collection"]) == ("paid", None)


def test_a_trial_without_a_payment_method_ends_as_its_settings_say(stand: Stand) -> None:
    clock, customer = clocked_customer(stand, None)
    plan = price(stand, 900)
    canceled = subscribe(
        stand,
        customer,
        plan,
        trial_period_days=14,
        trial_settings={"end_behavior": {"missing_payment_method": "cancel"}},
    )
    paused = subscribe(
        stand,
        customer,
        plan,
        trial_period_days=7,
        trial_settings={"end_behavior": {"missing_payment_method": "pause"}},
    )
    assert (canceled["status"], canceled["latest_invoice"]["amount_due"]) == ("trialing", 0)
    advance(stand, clock, START + 15 * DAY)
    assert call(stand, "subscriptions", "retrieve", id=canceled["id"])["status"] == "canceled"
    assert call(stand, "subscriptions", "retrieve", id=paused["id"])["status"] == "paused"
    types = stand.received.types("customer.subscription.deleted")
    assert types.count("customer.subscription.trial_will_end") == 2


def test_a_trial_is_extended_then_ended_now_and_charged(stand: Stand) -> None:
    _, customer = clocked_customer(stand)
    sub = subscribe(stand, customer, price(stand, 1200), trial_period_days=7)
    longer = call(
        stand, "subscriptions", "update", id=sub["id"], params={"trial_end": START + 30 * DAY}
    )
    assert longer["trial_end"] == START + 30 * DAY
    ended = call(
        stand,
        "subscriptions",
        "update",
        id=sub["id"],
        params={"trial_end": "now", "expand": EXPAND},
    )
    assert (ended["status"], ended["latest_invoice"]["amount_paid"]) == ("active", 1200)


def test_a_coupon_discounts_the_invoices_it_should(stand: Stand) -> None:
    clock, customer = clocked_customer(stand)
    call(stand, "coupons", "create", params={"id": "HALF", "percent_off": 50, "duration": "once"})
    sub = subscribe(stand, customer, price(stand, 2000), discounts=[{"coupon": "HALF"}])
    assert sub["latest_invoice"]["total"] == 1000
    advance(stand, clock, shift(START, "month", 1) + 60)
    assert invoices_of(stand, sub["id"], count=2)[-1]["total"] == 2000
    found = stand.received.types("customer.discount.created")
    assert "coupon.created" in found


def test_periods_follow_the_calendar_from_the_anchor() -> None:
    jan31 = 1_769_817_600  # 2026-01-31
    assert shift(jan31, "month", 1) == 1_772_236_800  # 2026-02-28
    assert shift(jan31, "month", 2) == 1_774_915_200  # 2026-03-31
    assert Store("http://x").now() > START


def test_a_clocked_customers_debit_settles_at_the_clocks_time(stand: Stand) -> None:
    clock, customer = clocked_customer(stand, None)
    later = START + 40 * DAY
    advance(stand, clock, later)
    intent = call(
        stand,
        "payment_intents",
        "create",
        params={
            "amount": 900,
            "currency": "eur",
            "customer": customer,
            "payment_method": "pm_sepa_debit",
            "confirm": True,
        },
    )
    assert intent["status"] == "processing"
    stand.received.types("payment_intent.succeeded")
    settled = [e for e in stand.received.events if e["type"] == "payment_intent.succeeded"]
    assert [e["created"] for e in settled] == [later]


def test_a_paused_subscription_resumes_with_a_new_period_invoiced(stand: Stand) -> None:
    clock, customer = clocked_customer(stand, None)
    sub = subscribe(
        stand,
        customer,
        price(stand, 800),
        trial_period_days=3,
        trial_settings={"end_behavior": {"missing_payment_method": "pause"}},
    )
    advance(stand, clock, START + 5 * DAY)
    assert call(stand, "subscriptions", "retrieve", id=sub["id"])["status"] == "paused"
    method = call(
        stand, "payment_methods", "attach", id="pm_card_visa", params={"customer": customer}
    )
    call(
        stand,
        "customers",
        "update",
        id=customer,
        params={"invoice_settings": {"default_payment_method": method["id"]}},
    )
    resumed = call(
        stand,
        "subscriptions",
        "resume",
        id=sub["id"],
        params={"billing_cycle_anchor": "now", "expand": EXPAND},
    )
    assert (resumed["status"], resumed["latest_invoice"]["amount_paid"]) == ("active", 800)
    assert resumed["items"]["data"][0]["current_period_start"] == START + 5 * DAY
    with pytest.raises(InvalidRequest):
        call(stand, "subscriptions", "resume", id=sub["id"])
