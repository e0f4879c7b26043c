"""What a caller may ask of the Subscription Manager, validated before anything is recorded.

Prices keep Stripe's ids (`price_…`); amounts come from the prices, so no money is asked here.
Times are Unix seconds (UTC), as Stripe takes them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from billing_ledger.stripe_api.requests import CustomerId, PaymentMethodId

PriceId = Annotated[str, StringConstraints(pattern=r"^(price|plan)_[A-Za-z0-9_]+$", max_length=255)]
ItemId = Annotated[str, StringConstraints(pattern=r"^si_[A-Za-z0-9]+$", max_length=255)]
CouponId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
PromotionCodeId = Annotated[str, StringConstraints(pattern=r"^promo_[A-Za-z0-9]+$", max_length=255)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000)]
Moment = Annotated[int, Field(gt=0, lt=2**32)]
ProrationBehavior = Literal["create_prorations", "always_invoice", "none"]
Uuid = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PricedItem(_Request):
    price: PriceId
    quantity: Quantity = 1


class NewSubscription(_Request):
    """A subscription to one `price` (× `quantity`) or to several `items`.

    `trial_days` starts it with a trial; `trial_end_behavior` says what happens when the trial
    ends without a payment method (`create_invoice`, Stripe's default; `cancel`; `pause`).
    `payment_method` (e.g. `pm_card_visa`) is attached and becomes the subscription's default.
    `coupon` or `promotion_code` discounts it. `business_id` is the platform's (metadata).
    """

    customer: CustomerId
    price: PriceId | None = None
    quantity: Quantity | None = None
    items: Annotated[list[PricedItem], Field(min_length=1, max_length=20)] | None = None
    trial_days: Annotated[int, Field(ge=1, le=730)] | None = None
    trial_end_behavior: Literal["create_invoice", "cancel", "pause"] | None = None
    coupon: CouponId | None = None
    promotion_code: PromotionCodeId | None = None
    payment_method: PaymentMethodId | None = None
    business_id: Uuid | None = None

    @model_validator(mode="after")
    def _one_way_to_price(self) -> NewSubscription:
        if (self.price is None) == (self.items is None):
            raise ValueError("give either price (with an optional quantity) or items")
        if self.quantity is not None and self.price is None:
            raise ValueError("quantity goes with price; give each item its own quantity")
        if self.coupon is not None and self.promotion_code is not None:
            raise ValueError("give a coupon or a promotion_code, not both")
        if self.trial_end_behavior is not None and self.trial_days is None:
            raise ValueError("trial_end_behavior needs trial_days")
        return self

    def priced_items(self) -> list[PricedItem]:
        if self.items is not None:
            return list(self.items)
        assert self.price is not None
        return [PricedItem(price=self.price, quantity=self.quantity or 1)]


class SubscriptionChange(_Request):
    """Swap an item's `price`, change its `quantity` (the only item, or the one named by
    `item`), `add` items, `remove` items; prorated as `proration_behavior` says, as of
    `proration_date` (give the one a preview answered to be invoiced exactly that)."""

    price: PriceId | None = None
    quantity: Quantity | None = None
    item: ItemId | None = None
    add: Annotated[list[PricedItem], Field(max_length=20)] = []
    remove: Annotated[list[ItemId], Field(max_length=20)] = []
    proration_behavior: ProrationBehavior = "create_prorations"
    proration_date: Moment | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> SubscriptionChange:
        if self.price is None and self.quantity is None and not self.add and not self.remove:
            raise ValueError("nothing to change: give price, quantity, add or remove")
        if self.item is not None and self.price is None and self.quantity is None:
            raise ValueError("item names the item whose price or quantity changes")
        return self


class Cancellation(_Request):
    """Cancel now (no body), at the end of the period (`at_period_end`), or `at` a time."""

    at_period_end: bool = False
    at: Moment | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> Cancellation:
        if self.at_period_end and self.at is not None:
            raise ValueError("give at_period_end or at, not both")
        return self


class CollectionPause(_Request):
    """Pause collecting payments: renewal invoices stay drafts (`keep_as_draft`), are marked
    uncollectible, or are voided, until collection resumes (or `resumes_at`)."""

    behavior: Literal["keep_as_draft", "mark_uncollectible", "void"]
    resumes_at: Moment | None = None


class TrialChange(_Request):
    """End the trial at `trial_end` (later, to extend it) or `now`."""

    trial_end: Moment | Literal["now"]
