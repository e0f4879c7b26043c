"""The Subscription Manager's rules without Stripe: what a caller may ask, the parameters
each request becomes, how Stripe's answers are read, and the stand-in's periods and
prorations (by the second, on the anchor's calendar)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from billing_ledger.stripe_api.fake.periods import period_after, prorate, shift
from billing_ledger.stripe_api.subscription_requests import (
    Cancellation,
    NewSubscription,
    PricedItem,
    SubscriptionChange,
    TrialChange,
)
from billing_ledger.stripe_api.subscription_rules import (
    ChangeNotPossible,
    change_items,
    created_params,
    preview_answer,
    subscription_answer,
)
from billing_ledger.stripe_api.subscriptions import invoice_intent

JAN = 1_767_225_600


def sub(*items: tuple[str, str, int], **fields: Any) -> dict[str, Any]:
    return {
        "id": "sub_1",
        "status": "active",
        "customer": "cus_1",
        "items": {
            "data": [
                {
                    "id": item_id,
                    "price": {"id": price},
                    "quantity": quantity,
                    "current_period_start": JAN,
                    "current_period_end": shift(JAN, "month", 1),
                }
                for item_id, price, quantity in items
            ]
        },
        **fields,
    }


@pytest.mark.parametrize(
    "asked",
    [
        {"customer": "cus_1"},
        {"customer": "cus_1", "price": "price_1", "items": [{"price": "price_2"}]},
        {"customer": "cus_1", "items": [{"price": "price_1"}], "quantity": 2},
        {"customer": "cus_1", "price": "price_1", "coupon": "A", "promotion_code": "promo_1"},
        {"customer": "cus_1", "price": "price_1", "trial_end_behavior": "cancel"},
        {"customer": "cus_1", "price": "price_1", "quantity": 0},
        {"customer": "cus_1", "price": "prod_1"},
        {"customer": "cus_1", "price": "price_1", "amount": 100},
    ],
)
def test_a_subscription_is_refused_before_anything_is_sent(asked: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        NewSubscription.model_validate(asked)


def test_creation_asks_for_default_incomplete_with_everything_given() -> None:
    asked = NewSubscription(
        customer="cus_1",
        price="price_1",
        quantity=3,
        trial_days=14,
        trial_end_behavior="pause",
        coupon="LAUNCH",
        business_id="0b6a3f0e-6a52-4c1e-9a43-7d2d5e0c9f11",
    )
    assert created_params(asked, "pm_1") == {
        "customer": "cus_1",
        "items": [{"price": "price_1", "quantity": 3}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "default_payment_method": "pm_1",
        "trial_period_days": 14,
        "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
        "discounts": [{"coupon": "LAUNCH"}],
        "metadata": {"business_id": "0b6a3f0e-6a52-4c1e-9a43-7d2d5e0c9f11"},
    }
    promoted = NewSubscription(customer="cus_1", price="price_1", promotion_code="promo_1")
    assert created_params(promoted, None)["discounts"] == [{"promotion_code": "promo_1"}]


def test_a_change_names_the_items_it_touches() -> None:
    one = sub(("si_a", "price_old", 1))
    assert change_items(one, SubscriptionChange(price="price_new")) == [
        {"id": "si_a", "price": "price_new"}
    ]
    two = sub(("si_a", "price_1", 1), ("si_b", "price_2", 4))
    with pytest.raises(ChangeNotPossible, match="several items"):
        change_items(two, SubscriptionChange(quantity=2))
    with pytest.raises(ChangeNotPossible, match="no item si_c"):
        change_items(two, SubscriptionChange(remove=["si_c"]))
    change = SubscriptionChange(
        item="si_b", quantity=2, remove=["si_a"], add=[PricedItem(price="price_3")]
    )
    assert change_items(two, change) == [
        {"id": "si_b", "quantity": 2},
        {"id": "si_a", "deleted": True},
        {"price": "price_3", "quantity": 1},
    ]


@pytest.mark.parametrize(
    "asked",
    [{}, {"item": "si_a"}, {"proration_behavior": "sometimes", "price": "price_1"}],
)
def test_a_change_that_changes_nothing_is_refused(asked: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SubscriptionChange.model_validate(asked)


def test_cancellation_and_trials_take_one_moment() -> None:
    with pytest.raises(ValidationError):
        Cancellation(at_period_end=True, at=JAN)
    assert TrialChange.model_validate_json('{"trial_end": "now"}').trial_end == "now"
    with pytest.raises(ValidationError):
        TrialChange.model_validate_json('{"trial_end": "tomorrow"}')


def test_the_answer_reads_the_period_from_the_items_or_the_older_subscription() -> None:
    current = subscription_answer(sub(("si_a", "price_1", 2), latest_invoice={"id": "in_1"}))
    assert current["current_period_end"] == shift(JAN, "month", 1)
    assert current["items"] == [{"id": "si_a", "price": "price_1", "quantity": 2}]
    assert current["latest_invoice"] == "in_1"
    older = subscription_answer({"id": "sub_2", "current_period_end": 5, "items": {"data": []}})
    assert older["current_period_end"] == 5


def test_the_first_invoices_payment_intent_is_found_in_every_api_version() -> None:
    paid = {"payments": {"data": [{"payment": {"payment_intent": "pi_new"}}]}}
    assert invoice_intent(paid) == "pi_new"
    secret = {"confirmation_secret": {"client_secret": "pi_s_secret_x"}}
    assert invoice_intent(secret) == "pi_s"
    assert invoice_intent({"payment_intent": {"id": "pi_old"}}) == "pi_old"
    assert invoice_intent("in_unexpanded") is None


def test_a_preview_answers_its_lines_and_the_proration_date_it_used() -> None:
    invoice = {
        "currency": "eur",
        "total": 4500,
        "subtotal": 4500,
        "amount_due": 4500,
        "parent": {"subscription_details": {"subscription_proration_date": JAN + 5}},
        "lines": {
            "data": [
                {
                    "amount": -1500,
                    "description": "Unused time",
                    "quantity": 1,
                    "pricing": {"price_details": {"price": "price_1"}},
                    "parent": {"subscription_item_details": {"proration": True}},
                    "period": {"start": JAN + 5, "end": JAN + 10},
                }
            ]
        },
    }
    answer = preview_answer("sub_1", invoice, SubscriptionChange(price="price_2"))
    assert answer["proration_date"] == JAN + 5
    assert answer["lines"][0]["proration"] and answer["lines"][0]["price"] == "price_1"
    given_date = SubscriptionChange(price="price_2", proration_date=JAN + 7)
    assert preview_answer("sub_1", invoice, given_date)["proration_date"] == JAN + 7


def test_months_keep_the_anchor_day_clamped_to_the_month() -> None:
    jan31 = JAN + 30 * 86_400
    assert [shift(jan31, "month", n) - jan31 for n in (1, 2)] == [28 * 86_400, 59 * 86_400]
    assert shift(JAN, "year", 1) == JAN + 365 * 86_400
    assert period_after(jan31, "month", 1, shift(jan31, "month", 1)) == (
        shift(jan31, "month", 1),
        shift(jan31, "month", 2),
    )


@given(
    amount=st.integers(-(10**8), 10**8),
    length=st.integers(1, 10**8),
    offset=st.integers(-(10**8), 2 * 10**8),
)
def test_a_proration_is_a_whole_share_of_the_amount_that_is_left(
    amount: int, length: int, offset: int
) -> None:
    start = JAN
    end = start + length
    at = start + offset
    prorated = prorate(amount, start, end, at)
    assert abs(prorated) <= abs(amount)
    assert prorate(-amount, start, end, at) == -prorated
    assert prorate(amount, start, end, start) == amount
    assert prorate(amount, start, end, end) == 0
    exact = amount * (min(max(end - at, 0), length)) / length
    assert abs(prorated - exact) <= 0.5
