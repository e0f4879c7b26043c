"""What the subscription overview asks of Stripe because no table holds it: the plans (prices
and their products' names) a customer may switch between, and the upcoming invoice
(`POST /v1/invoices/create_preview`). Reads only: no command, nothing recorded.

The plans offered are those of PAGES_PLAN_PRICES (each retrieved by id), or without it every
active recurring price of the account in the plan's currency (one list); either way only the
active ones billed like the current plan (currency and period) are choices."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from billing_ledger.stripe_api.client import StripeApi
from billing_ledger.stripe_api.errors import FinalStripeError
from billing_ledger.stripe_api.intents import id_of
from billing_ledger.stripe_api.subscriptions import invoice_intent
from billing_ledger.web.pages.money import display_amount


@dataclass(frozen=True)
class Plan:
    price: str
    name: str
    unit_amount: int
    currency: str
    interval: str
    interval_count: int

    @property
    def label(self) -> str:
        every = (
            self.interval if self.interval_count == 1 else f"{self.interval_count} {self.interval}s"
        )
        return f"{self.name} — {display_amount(self.unit_amount, self.currency)} per {every}"


def _plan(price: dict[str, Any]) -> Plan | None:
    recurring = price.get("recurring") or {}
    product = price.get("product")
    amount = price.get("unit_amount")
    if not recurring or not isinstance(amount, int) or not price.get("active", True):
        return None
    name = product.get("name") if isinstance(product, dict) else None
    return Plan(
        str(price["id"]),
        str(name or price.get("nickname") or "Plan"),
        amount,
        str(price.get("currency")),
        str(recurring.get("interval")),
        int(recurring.get("interval_count") or 1),
    )


log = logging.getLogger(__name__)


class Plans:
    """The catalog as Stripe has it, for one page view; `offered`: PAGES_PLAN_PRICES."""

    def __init__(self, stripe: StripeApi, account: str, offered: tuple[str, ...] = ()) -> None:
        self._stripe = stripe
        self._account = account or None
        self._offered = offered
        self._listed: dict[str, dict[str, Plan]] = {}
        self._configured: dict[str, Plan] | None = None

    def of_currency(self, currency: str) -> dict[str, Plan]:
        if self._offered:
            return {p.price: p for p in self._configured_plans().values() if p.currency == currency}
        if currency not in self._listed:
            answer = self._stripe.call(
                "prices",
                "list",
                params={"currency": currency, "limit": 100, "expand": ["data.product"]},
                account=self._account,
            )
            found = (_plan(p) for p in answer.object.get("data") or [])
            self._listed[currency] = {p.price: p for p in found if p is not None}
        return self._listed[currency]

    def _configured_plans(self) -> dict[str, Plan]:
        if self._configured is None:
            self._configured = {}
            for price in self._offered:
                plan = self._retrieve(price)
                if plan is None:  # the setting names a price Stripe has not (or no longer)
                    log.warning("a configured plan is not offered", extra={"price": price})
                else:
                    self._configured[price] = plan
        return self._configured

    def _retrieve(self, price: str) -> Plan | None:
        """One price with its product's name: None unless it is an active recurring price."""
        try:
            found = self._stripe.call("prices", "retrieve", id=price, account=self._account)
            product = id_of(found.object.get("product"))
            named = self._stripe.call("products", "retrieve", id=product, account=self._account)
        except FinalStripeError:
            return None
        return _plan({**found.object, "product": named.object})

    def plan(self, price: str | None, currency: str | None) -> Plan | None:
        """The plan of a subscription's current price (offered or not)."""
        if price is None or currency is None:
            return None
        listed = self.of_currency(currency).get(price)
        if listed is not None:
            return listed
        return self._retrieve(price)  # not offered, or more prices than one page lists

    def choices(self, current: Plan) -> list[Plan]:
        """Plans billed like `current` (currency and period) the customer may switch to."""
        return [
            p
            for p in self.of_currency(current.currency).values()
            if p.price != current.price
            and (p.interval, p.interval_count) == (current.interval, current.interval_count)
        ]

    def next_invoice(self, customer: str, subscription: str) -> dict[str, Any] | None:
        """The upcoming invoice of `subscription`, as Stripe would bill it now."""
        try:
            answer = self._stripe.call(
                "invoices",
                "create_preview",
                params={"customer": customer, "subscription": subscription},
                account=self._account,
            )
        except FinalStripeError:
            return None
        return answer.object

    def open_payment(self, subscription: str) -> tuple[str, str] | None:
        """The open latest invoice of `subscription` and the PaymentIntent that pays it (the
        tables link a payment to its invoice only once it is paid)."""
        try:
            answer = self._stripe.call(
                "subscriptions",
                "retrieve",
                id=subscription,
                params={"expand": ["latest_invoice.payments"]},
                account=self._account,
            )
        except FinalStripeError:
            return None
        invoice = answer.object.get("latest_invoice")
        if not isinstance(invoice, dict) or invoice.get("status") != "open":
            return None
        intent = invoice_intent(invoice)
        return (str(invoice["id"]), intent) if intent else None
