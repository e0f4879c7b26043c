"""The Subscription aggregate, with its items.

Terminal statuses (`canceled`, `incomplete_expired`) never regress. Within one second, states
rank in the order a subscription's life moves through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from billing_ledger.domain.identity import uuid_or_none
from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import (
    CouponTerms,
    PricedItem,
    SubscriptionDiscount,
    SubscriptionPart,
    SubscriptionState,
)
from billing_ledger.domain.stripe_object import Snapshot, StripeObject
from billing_ledger.domain.upcasting import snapshot_v1_to_v2, subscription_part_v1_to_v2
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

RULES = StatusRules(
    terminal=frozenset({"canceled", "incomplete_expired"}),
    rank={
        "incomplete": 0,
        "trialing": 1,
        "active": 2,
        "past_due": 3,
        "unpaid": 4,
        "paused": 4,
        "canceled": 5,
        "incomplete_expired": 5,
    },
)


class Subscription(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {"subscription": RULES}

    class Recorded(StripeObject.Recorded):
        """SubscriptionRecorded: the first snapshot of a subscription we hold."""

        upcast_v1_v2 = snapshot_v1_to_v2("subscription", subscription_part_v1_to_v2, {})

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: SubscriptionState
            part_state: SubscriptionPart

    class Revised(StripeObject.Revised):
        """SubscriptionRevised: a later snapshot became current (status, items, period...)."""

        upcast_v1_v2 = snapshot_v1_to_v2("subscription", subscription_part_v1_to_v2, {})

        if TYPE_CHECKING:
            state: SubscriptionState
            part_state: SubscriptionPart

    class Backfilled(StripeObject.Backfilled):
        """SubscriptionBackfilled: an older snapshot, recorded as history only."""

        if TYPE_CHECKING:  # MRR at the end of a past month reads it
            part_state: SubscriptionPart


def subscription_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    subscription = objects.Subscription.model_validate(event.data.object)
    items = subscription.items.data
    licensed = [item for item in items if _usage_type(item) == "licensed"]
    first = items[0] if items else None
    state: SubscriptionPart = {
        "customer": expandable_id(subscription.customer),
        "status": subscription.status,
        "plan_id": licensed[0].price.id if licensed else None,
        # Before API 2025-03-31 the period is the subscription's; since, each item has its own.
        "current_period_start": subscription.current_period_start
        if subscription.current_period_start is not None
        else (first.current_period_start if first else None),
        "current_period_end": subscription.current_period_end
        if subscription.current_period_end is not None
        else (first.current_period_end if first else None),
        "trial_end": subscription.trial_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "canceled_at": subscription.canceled_at,
        "created": subscription.created,
        "business_id": uuid_or_none(subscription.metadata.get("business_id")),
        "currency": subscription.currency or (first.price.currency if first else None),
        "items": [_item(item) for item in items],
        "discounts": _discounts(subscription),
    }
    return subscription.id, Snapshot("subscription", subscription.id, state, subscription.status)


def _item(item: objects.SubscriptionItem) -> PricedItem:
    recurring = item.price.recurring
    return {
        "id": item.id,
        "price_id": item.price.id,
        "quantity": item.quantity,
        "unit_amount": item.price.unit_amount,
        "currency": item.price.currency,
        "interval": recurring.interval if recurring else None,
        "interval_count": recurring.interval_count if recurring else None,
        "usage_type": _usage_type(item),
        "unit_amount_decimal": _decimal(item.price.unit_amount_decimal),
        "billing_scheme": item.price.billing_scheme,
        "tiers_mode": item.price.tiers_mode,
        "tiers": [
            {
                "up_to": tier.up_to,
                "unit_amount_decimal": _decimal(tier.unit_amount_decimal)
                or _decimal(tier.unit_amount),
                "flat_amount_decimal": _decimal(tier.flat_amount_decimal)
                or _decimal(tier.flat_amount),
            }
            for tier in item.price.tiers
        ]
        if item.price.tiers is not None
        else None,
    }


def _discounts(subscription: objects.Subscription) -> list[SubscriptionDiscount]:
    """The subscription's discounts, each with its coupon when the payload embeds it (older API
    versions, or expanded); otherwise the coupon comes from `customer.discount.*` events."""
    found = [d for d in subscription.discounts]
    if subscription.discount is not None and all(
        (d if isinstance(d, str) else d.id) != subscription.discount.id for d in found
    ):
        found.append(subscription.discount)
    return [
        {"id": d, "coupon": None}
        if isinstance(d, str)
        else {"id": d.id, "coupon": embedded_coupon_state(d)}
        for d in found
    ]


def embedded_coupon_state(discount: objects.Discount) -> CouponTerms | None:
    """The coupon the discount embeds (older API versions, or expanded), if it does."""
    coupon = discount.embedded_coupon()
    return coupon_state(coupon) if coupon is not None else None


def coupon_state(coupon: objects.Coupon) -> CouponTerms:
    return {
        "id": coupon.id,
        "duration": coupon.duration,
        "percent_off": _decimal(coupon.percent_off),
        "amount_off": coupon.amount_off,
        "currency": coupon.currency,
    }


def _decimal(value: Decimal | int | None) -> str | None:
    """Exact decimals travel as strings: JSON numbers would become floats."""
    return None if value is None else str(value)


def _usage_type(item: objects.SubscriptionItem) -> str:
    return item.price.recurring.usage_type if item.price.recurring else "licensed"
