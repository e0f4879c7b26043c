"""A customer's subscriptions, invoices and payments as the ledger's tables hold them
(`billing.subscriptions`, `subscription_items`, `invoices`, `payment_transactions`, filled by
Stripe's webhooks). Only what no table can hold (product names, the next invoice) is asked of
Stripe, by the page, and never for another customer's objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import ConnectionPool

from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.web.pages.money import display_amount
from billing_ledger.web.pages.reasons import readable_reason

SUBSCRIPTIONS = (
    "SELECT s.stripe_subscription_id, s.status, s.plan_id, s.current_period_end, s.trial_end, "
    "s.cancel_at_period_end, i.quantity, i.unit_amount, i.currency, i.interval, "
    "i.interval_count FROM billing.subscriptions s LEFT JOIN billing.subscription_items i "
    "ON i.subscription_id = s.id AND i.price_id = s.plan_id "
    "WHERE s.account_id = %s AND s.livemode = %s AND s.customer_id = %s "
    "ORDER BY s.created_at DESC, s.stripe_subscription_id"
)
INVOICES = (
    "SELECT i.stripe_invoice_id, i.number, i.status, i.total, i.amount_remaining, i.currency, "
    "i.invoice_pdf, i.hosted_invoice_url, i.created_at, "
    "(SELECT p.stripe_payment_intent_id FROM billing.payment_transactions p "
    " WHERE p.account_id = i.account_id AND p.livemode = i.livemode "
    " AND (p.invoice_id = i.id OR p.id = i.payment_transaction_id) "
    " ORDER BY p.created_at DESC LIMIT 1), "
    "(SELECT s.status FROM billing.subscriptions s WHERE s.id = i.subscription_id) "
    "FROM billing.invoices i WHERE i.account_id = %s AND i.livemode = %s "
    "AND i.customer_id = %s AND i.status <> 'draft' "
    "ORDER BY i.created_at DESC, i.stripe_invoice_id LIMIT 50"
)
PAYMENTS = (
    "SELECT stripe_payment_intent_id, amount, amount_refunded, currency, status, failure_code, "
    "failure_message, receipt_url, created_at FROM billing.payment_transactions "
    "WHERE account_id = %s AND livemode = %s AND customer_id = %s "
    "ORDER BY created_at DESC, stripe_payment_intent_id LIMIT 50"
)
OVERDUE = ("past_due", "unpaid")
INTERVALS = {"day": "day", "week": "week", "month": "month", "year": "year"}


def day(moment: datetime | None) -> str | None:
    """`1 Feb 2026` (UTC), as a customer reads a date."""
    return f"{moment.day} {moment:%b %Y}" if moment is not None else None


@dataclass(frozen=True)
class SubscriptionLine:
    id: str
    status: str
    plan_id: str | None
    period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    quantity: int | None
    unit_amount: int | None
    currency: str | None
    interval: str | None
    interval_count: int | None

    @property
    def status_label(self) -> str:
        return self.status.replace("_", " ").capitalize()

    @property
    def price(self) -> str | None:
        if self.unit_amount is None or self.currency is None:
            return None
        amount = display_amount(self.unit_amount, self.currency)
        seats = f" × {self.quantity}" if self.quantity and self.quantity > 1 else ""
        count = self.interval_count or 1
        every = INTERVALS.get(self.interval or "", self.interval or "period")
        period = f"per {every}" if count == 1 else f"every {count} {every}s"
        return f"{amount}{seats} {period}"

    @property
    def live(self) -> bool:
        """Whether it still renews or can: what a customer may cancel, resume or change."""
        return self.status in ("active", "trialing", "past_due")

    @property
    def renews(self) -> bool:
        return self.live and not self.cancel_at_period_end


@dataclass(frozen=True)
class InvoiceLine:
    id: str
    number: str | None
    status: str
    total: int
    amount_remaining: int
    currency: str
    pdf: str | None
    hosted: str | None
    created_at: datetime
    payment_intent: str | None
    subscription_status: str | None

    @property
    def amount(self) -> str:
        return display_amount(self.total, self.currency)

    @property
    def remaining(self) -> str:
        return display_amount(self.amount_remaining, self.currency)

    @property
    def date(self) -> str | None:
        return day(self.created_at)

    @property
    def past_due(self) -> bool:
        return self.status == "open" and self.subscription_status in OVERDUE


@dataclass(frozen=True)
class PaymentLine:
    id: str
    amount: int
    refunded: int
    currency: str
    status: str
    failure_code: str | None
    failure_message: str | None
    receipt_url: str | None
    created_at: datetime

    @property
    def label(self) -> str:
        return display_amount(self.amount, self.currency)

    @property
    def date(self) -> str | None:
        return day(self.created_at)

    @property
    def status_label(self) -> str:
        if self.refunded and self.status == "succeeded":
            return "Refunded" if self.refunded >= self.amount else "Partly refunded"
        return {
            "succeeded": "Succeeded",
            "processing": "Processing",
            "requires_payment_method": "Failed",
            "requires_action": "Waiting for confirmation",
            "canceled": "Canceled",
        }.get(self.status, self.status.replace("_", " ").capitalize())

    @property
    def failure(self) -> str | None:
        if not self.failure_code and not self.failure_message:
            return None
        return readable_reason({"code": self.failure_code, "message": self.failure_message})


@dataclass(frozen=True)
class Overview:
    subscriptions: list[SubscriptionLine]
    invoices: list[InvoiceLine]
    payments: list[PaymentLine]

    @property
    def past_due(self) -> list[InvoiceLine]:
        return [i for i in self.invoices if i.past_due]


class CustomerBilling:
    """The overview of one customer, read from the tables in `pool`."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __call__(self, customer: str, account: str, livemode: bool) -> Overview:
        args = (account, livemode, stripe_uuid(account, livemode, customer))
        with self._pool.connection() as conn:
            subs = conn.execute(SUBSCRIPTIONS, args).fetchall()
            invoices = conn.execute(INVOICES, args).fetchall()
            payments = conn.execute(PAYMENTS, args).fetchall()
        seen: set[str] = set()
        lines = []
        for row in subs:
            if row[0] not in seen:  # one line per subscription: its plan's item
                seen.add(row[0])
                lines.append(SubscriptionLine(*row))
        return Overview(
            lines,
            [InvoiceLine(*row) for row in invoices],
            [PaymentLine(*row) for row in payments],
        )
