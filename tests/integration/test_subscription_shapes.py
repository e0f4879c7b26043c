"""The Subscription Manager's requests against Stripe's own stripe-mock: every request it makes
(create with trials, discounts and trial settings; changes with prorations; the preview;
cancellations, resumption, paused collection, trials) is accepted by Stripe's schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing_ledger import bootstrap
from billing_ledger.stripe_api.client import StripeGateway
from billing_ledger.stripe_api.commands import Caller
from billing_ledger.stripe_api.subscription_requests import (
    Cancellation,
    CollectionPause,
    NewSubscription,
    PricedItem,
    SubscriptionChange,
    TrialChange,
)
from billing_ledger.web.endpoints import Services
from tests.integration.test_stripe_shapes import Checked

pytestmark = pytest.mark.stripe_mock


@pytest.fixture
def checked(stripe_mock_url: str) -> Checked:
    return Checked(StripeGateway("sk_test_shapes", api_base=stripe_mock_url))


@pytest.fixture
def services(database_url: str, checked: Checked) -> Iterator[Services]:
    with bootstrap.api_pool(database_url) as pool:
        yield bootstrap.services(pool, checked, "https://ledger.example")


def caller(key: str) -> Caller:
    return Caller("sub-shapes", key)


@pytest.mark.parametrize(
    "request_",
    [
        NewSubscription(customer="cus_123", price="price_123", quantity=2),
        NewSubscription(
            customer="cus_123",
            items=[PricedItem(price="price_1", quantity=1), PricedItem(price="price_2")],
            trial_days=14,
            trial_end_behavior="pause",
            coupon="LAUNCH",
            payment_method="pm_card_visa",
            business_id="0b6a3f0e-6a52-4c1e-9a43-7d2d5e0c9f11",
        ),
        NewSubscription(customer="cus_123", price="price_123", promotion_code="promo_123"),
    ],
    ids=["price", "items-trial-coupon-method", "promotion-code"],
)
def test_create_requests(services: Services, checked: Checked, request_: NewSubscription) -> None:
    services.subscriptions.create(caller("create"), request_)
    assert checked.refused == []
    attach = ["payment_methods.attach"] if request_.payment_method else []
    assert checked.sent[: len(attach) + 1] == [*attach, "subscriptions.create"]


def test_change_and_preview_requests(services: Services, checked: Checked) -> None:
    subscriptions = services.subscriptions
    swap = SubscriptionChange(price="price_new", proration_date=1_767_225_600)
    subscriptions.preview(caller("p-1"), "sub_123", swap)
    subscriptions.change(caller("c-1"), "sub_123", swap)
    subscriptions.change(
        caller("c-2"),
        "sub_123",
        SubscriptionChange(
            add=[PricedItem(price="price_extra", quantity=3)],
            proration_behavior="always_invoice",
        ),
    )
    subscriptions.preview(
        caller("p-2"), "sub_123", SubscriptionChange(quantity=5, proration_behavior="none")
    )
    assert checked.refused == []
    writes = [s for s in checked.sent if not s.endswith(".retrieve")]
    assert writes == [
        "invoices.create_preview",
        "subscriptions.update",
        "subscriptions.update",
        "invoices.create_preview",
    ]


def test_cancel_resume_pause_and_trial_requests(services: Services, checked: Checked) -> None:
    subscriptions = services.subscriptions
    subscriptions.cancel(caller("x-1"), "sub_123", Cancellation())
    subscriptions.cancel(caller("x-2"), "sub_123", Cancellation(at_period_end=True))
    subscriptions.cancel(caller("x-3"), "sub_123", Cancellation(at=1_900_000_000))
    subscriptions.resume(caller("x-4"), "sub_123")
    subscriptions.pause(
        caller("x-5"), "sub_123", CollectionPause(behavior="void", resumes_at=1_900_000_000)
    )
    subscriptions.pause(caller("x-6"), "sub_123", CollectionPause(behavior="keep_as_draft"))
    subscriptions.resume_collection(caller("x-7"), "sub_123")
    subscriptions.change_trial(caller("x-8"), "sub_123", TrialChange(trial_end="now"))
    subscriptions.change_trial(caller("x-9"), "sub_123", TrialChange(trial_end=1_900_000_000))
    assert checked.refused == []
    assert [s for s in checked.sent if not s.endswith(".retrieve")] == [
        "subscriptions.cancel",
        *["subscriptions.update"] * 2,
        *["subscriptions.update"] * 6,
    ]


def test_resuming_a_paused_subscription_is_a_request_stripe_takes(checked: Checked) -> None:
    """stripe-mock's subscription is active, so the service would not resume it: the one
    request it makes for a paused subscription is sent directly."""
    checked.call("subscriptions", "resume", id="sub_123", params={"billing_cycle_anchor": "now"})
    assert checked.refused == []
