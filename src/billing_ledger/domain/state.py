"""The shapes of aggregate state, as domain events carry it and the event store keeps it (JSON).

A *part* is one Stripe object as its aggregate keeps it (an event's `part_state`, written by
that kind's snapshot reader); an aggregate's *state* is what its view makes of its parts'
current snapshots, with `updated` (an event's `state`, what the read schema shows). Keys and
value types are exactly those written; changing one changes stored events, which then need an
upcaster (see upcasting.py). Money is integer minor units; exact decimals are strings.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class Stamped(TypedDict):
    updated: int
    """When the object last changed: the newest `created` among its parts' current snapshots."""


# Customer (customer.py): the customer itself and its tax ids.


class BillingAddress(TypedDict):
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


class CustomerPart(TypedDict):
    email: str | None
    name: str | None
    user_id: str | None  # a canonical uuid from `metadata.user_id`
    default_payment_method: str | None
    billing_address: BillingAddress | None
    deleted_at: int | None
    created: int | None  # None: some deleted-customer stubs have none
    discount: AppliedDiscount | None  # the customer's own (None in events stored before v4)


class AppliedDiscount(TypedDict):
    """A discount as the object it applies to shows it."""

    id: str
    coupon_id: str | None
    coupon: CouponTerms | None  # None: not embedded (current API versions), known by id
    start: int | None
    end: int | None


class TaxIdPart(TypedDict):
    type: str | None
    value: str | None


class SeenCustomerState(CustomerPart, Stamped):
    """A customer as `billing.stripe_customers` shows it."""

    tax_id: str | None  # the newest tax id not deleted
    seen: Literal[True]


class UnseenCustomerState(Stamped):
    """Tax ids can arrive before their customer: until it does, the state has only them."""

    tax_id: str | None
    seen: Literal[False]


CustomerState = SeenCustomerState | UnseenCustomerState


# Subscription (subscription.py), with its items and discounts; coupons (discount.py).


class PriceTier(TypedDict):
    up_to: int | None  # None: the last tier, up to infinity
    unit_amount_decimal: str | None
    flat_amount_decimal: str | None


class PricedItem(TypedDict):
    id: str
    price_id: str
    quantity: int | None
    unit_amount: int | None
    currency: str
    interval: str | None
    interval_count: int | None
    usage_type: str  # licensed | metered
    unit_amount_decimal: str | None
    billing_scheme: str  # per_unit | tiered
    tiers_mode: str | None  # graduated | volume
    tiers: list[PriceTier] | None  # only when Stripe expanded them


class CouponTerms(TypedDict):
    """What a coupon takes off, and for how long (never changes once created)."""

    id: str
    duration: str  # forever | once | repeating
    percent_off: str | None
    amount_off: int | None
    currency: str | None


class SubscriptionDiscount(TypedDict):
    id: str
    coupon: CouponTerms | None  # None: not embedded, known from `customer.discount.*` events


class SubscriptionPart(TypedDict):
    customer: str | None
    status: str
    plan_id: str | None  # the price of the first licensed item
    current_period_start: int | None
    current_period_end: int | None
    trial_end: int | None
    cancel_at_period_end: bool
    canceled_at: int | None
    created: int
    business_id: str | None  # a canonical uuid from `metadata.business_id`
    currency: str | None
    items: list[PricedItem]
    discounts: list[SubscriptionDiscount]


class SubscriptionState(SubscriptionPart, Stamped):
    """A subscription as `billing.subscriptions` and its items show it."""


class CouponPart(TypedDict):
    coupon: CouponTerms


class CouponState(CouponPart, Stamped):
    """A coupon, as MRR resolves the discounts that name it."""


class DiscountPart(TypedDict):
    customer: str | None
    subscription: str | None
    coupon_id: str | None
    coupon: CouponTerms | None  # None: only its id is known (`coupon_id`)
    start: int | None
    end: int | None


class DiscountState(DiscountPart, Stamped):
    """A coupon applied to a customer or a subscription."""


# Invoice (invoice.py).


