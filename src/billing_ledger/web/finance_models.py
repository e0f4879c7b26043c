"""What the read API answers, as pydantic models: the served OpenAPI document's schemas are
generated from them, and every answer is serialised through them, so the two cannot differ.

Ids are Stripe's (`id`, and `customer`, `invoice`, … for references, NULL until the referred
object's row exists). Money is integer minor units beside its lowercase ISO `currency`; times
are ISO 8601 in UTC; months are `YYYY-MM`. Personal values are as the tables show them: an
erased person's text reads `[erased]` and their address NULL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = [
    "Balance",
    "Customer",
    "Dispute",
    "Invoice",
    "JournalEntry",
    "JournalLine",
    "MrrMonth",
    "MrrMovement",
    "Payment",
    "Refund",
    "Subscription",
    "SubscriptionItem",
    "list_model",
]


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scoped(Row):
    account_id: str = Field(description="The Connect account, '' for the platform's own")
    livemode: bool


class Customer(Scoped):
    id: str = Field(description="cus_…")
    email: str | None
    name: str | None
    user_id: str | None = Field(description="metadata.user_id when it is a uuid")
    default_payment_method: str | None
    tax_id: str | None
    billing_address: dict[str, Any] | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionItem(Row):
    id: str = Field(description="si_…")
    price_id: str
    quantity: int | None
    unit_amount: int | None = Field(description="minor units of `currency`")
    currency: str
    interval: str | None
    interval_count: int | None
    usage_type: str


class Subscription(Scoped):
    id: str = Field(description="sub_…")
    customer: str | None
    business_id: str | None
    status: str
    plan_id: str | None = Field(description="The price of the first licensed item")
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    items: list[SubscriptionItem]


class Invoice(Scoped):
    id: str = Field(description="in_…")
    customer: str | None
    subscription: str | None
    payment_intent: str | None = Field(description="The PaymentIntent a pre-2025 invoice names")
    number: str | None
    amount_due: int
    amount_paid: int
    amount_remaining: int
    total: int
    tax: int
    currency: str
    status: str
    paid_out_of_band: bool
    invoice_pdf: str | None
    hosted_invoice_url: str | None
    due_date: datetime | None
    finalized_at: datetime | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Payment(Scoped):
    id: str = Field(description="pi_…")
    customer: str | None
    subscription: str | None
    invoice: str | None
    amount: int
    amount_received: int
    amount_refunded: int
    currency: str
    status: str
    payment_method_id: str | None
    payment_method_type: str | None
    wallet: str | None
    failure_code: str | None
    decline_code: str | None
    failure_message: str | None
    receipt_url: str | None
    created_at: datetime
    updated_at: datetime


class Refund(Scoped):
    id: str = Field(description="re_…")
    payment_intent: str | None
    charge: str | None
    amount: int
    currency: str
    status: str
    reason: str | None
    failure_reason: str | None
    created_at: datetime | None
    updated_at: datetime


class Dispute(Scoped):
    id: str = Field(description="dp_…")
    payment_intent: str | None
    charge: str | None
    amount: int
    currency: str
    status: str
    reason: str | None
    created_at: datetime
    updated_at: datetime


class MrrMonth(Scoped):
    month: str = Field(description="YYYY-MM: MRR at the end of this month (UTC)")
    currency: str
    mrr_cents: int
    customers: int = Field(description="Distinct customers with MRR above 0 at month end")
    new: int = Field(description="Sum of this month's `new` movements, minor units")
    expansion: int
    contraction: int
    churn: int
    reactivation: int


class MrrMovement(Scoped):
    month: str = Field(description="YYYY-MM")
    currency: str
    customer: str = Field(description="cus_…")
    kind: Literal["new", "expansion", "contraction", "churn", "reactivation"]
    amount_cents: int = Field(description="Signed: contraction and churn are negative")


class Balance(Scoped):
    ledger_account: str
    currency: str
    balance_cents: int = Field(description="Debits − credits")


class JournalLine(Row):
    ledger_account: str
    customer: str | None = Field(description="cus_…; dispute lines name none")
    debit_cents: int
    credit_cents: int
    currency: str


class JournalEntry(Scoped):
    id: str = Field(description="The entry's uuid (what `reversal_of` names)")
    occurred_at: datetime
    kind: str
    description: str
    source_object: str = Field(description="The Stripe id of the object that caused it")
    transition: str
    stripe_event_id: str
    reversal_of: str | None
    lines: list[JournalLine] = Field(description="All of the entry's lines: they balance")


def list_model(item: type[BaseModel]) -> type[BaseModel]:
    """The page of a list of `item`: `data`, `has_more`, and `next_cursor` while it has."""
    kind: Any = Literal["list"]
    return create_model(
        f"{item.__name__}List",
        __config__=ConfigDict(extra="forbid", frozen=True),
        object=(kind, "list"),
        data=(list[item], ...),  # type: ignore[valid-type]
        has_more=(bool, ...),
        next_cursor=(
            str | None,
            Field(description="Pass as `cursor` for the next page; null on the last"),
        ),
    )
