"""The subscription overview's pure parts: how a subscription, an invoice and a payment read,
which plans are offered, and when the page stops refreshing after a change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from billing_ledger.stripe_api.client import StripeAnswer
from billing_ledger.stripe_api.errors import FinalStripeError
from billing_ledger.web.pages.overview import (
    InvoiceLine,
    Overview,
    PaymentLine,
    SubscriptionLine,
    day,
)
from billing_ledger.web.pages.plans import Plans
from billing_ledger.web.pages.subscriptions import TRIES, _expectation, _signed

FEB = datetime(2026, 2, 1, tzinfo=UTC)


def line(**changes: Any) -> SubscriptionLine:
    fields: dict[str, Any] = {
        "id": "sub_1",
        "status": "active",
        "plan_id": "price_a",
        "period_end": FEB,
        "trial_end": None,
        "cancel_at_period_end": False,
        "quantity": 1,
        "unit_amount": 1500,
        "currency": "eur",
        "interval": "month",
        "interval_count": 1,
    }
    return SubscriptionLine(**{**fields, **changes})


def test_a_subscription_reads_as_its_price_per_period_and_seats() -> None:
    assert line().price == "€15.00 per month"
    assert line(quantity=3).price == "€15.00 × 3 per month"
    assert line(interval="year", interval_count=2).price == "€15.00 every 2 years"
    assert line(unit_amount=None).price is None
    assert line(status="past_due").status_label == "Past due"
    assert line(cancel_at_period_end=True).live and not line(cancel_at_period_end=True).renews
    assert not line(status="canceled").live
    assert day(FEB) == "1 Feb 2026" and day(None) is None


def test_only_an_open_invoice_of_a_past_due_subscription_is_past_due() -> None:
    def invoice(status: str, sub_status: str) -> InvoiceLine:
        return InvoiceLine("in_1", None, status, 900, 900, "eur", None, None, FEB, None, sub_status)

    assert invoice("open", "past_due").past_due and invoice("open", "unpaid").past_due
    assert not invoice("open", "active").past_due
    assert not invoice("paid", "past_due").past_due


def test_a_payment_says_why_it_failed_and_whether_it_was_refunded() -> None:
    failed = PaymentLine(
        "pi_1", 900, 0, "eur", "requires_payment_method", "card_declined", None, None, FEB
    )
    assert failed.status_label == "Failed"
    assert failed.failure == "Your card was declined. Try another card or contact your bank."
    refunded = PaymentLine("pi_2", 900, 900, "eur", "succeeded", None, None, None, FEB)
    assert (refunded.status_label, refunded.failure) == ("Refunded", None)


def test_a_credit_line_reads_with_a_minus_sign() -> None:
    assert _signed({"amount": -1234}, "eur") == "−€12.34"
    assert _signed({"amount": 6000}, "eur") == "€60.00"


class Catalog:
    """Stripe's price list and preview as the page asks for them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @property
    def livemode(self) -> bool:
        return False

    def call(
        self,
        resource: str,
        method: str,
        *,
        id: str | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> StripeAnswer:
        self.calls.append((resource, method))
        if (resource, method) == ("invoices", "create_preview"):
            raise FinalStripeError("no upcoming invoice")
        product = {"id": "prod_1", "name": "Team"}
        monthly = {"interval": "month", "interval_count": 1}
        prices = [
            {
                "id": "price_a",
                "product": product,
                "unit_amount": 1500,
                "currency": "eur",
                "recurring": monthly,
            },
            {
                "id": "price_b",
                "product": {**product, "name": "Business"},
                "unit_amount": 6000,
                "currency": "eur",
                "recurring": monthly,
            },
            {
                "id": "price_old",
                "product": product,
                "unit_amount": 900,
                "currency": "eur",
                "recurring": monthly,
                "active": False,
            },
            {
                "id": "price_y",
                "product": product,
                "unit_amount": 15000,
                "currency": "eur",
                "recurring": {"interval": "year", "interval_count": 1},
            },
            {
                "id": "price_once",
                "product": product,
                "unit_amount": 100,
                "currency": "eur",
                "recurring": None,
            },
        ]
        return StripeAnswer({"object": "list", "data": prices})


def test_plans_offered_are_active_recurring_prices_billed_alike() -> None:
    stripe = Catalog()
    plans = Plans(stripe, "")
    current = plans.plan("price_a", "eur")
    assert current is not None and current.name == "Team"
    assert [p.price for p in plans.choices(current)] == ["price_b"]
    assert plans.choices(current)[0].label == "Business — €60.00 per month"
    assert stripe.calls == [("prices", "list")]  # one list per page view
    assert plans.next_invoice("cus_1", "sub_1") is None


def request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query.encode()})


def test_the_page_refreshes_until_the_change_has_arrived_then_a_while_at_most() -> None:
    waiting = Overview([line()], [], [])
    notice, refresh = _expectation(request("expect=ending:sub_1"), waiting)
    assert notice == "Your subscription will end at the end of this period."
    assert refresh == "/portal/subscriptions?expect=ending:sub_1&tries=1"
    arrived = Overview([line(cancel_at_period_end=True)], [], [])
    assert _expectation(request("expect=ending:sub_1"), arrived)[1] is None
    assert _expectation(request(f"expect=ending:sub_1&tries={TRIES}"), waiting)[1] is None
    plan = _expectation(request("expect=plan:sub_1:price_b"), waiting)
    assert plan[1] is not None
    changed = Overview([line(plan_id="price_b")], [], [])
    assert _expectation(request("expect=plan:sub_1:price_b"), changed)[1] is None
    assert _expectation(request("expect=plan:sub_1:<script>"), waiting) == (None, None)
    assert _expectation(request("expect=ending:other"), waiting) == (None, None)