class InvoicePart(TypedDict):
    customer: str | None
    subscription: str | None
    status: str  # Stripe's, or `deleted` for a deleted draft
    amount_due: int
    amount_paid: int
    amount_remaining: int
    total: int
    tax: int
    currency: str
    number: str | None
    invoice_pdf: str | None
    hosted_invoice_url: str | None
    due_date: int | None
    paid_at: int | None
    finalized_at: int | None
    voided_at: int | None
    marked_uncollectible_at: int | None
    pre_payment_credit_notes_amount: int
    paid_out_of_band: bool
    payment_intent: str | None  # before API 2025-03-31 only
    created: int


class InvoiceState(InvoicePart, Stamped):
    """An invoice as `billing.invoices` shows it, and its posting rules read it."""


# Payment (payment.py): a PaymentIntent with its charges, refunds and invoice links.


class IntentPart(TypedDict):
    customer: str | None
    invoice: str | None  # before API 2025-03-31 only
    amount: int
    amount_received: int
    currency: str
    status: str
    payment_method: str | None
    payment_method_types: list[str]
    failure_code: str | None
    failure_message: str | None
    decline_code: str | None
    created: int


class ChargePart(TypedDict):
    id: str
    customer: str | None
    invoice: str | None  # before API 2025-03-31 only
    amount: int
    amount_refunded: int
    currency: str
    paid: bool
    status: str
    payment_method: str | None
    payment_method_type: str | None
    wallet: str | None
    failure_code: str | None
    failure_message: str | None
    receipt_url: str | None
    created: int


class RefundPart(TypedDict):
    id: str
    charge: str | None
    amount: int
    currency: str
    reason: str | None
    failure_reason: str | None
    created: int | None


class InvoiceLinkPart(TypedDict):
    invoice: str | None
    amount_paid: int | None


class PaymentRefund(RefundPart):
    status: str | None  # the refund's current status (its part's)


class PaymentState(Stamped):
    """One PaymentIntent (or legacy charge) as `payment_transactions` shows it, with refunds."""

    is_intent: bool  # False: a legacy charge without a PaymentIntent, keyed by the charge id
    customer: str | None
    invoice: str | None
    amount: int | None  # None: only links and refunds are known so far
    amount_received: int
    amount_refunded: int
    currency: str | None
    status: str | None
    payment_method_id: str | None
    payment_method_type: str | None
    wallet: str | None
    failure_code: str | None
    failure_message: str | None
    decline_code: str | None
    receipt_url: str | None
    created: int | None
    refunds: dict[str, PaymentRefund]  # by refund id


# Dispute (dispute.py) and payment method (payment_method.py).


class DisputeTransaction(TypedDict):
    id: str
    amount: int  # negative: funds withdrawn; positive: reinstated
    currency: str
    category: str | None  # Stripe's `reporting_category`


class DisputePart(TypedDict):
    charge: str | None
    payment_intent: str | None
    amount: int
    currency: str
    status: str
    reason: str | None
    balance_transactions: list[DisputeTransaction]
    created: int


class DisputeState(DisputePart, Stamped):
    """A dispute as `billing.disputes` shows it, and its posting rules read it."""


class PaymentMethodPart(TypedDict):
    """Never card numbers, CVCs or track data: only brand, last4, expiry and wallet."""

    customer: str | None  # kept after detach (from the event's previous_attributes)
    status: str  # attached | detached
    type: str
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    wallet: str | None
    bank_name: NotRequired[str | None]  # absent from the parts recorded before it was read
    bank_last4: NotRequired[str | None]
    created: int | None


class SetupPart(TypedDict):
    """A SetupIntent that saved the payment method: the mandate it set it up under, if any."""

    mandate: str | None


class SeenPaymentMethodState(PaymentMethodPart, Stamped):
    """A payment method as `billing.payment_methods` shows it."""

    mandate: str | None  # of its newest SetupIntent with one (None in events before v4)
    seen: Literal[True]


class UnseenPaymentMethodState(Stamped):
    """A SetupIntent can arrive before its payment method: until it does, only its mandate."""

    mandate: str | None
    seen: Literal[False]


PaymentMethodState = SeenPaymentMethodState | UnseenPaymentMethodState


PartState = (
    CustomerPart
    | TaxIdPart
    | SubscriptionPart
    | CouponPart
    | DiscountPart
    | InvoicePart
    | IntentPart
    | ChargePart
    | RefundPart
    | InvoiceLinkPart
    | DisputePart
    | PaymentMethodPart
    | SetupPart
)
"""Any part's state; which one a part holds is told by its kind."""
