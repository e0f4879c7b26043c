"""The Stripe objects whose state we keep, as far as we read them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _StripeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Address(_StripeModel):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class InvoiceSettings(_StripeModel):
    default_payment_method: str | dict[str, Any] | None = None


class Recurring(_StripeModel):
    interval: str
    interval_count: int = 1
    usage_type: str = "licensed"


class Tier(_StripeModel):
    up_to: int | None = None  # None: the last tier, up to infinity
    unit_amount: int | None = None
    unit_amount_decimal: Decimal | None = None
    flat_amount: int | None = None
    flat_amount_decimal: Decimal | None = None


class Price(_StripeModel):
    id: str
    currency: str
    unit_amount: int | None = None
    unit_amount_decimal: Decimal | None = None  # sub-cent per-unit prices, e.g. "0.5"
    billing_scheme: str = "per_unit"
    tiers_mode: str | None = None  # graduated | volume, for billing_scheme=tiered
    tiers: list[Tier] | None = None  # only present when Stripe expanded them
    recurring: Recurring | None = None


class Coupon(_StripeModel):
    id: str
    duration: str  # forever | once | repeating
    duration_in_months: int | None = None
    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    created: int | None = None


class DiscountSource(_StripeModel):
    type: str | None = None
    coupon: str | Coupon | None = None


class Discount(_StripeModel):
    """A coupon applied to a customer or a subscription. Older API versions embed the coupon
    as `coupon`; current ones name it under `source.coupon` (an id unless expanded)."""

    id: str
    coupon: Coupon | None = None
    source: DiscountSource | None = None
    customer: str | dict[str, Any] | None = None
    subscription: str | None = None
    start: int | None = None
    end: int | None = None

    def coupon_id(self) -> str | None:
        if self.coupon is not None:
            return self.coupon.id
        found = self.source.coupon if self.source else None
        return found.id if isinstance(found, Coupon) else found

    def embedded_coupon(self) -> Coupon | None:
        if self.coupon is not None:
            return self.coupon
        found = self.source.coupon if self.source else None
        return found if isinstance(found, Coupon) else None


class Customer(_StripeModel):
    id: str
    created: int | None = None  # absent from some deleted-customer stubs
    email: str | None = None
    name: str | None = None
    address: Address | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    invoice_settings: InvoiceSettings | None = None
    discount: Discount | None = None  # the customer's own, for subscriptions without one
    deleted: bool = False


class SubscriptionItem(_StripeModel):
    id: str
    price: Price
    quantity: int | None = None
    # Since API version 2025-03-31 billing periods live on items, not on the subscription.
    current_period_start: int | None = None
    current_period_end: int | None = None


class SubscriptionItemList(_StripeModel):
    data: list[SubscriptionItem] = Field(default_factory=list)


class Subscription(_StripeModel):
    id: str
    customer: str | dict[str, Any]
    status: str
    created: int
    items: SubscriptionItemList = Field(default_factory=SubscriptionItemList)
    metadata: dict[str, str] = Field(default_factory=dict)
    # Before API version 2025-03-31 (absent afterwards): the subscription's own period.
    current_period_start: int | None = None
    current_period_end: int | None = None
    trial_end: int | None = None
    cancel_at_period_end: bool = False
    canceled_at: int | None = None
    currency: str | None = None
    # Current API versions: discount ids (objects when expanded). Older: one embedded `discount`.
    discounts: list[str | Discount] = Field(default_factory=list)
    discount: Discount | None = None


def expandable_id(value: str | dict[str, Any] | None) -> str | None:
    """Stripe sends a related object as its id, or expanded as an object with an `id`."""
    if isinstance(value, dict):
        inner = value.get("id")
        return inner if isinstance(inner, str) else None
    return value


class TaxId(_StripeModel):
    id: str
    customer: str | dict[str, Any] | None = None
    type: str | None = None
    value: str | None = None
    created: int | None = None


class StatusTransitions(_StripeModel):
    paid_at: int | None = None
    finalized_at: int | None = None
    voided_at: int | None = None
    marked_uncollectible_at: int | None = None


class TotalTax(_StripeModel):
    amount: int = 0


class SubscriptionDetails(_StripeModel):
    subscription: str | dict[str, Any] | None = None


class InvoiceParent(_StripeModel):
    type: str | None = None
    subscription_details: SubscriptionDetails | None = None


class Invoice(_StripeModel):
    id: str
    customer: str | dict[str, Any] | None = None
    status: str | None = None
    currency: str
    created: int
    amount_due: int = 0
    amount_paid: int = 0
    amount_remaining: int = 0
    total: int = 0
    subtotal: int | None = None
    pre_payment_credit_notes_amount: int = 0
    invoice_pdf: str | None = None
    hosted_invoice_url: str | None = None
    number: str | None = None
    due_date: int | None = None
    status_transitions: StatusTransitions = Field(default_factory=StatusTransitions)
    # Current API versions (2025-03-31 and later).
    parent: InvoiceParent | None = None
    total_taxes: list[TotalTax] | None = None
    # Earlier API versions.
    subscription: str | dict[str, Any] | None = None
    tax: int | None = None
    payment_intent: str | dict[str, Any] | None = None
    paid_out_of_band: bool = False


class InvoicePaymentTarget(_StripeModel):
    type: str
    payment_intent: str | dict[str, Any] | None = None
    charge: str | dict[str, Any] | None = None


class InvoicePayment(_StripeModel):
    """Links a payment to an invoice (current API versions: PaymentIntents no longer carry it)."""

    id: str
    invoice: str | dict[str, Any]
    payment: InvoicePaymentTarget
    status: str | None = None
    amount_paid: int | None = None
    currency: str | None = None
    created: int | None = None


class PaymentError(_StripeModel):
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


class PaymentIntent(_StripeModel):
    id: str
    amount: int
    amount_received: int = 0
    currency: str
    status: str
    created: int
    customer: str | dict[str, Any] | None = None
    payment_method: str | dict[str, Any] | None = None
    payment_method_types: list[str] = Field(default_factory=list)
    last_payment_error: PaymentError | None = None
    latest_charge: str | dict[str, Any] | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    # Earlier API versions only: the invoice this payment pays.
    invoice: str | dict[str, Any] | None = None


class CardWallet(_StripeModel):
    type: str | None = None


class CardDetails(_StripeModel):
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    wallet: CardWallet | None = None


class PaymentMethodDetails(_StripeModel):
    type: str | None = None
    card: CardDetails | None = None


class RefundList(_StripeModel):
    data: list[Refund] = Field(default_factory=list)


class Charge(_StripeModel):
    id: str
    amount: int
    amount_refunded: int = 0
    currency: str
    status: str
    created: int
    paid: bool = False
    refunded: bool = False
    customer: str | dict[str, Any] | None = None
    payment_intent: str | dict[str, Any] | None = None
    payment_method: str | None = None
    payment_method_details: PaymentMethodDetails | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    receipt_url: str | None = None
    refunds: RefundList | None = None
    # Earlier API versions only.
    invoice: str | dict[str, Any] | None = None


class Refund(_StripeModel):
    id: str
    amount: int
    currency: str
    status: str | None = None
    created: int | None = None
    charge: str | dict[str, Any] | None = None
    payment_intent: str | dict[str, Any] | None = None
    reason: str | None = None
    failure_reason: str | None = None


class BalanceTransaction(_StripeModel):
    id: str
    amount: int
    currency: str
    reporting_category: str | None = None


class Dispute(_StripeModel):
    id: str
    amount: int
    currency: str
    status: str
    reason: str | None = None
    created: int
    charge: str | dict[str, Any] | None = None
    payment_intent: str | dict[str, Any] | None = None
    balance_transactions: list[BalanceTransaction] = Field(default_factory=list)


class BankDetails(_StripeModel):
    """A bank debit's account as Stripe shows it: its last four digits and (ACH) the bank."""

    last4: str | None = None
    bank_name: str | None = None


class PaymentMethod(_StripeModel):
    """Only brand, last4 and expiry of a card, last4 and bank of a bank account, are read:
    never card or account numbers, or CVCs."""

    id: str
    type: str
    created: int | None = None
    customer: str | dict[str, Any] | None = None
    card: CardDetails | None = None
    sepa_debit: BankDetails | None = None
    us_bank_account: BankDetails | None = None


class SetupIntent(_StripeModel):
    """What saving a payment method tells of it: which one, and the mandate it is under."""

    id: str
    status: str
    customer: str | dict[str, Any] | None = None
    payment_method: str | dict[str, Any] | None = None
    mandate: str | dict[str, Any] | None = None


RefundList.model_rebuild()
