"""MRR, defined (follows Stripe Billing's own definition; see ARCHITECTURE.md). Pure functions.

- A subscription contributes while `active` or `past_due`; trialing, incomplete, unpaid,
  canceled and paused contribute 0.
- Per licensed item: unit price × quantity (`unit_amount_decimal` when present; tiered prices
  apply their tiers, graduated or volume, to the quantity), normalised to a month:
  month/n → ÷n, year/n → ÷12n, week/n → ×52/12n, day/n → ×365/12n. Metered items give 0.
  Prices are read before tax (tax is excluded).
- Only `forever` discounts reduce MRR: percent off multiplies the subscription's total; amount
  off (in the coupon's currency) subtracts per billing period of the first licensed item,
  normalised the same way. Never below zero. A customer's own discount applies to those of its
  subscriptions that carry none of their own, while it is in force (`customer_discounts`).
- Which discounts count, whether `past_due` churns after some days and when churn is dated
  depend on the definition (mrr_definitions.py); the rules above are the default, Stripe's.
- Exact arithmetic (fractions), rounded half-even to minor units once per subscription.
- Per currency: no FX conversion.
- Month-end values come from each subscription's snapshot effective at the month's end, chosen
  by the same ordering rules as the aggregates (so a late delivery changes nothing).
- Movements per customer and currency, ChartMogul's five kinds, signed so that a month's
  movements sum to that month's change in MRR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

from billing_ledger.domain.ordering import Version, current
from billing_ledger.domain.subscription import RULES as SUBSCRIPTION_RULES
from billing_ledger.projections.mrr_definitions import DAY, STRIPE, MrrDefinition

CONTRIBUTING = frozenset({"active", "past_due"})
Coupon = Mapping[str, Any]
CouponLookup = Callable[[str], "Coupon | None"]  # discount id -> its coupon, if known


@dataclass(frozen=True)
class Point:
    """One snapshot of a subscription, effective from `version.created`."""

    version: Version
    state: Mapping[str, Any]


@dataclass(frozen=True)
class Movement:
    month: date
    currency: str
    kind: str  # new | expansion | contraction | churn | reactivation
    amount_cents: int


def monthly_factor(interval: str | None, count: int | None) -> Fraction:
    n = count or 1
    factors = {
        "month": Fraction(1, n),
        "year": Fraction(1, 12 * n),
        "week": Fraction(52, 12 * n),
        "day": Fraction(365, 12 * n),
    }
    if interval not in factors:
        return Fraction(0)
    return factors[interval]


def item_period_amount(item: Mapping[str, Any]) -> Fraction:
    """What one licensed item costs per billing period, exactly (before tax and discounts)."""
    quantity = item.get("quantity") or 0
    if item.get("billing_scheme") == "tiered":
        return _tiered(item.get("tiers") or [], item.get("tiers_mode"), quantity)
    unit = item.get("unit_amount_decimal")
    price = Fraction(unit) if unit is not None else Fraction(item.get("unit_amount") or 0)
    return price * quantity


def _tiered(tiers: Sequence[Mapping[str, Any]], mode: str | None, quantity: int) -> Fraction:
    def money(value: str | None) -> Fraction:
        return Fraction(value) if value is not None else Fraction(0)

    if mode == "volume":
        for tier in tiers:
            if tier["up_to"] is None or quantity <= tier["up_to"]:
                flat = money(tier["flat_amount_decimal"]) if quantity else Fraction(0)
                return money(tier["unit_amount_decimal"]) * quantity + flat
        return Fraction(0)
    total, below = Fraction(0), 0
    for tier in tiers:  # graduated: each tier prices the units that fall in it
        top = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
        units = max(0, top - below)
        if units:
            total += money(tier["unit_amount_decimal"]) * units + money(tier["flat_amount_decimal"])
        below = max(below, top)
    return total


def subscription_mrr(
    state: Mapping[str, Any],
    coupon_of: CouponLookup,
    customer_coupon: Coupon | None = None,
    definition: MrrDefinition = STRIPE,
) -> int:
    """A subscription's MRR in minor units of its currency (0 when it does not contribute).
    `customer_coupon`: the coupon of its customer's own discount in force, if any."""
    if state.get("status") not in CONTRIBUTING:
        return 0
    if definition.churn_at_cancellation and (
        state.get("cancel_at_period_end") or state.get("canceled_at") is not None
    ):
        return 0
    licensed = [i for i in state.get("items", []) if i.get("usage_type") == "licensed"]
    if not licensed:
        return 0
    total = sum(
        (
            item_period_amount(i) * monthly_factor(i.get("interval"), i.get("interval_count"))
            for i in licensed
        ),
        Fraction(0),
    )
    first_factor = monthly_factor(licensed[0].get("interval"), licensed[0].get("interval_count"))
    currency = state.get("currency") or licensed[0].get("currency")
    own = state.get("discounts", [])
    every = definition.every_discount
    coupons = (
        _counted([d.get("coupon") or coupon_of(d["id"]) for d in own], every)
        if own
        else _counted([customer_coupon], every)
    )
    for coupon in coupons:
        if coupon.get("percent_off") is not None:
            total *= 1 - Fraction(coupon["percent_off"]) / 100
        elif coupon.get("amount_off") is not None and coupon.get("currency") == currency:
            total -= Fraction(coupon["amount_off"]) * first_factor
    return round(max(total, Fraction(0)))  # Fraction rounds half to even


