"""The Stripe objects whose state we keep, as far as we read them."""

from __future__ import annotations

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


class Customer(_StripeModel):
    id: str
    created: int | None = None  # absent from some deleted-customer stubs
    email: str | None = None
    name: str | None = None
    address: Address | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    invoice_settings: InvoiceSettings | None = None
    deleted: bool = False


class Recurring(_StripeModel):
    interval: str
    interval_count: int = 1
    usage_type: str = "licensed"


class Price(_StripeModel):
    id: str
    currency: str
    unit_amount: int | None = None
    recurring: Recurring | None = None


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


def expandable_id(value: str | dict[str, Any] | None) -> str | None:
    """Stripe sends a related object as its id, or expanded as an object with an `id`."""
    if isinstance(value, dict):
        inner = value.get("id")
        return inner if isinstance(inner, str) else None
    return value
