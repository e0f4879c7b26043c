"""Coupons and the discounts that apply them. Current API versions give a subscription only its
discount ids, so the coupons behind them come from `customer.discount.*` and `coupon.*` events.
Their definitions (percent or amount off, duration) never change once created; deletion only
stops new redemptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import CouponPart, CouponState, DiscountPart, DiscountState
from billing_ledger.domain.stripe_object import Snapshot, StripeObject
from billing_ledger.domain.subscription import coupon_state, embedded_coupon_state
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

ACTIVE, DELETED = "active", "deleted"
_DELETION = StatusRules(terminal=frozenset({DELETED}), rank={ACTIVE: 0, DELETED: 1})


class Coupon(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {"coupon": _DELETION}

    class Recorded(StripeObject.Recorded):
        """CouponRecorded: a coupon's definition."""

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: CouponState

    class Revised(StripeObject.Revised):
        """CouponRevised: renamed, or deleted (existing discounts keep applying)."""

        if TYPE_CHECKING:
            state: CouponState

    class Backfilled(StripeObject.Backfilled):
        """CouponBackfilled: an older snapshot, recorded as history only."""


class Discount(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {"discount": _DELETION}

    class Recorded(StripeObject.Recorded):
        """DiscountRecorded: a coupon applied to a customer or a subscription."""

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: DiscountState
            part_state: DiscountPart

    class Revised(StripeObject.Revised):
        """DiscountRevised: the discount changed or ended."""

        if TYPE_CHECKING:
            state: DiscountState
            part_state: DiscountPart

    class Backfilled(StripeObject.Backfilled):
        """DiscountBackfilled: an older snapshot, recorded as history only."""

        if TYPE_CHECKING:  # MRR reads when a customer's own discount ended
            part_state: DiscountPart


def coupon_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    coupon = objects.Coupon.model_validate(event.data.object)
    status = DELETED if event.type == "coupon.deleted" else ACTIVE
    state: CouponPart = {"coupon": coupon_state(coupon)}
    return coupon.id, Snapshot("coupon", coupon.id, state, status)


def discount_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    discount = objects.Discount.model_validate(event.data.object)
    status = DELETED if event.type == "customer.discount.deleted" else ACTIVE
    state: DiscountPart = {
        "customer": expandable_id(discount.customer),
        "subscription": discount.subscription,
        "coupon_id": discount.coupon_id(),
        "coupon": embedded_coupon_state(discount),
        "start": discount.start,
        "end": discount.end,
    }
    return discount.id, Snapshot("discount", discount.id, state, status)