def _counted(coupons: Iterable[Coupon | None], every_discount: bool) -> list[Coupon]:
    """The coupons that reduce MRR: `forever` ones (Stripe), or every one applied."""
    return [
        c for c in coupons if c is not None and (every_discount or c.get("duration") == "forever")
    ]


@dataclass(frozen=True)
class CustomerDiscountFact:
    """What one snapshot says of its customer's own discount, at its `created`: a customer
    snapshot names the discount the customer had then (`discount_id`, None for none); a
    discount snapshot (`from_customer` False) applies one, or ends it (`ended`: deleted)."""

    created: int
    discount_id: str | None
    start: int | None = None  # the discount's own `start`: when its coupon was applied
    ended: bool = False
    from_customer: bool = True
    coupon: Coupon | None = None  # embedded in the payload (older API versions)
    coupon_id: str | None = None


@dataclass(frozen=True)
class CustomerDiscount:
    """A customer's own discount, in force from `start` until `end` (None: still)."""

    discount_id: str
    start: int
    end: int | None
    coupon: Coupon | None
    coupon_id: str | None


def customer_discounts(facts: Iterable[CustomerDiscountFact]) -> list[CustomerDiscount]:
    """The customer's own discounts, from what any snapshot says of them in any order: each
    starts at its `start` (else when first seen) and ends when deleted, or when a later
    customer snapshot shows another discount or none, whichever is first."""
    known = list(facts)
    found = []
    for discount_id in sorted({f.discount_id for f in known if f.discount_id is not None}):
        own = [f for f in known if f.discount_id == discount_id]
        starts = [f.start for f in own if f.start is not None]
        start = min(starts) if starts else min(f.created for f in own)
        ends = [f.created for f in own if f.ended] + [
            f.created
            for f in known
            if f.from_customer and f.discount_id != discount_id and f.created > start
        ]
        coupon = next((f.coupon for f in own if f.coupon is not None), None)
        coupon_id = next((f.coupon_id for f in own if f.coupon_id is not None), None)
        found.append(
            CustomerDiscount(discount_id, start, min(ends) if ends else None, coupon, coupon_id)
        )
    return found


def discount_in_force(
    discounts: Iterable[CustomerDiscount], before: int
) -> CustomerDiscount | None:
    """The customer's discount in force just before `before` (epoch seconds), as `effective`
    reads subscriptions: the latest started of those started and not ended by then."""
    standing = [d for d in discounts if d.start < before and (d.end is None or d.end >= before)]
    return max(standing, key=lambda d: (d.start, d.discount_id)) if standing else None


def effective(points: Iterable[Point], before: int) -> Point | None:
    """The snapshot in force just before `before` (epoch seconds): the aggregates' own choice
    among the snapshots known by then, so MRR and the tables agree."""
    known = [p for p in points if p.version.created < before]
    if not known:
        return None
    chosen = current([p.version for p in known], SUBSCRIPTION_RULES)
    return next(p for p in known if p.version is chosen)


def past_due_since(points: Iterable[Point], before: int) -> int | None:
    """When the subscription's latest run of `past_due` snapshots before `before` began."""
    since = None
    for point in sorted(
        (p for p in points if p.version.created < before), key=lambda p: p.version.created
    ):
        if point.state.get("status") == "past_due":
            since = point.version.created if since is None else since
        else:
            since = None
    return since


def _past_due_too_long(
    points: Sequence[Point], point: Point, moment: int, definition: MrrDefinition
) -> bool:
    if definition.past_due_days is None or point.state.get("status") != "past_due":
        return False
    since = past_due_since(points, moment)
    started = since if since is not None else point.version.created
    # Whole UTC days, from the day it became past_due to the last day read: the answer changes
    # only when a day passes, which is when the projection looks again (mrr_clock.py).
    return (moment - 1) // DAY - started // DAY >= definition.past_due_days


def month_start(epoch: int) -> date:
    moment = datetime.fromtimestamp(epoch, UTC)
    return date(moment.year, moment.month, 1)


def months(first: date, last: date) -> list[date]:
    found, current = [], first
    while current <= last:
        found.append(current)
        current = _next_month(current)
    return found


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _epoch(month: date) -> int:
    return int(datetime(month.year, month.month, 1, tzinfo=UTC).timestamp())


def customer_month_ends(
    subscriptions: Mapping[Any, Sequence[Point]],
    coupon_of: CouponLookup,
    last_month: date,
    customer_coupon_at: Callable[[int], Coupon | None] = lambda before: None,
    definition: MrrDefinition = STRIPE,
    as_of: int | None = None,
) -> dict[str, list[tuple[date, int]]]:
    """Per currency, the customer's MRR at the end of each month from its first subscription
    event to `last_month`. `customer_coupon_at(before)`: the coupon of the customer's own
    discount in force just before `before`. `as_of` (epoch seconds, exclusive): no month is
    read later than this, so the running month shows MRR as of the latest event applied (a
    past_due clock stops there; nothing else is known after it)."""
    all_points = [p for points in subscriptions.values() for p in points]
    if not all_points:
        return {}
    first = month_start(min(p.version.created for p in all_points))
    series: dict[str, list[tuple[date, int]]] = {}
    for month in months(first, last_month):
        end = _epoch(_next_month(month))
        end = min(end, as_of) if as_of is not None else end
        totals: dict[str, int] = {}
        customer_coupon = customer_coupon_at(end)
        for points in subscriptions.values():
            point = effective(points, end)
            if point is None:
                continue
            currency = point.state.get("currency") or "unknown"
            amount = (
                0
                if _past_due_too_long(points, point, end, definition)
                else subscription_mrr(point.state, coupon_of, customer_coupon, definition)
            )
            totals[currency] = totals.get(currency, 0) + amount
        for currency in totals.keys() | series.keys():
            series.setdefault(currency, []).append((month, totals.get(currency, 0)))
    return series


def movements(currency: str, month_ends: Sequence[tuple[date, int]]) -> list[Movement]:
    """ChartMogul's movements from a customer's month-end MRR in one currency."""
    found: list[Movement] = []
    previous, ever_positive = 0, False
    for month, value in month_ends:
        if value == previous:
            continue
        if previous == 0:
            kind = "reactivation" if ever_positive else "new"
        elif value == 0:
            kind = "churn"
        else:
            kind = "expansion" if value > previous else "contraction"
        found.append(Movement(month, currency, kind, value - previous))
        ever_positive = ever_positive or value > 0
        previous = value
    return found
