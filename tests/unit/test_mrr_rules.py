"""MRR rules, hand-computed case by case, and the movement invariant as a property."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.domain.ordering import Version
from billing_ledger.projections.mrr_rules import (
    CustomerDiscount,
    CustomerDiscountFact,
    Point,
    customer_discounts,
    customer_month_ends,
    discount_in_force,
    movements,
    subscription_mrr,
)

JAN, FEB, MAR, APR, MAY = 1_767_225_600, 1_769_904_000, 1_772_323_200, 1_775_001_600, 1_777_593_600


def item(
    amount: int = 1000, quantity: int = 1, interval: str = "month", count: int = 1, **kw: Any
) -> dict[str, Any]:
    return {
        "unit_amount": amount,
        "quantity": quantity,
        "interval": interval,
        "interval_count": count,
        "usage_type": "licensed",
        "currency": "usd",
        "billing_scheme": "per_unit",
        **kw,
    }


def sub(
    *items: dict[str, Any], status: str = "active", discounts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "status": status,
        "currency": items[0]["currency"],
        "items": list(items),
        "discounts": discounts or [],
    }


def mrr(state: dict[str, Any], coupons: dict[str, dict[str, Any]] | None = None) -> int:
    return subscription_mrr(state, (coupons or {}).get)


def coupon(duration: str = "forever", **kw: Any) -> dict[str, Any]:
    return {
        "id": "co_1",
        "duration": duration,
        "percent_off": None,
        "amount_off": None,
        "currency": "usd",
        **kw,
    }


def test_monthly_price_times_quantity() -> None:
    assert mrr(sub(item(1000, quantity=3))) == 3000


def test_yearly_is_divided_by_twelve_and_rounded_half_even() -> None:
    assert mrr(sub(item(12_000, interval="year"))) == 1000
    assert mrr(sub(item(30, interval="year"))) == 2  # 2.5 -> 2 (half to even)
    assert mrr(sub(item(42, interval="year"))) == 4  # 3.5 -> 4


def test_weekly_and_daily_normalise_by_the_calendar() -> None:
    assert mrr(sub(item(1200, interval="week"))) == 5200  # 1200 * 52 / 12
    assert mrr(sub(item(100, interval="day"))) == 3042  # 100 * 365 / 12 = 3041.67
    assert mrr(sub(item(3000, interval="month", count=3))) == 1000


def test_metered_items_contribute_nothing() -> None:
    assert mrr(sub(item(1000), item(500, usage_type="metered"))) == 1000


def test_trials_and_inactive_statuses_contribute_nothing_past_due_does() -> None:
    for status in ("trialing", "incomplete", "incomplete_expired", "unpaid", "canceled", "paused"):
        assert mrr(sub(item(1000), status=status)) == 0, status
    assert mrr(sub(item(1000), status="past_due")) == 1000


def test_decimal_unit_amounts_are_exact() -> None:
    assert mrr(sub(item(0, quantity=1000, unit_amount_decimal="0.25"))) == 250


def test_graduated_and_volume_tiers() -> None:
    tiers = [
        {"up_to": 10, "unit_amount_decimal": "100", "flat_amount_decimal": "500"},
        {"up_to": None, "unit_amount_decimal": "50", "flat_amount_decimal": None},
    ]
    graduated = item(0, quantity=15, billing_scheme="tiered", tiers_mode="graduated", tiers=tiers)
    volume = item(0, quantity=15, billing_scheme="tiered", tiers_mode="volume", tiers=tiers)
    assert mrr(sub(graduated)) == 10 * 100 + 500 + 5 * 50
    assert mrr(sub(volume)) == 15 * 50


def test_forever_percent_discount_reduces_mrr_repeating_and_once_do_not() -> None:
    forever = coupon(percent_off="25.5")
    assert mrr(sub(item(1000), discounts=[{"id": "di_1", "coupon": forever}])) == 745
    for duration in ("once", "repeating"):
        limited = coupon(duration, percent_off="50")
        assert mrr(sub(item(1000), discounts=[{"id": "di_1", "coupon": limited}])) == 1000


def test_amount_off_is_normalised_by_the_billing_interval() -> None:
    yearly = sub(
        item(12_000, interval="year"), discounts=[{"id": "di_1", "coupon": coupon(amount_off=1200)}]
    )
    assert mrr(yearly) == 900  # (12000 - 1200) / 12
    other_currency = coupon(amount_off=1200, currency="eur")
    assert mrr(sub(item(1000), discounts=[{"id": "di_1", "coupon": other_currency}])) == 1000


def test_current_api_discounts_resolve_their_coupon_by_id() -> None:
    state = sub(item(1000), discounts=[{"id": "di_1", "coupon": None}])
    assert mrr(state) == 1000  # coupon not known (yet)
    assert mrr(state, {"di_1": coupon(percent_off="10")}) == 900


def test_a_discount_never_makes_mrr_negative() -> None:
    assert mrr(sub(item(500), discounts=[{"id": "d", "coupon": coupon(amount_off=900)}])) == 0


def no_coupons(discount_id: str) -> None:
    return None


def point(created: int, state: dict[str, Any], event_id: str | None = None) -> Point:
    return Point(Version(created, event_id or f"evt_{created}", state["status"]), state)


def series(
    *points: Point, last: date = date(2026, 4, 1), **more: list[Point]
) -> dict[str, list[tuple[date, int]]]:
    return customer_month_ends({"sub_1": list(points), **more}, no_coupons, last)


def test_trial_converting_mid_month_counts_from_that_month_end() -> None:
    ends = series(
        point(JAN, sub(item(1000), status="trialing")), point(JAN + 14 * 86400, sub(item(1000)))
    )
    assert ends["usd"] == [(date(2026, m, 1), 1000) for m in (1, 2, 3, 4)]


def test_upgrade_downgrade_cancel_and_reactivation_movements() -> None:
    ends = series(
        point(JAN + 5, sub(item(1000))),
        point(FEB + 5, sub(item(1000, quantity=2))),  # upgrade
        point(MAR + 5, sub(item(1500))),  # downgrade
        point(APR + 5, sub(item(1500), status="canceled")),
        last=date(2026, 6, 1),
        sub_2=[point(MAY + 5, sub(item(700)))],  # comes back with a new subscription
    )
    found = [(str(m.month), m.kind, m.amount_cents) for m in movements("usd", ends["usd"])]
    assert found == [
        ("2026-01-01", "new", 1000),
        ("2026-02-01", "expansion", 1000),
        ("2026-03-01", "contraction", -500),
        ("2026-04-01", "churn", -1500),
        ("2026-05-01", "reactivation", 700),
    ]


def test_late_delivery_of_an_intermediate_state_changes_past_month_ends() -> None:
    # The February upgrade is known only as a snapshot that arrived late: it still counts.
    ends = series(
        point(JAN, sub(item(1000))),
        point(MAR, sub(item(1000), status="canceled")),
        point(FEB, sub(item(3000))),
    )
    assert ends["usd"][:3] == [
        (date(2026, 1, 1), 1000),
        (date(2026, 2, 1), 3000),
        (date(2026, 3, 1), 0),
    ]


def test_two_currencies_are_separate_series() -> None:
    eur = item(900, currency="eur")
    ends = customer_month_ends(
        {"sub_usd": [point(JAN, sub(item(1000)))], "sub_eur": [point(FEB, sub(eur))]},
        no_coupons,
        date(2026, 2, 1),
    )
    assert ends == {
        "usd": [(date(2026, 1, 1), 1000), (date(2026, 2, 1), 1000)],
        "eur": [(date(2026, 2, 1), 900)],
    }


@given(st.lists(st.integers(0, 5).map(lambda n: n * 1000), min_size=1, max_size=24))
def test_movements_always_sum_to_the_change_in_mrr(values: list[int]) -> None:
    month_ends = [(date(2024 + i // 12, i % 12 + 1, 1), v) for i, v in enumerate(values)]
    found = movements("usd", month_ends)
    previous = 0
    for month, value in month_ends:
        assert sum(m.amount_cents for m in found if m.month == month) == value - previous
        previous = value
    kinds = {m.kind for m in found}
    assert kinds <= {"new", "expansion", "contraction", "churn", "reactivation"}
    assert all(
        (m.amount_cents > 0) == (m.kind in ("new", "expansion", "reactivation")) for m in found
    )


# A customer's own discount (`customer.discount.*`, `discount` on the customer) applies to
# those of its subscriptions that carry none of their own.


def test_a_customer_coupon_applies_to_subscriptions_without_a_discount_of_their_own() -> None:
    def with_customer(state: dict[str, Any], terms: dict[str, Any]) -> int:
        return subscription_mrr(state, no_coupons, customer_coupon=terms)

    assert with_customer(sub(item(1000)), coupon(percent_off="20")) == 800
    assert with_customer(sub(item(1000)), coupon(percent_off="100")) == 0
    assert with_customer(sub(item(1000)), coupon(amount_off=300)) == 700
    assert with_customer(sub(item(1000)), coupon(amount_off=300, currency="eur")) == 1000
    assert with_customer(sub(item(1000)), coupon("repeating", percent_off="20")) == 1000
    own = sub(item(1000), discounts=[{"id": "di_own", "coupon": None}])  # its coupon unknown
    assert with_customer(own, coupon(percent_off="20")) == 1000


def fact(created: int, discount_id: str | None, **kw: Any) -> CustomerDiscountFact:
    return CustomerDiscountFact(created, discount_id, **kw)


def test_a_customer_discount_is_in_force_from_its_start_until_it_ends() -> None:
    found = customer_discounts(
        [
            fact(JAN, None),  # the customer signed up without one
            fact(JAN + 10, "di_1", start=JAN + 10, from_customer=False, coupon_id="SAVE"),
            fact(FEB, "di_1", start=JAN + 10),  # the customer showing it
            fact(MAR + 5, "di_1", start=JAN + 10, from_customer=False, ended=True),
        ]
    )
    assert [discount_in_force(found, before) for before in (JAN + 10, FEB, MAR + 5, APR)] == [
        None,
        CustomerDiscount("di_1", JAN + 10, MAR + 5, None, "SAVE"),
        CustomerDiscount("di_1", JAN + 10, MAR + 5, None, "SAVE"),
        None,
    ]


def test_a_customer_seen_later_without_its_discount_ends_it_without_a_deletion() -> None:
    found = customer_discounts([fact(JAN + 10, "di_1", start=JAN + 10), fact(FEB + 3, None)])
    assert found == [CustomerDiscount("di_1", JAN + 10, FEB + 3, None, None)]


def test_month_ends_apply_the_customer_discount_in_force() -> None:
    half = coupon(percent_off="50")
    ends = customer_month_ends(
        {"sub_1": [point(JAN, sub(item(1000)))]},
        no_coupons,
        date(2026, 3, 1),
        customer_coupon_at=lambda before: half if before <= MAR else None,
    )
    assert ends["usd"] == [
        (date(2026, 1, 1), 500),
        (date(2026, 2, 1), 500),
        (date(2026, 3, 1), 1000),
    ]


@st.composite
def discount_facts(draw: st.DrawFn) -> list[CustomerDiscountFact]:
    """What customer snapshots and customer-level discount snapshots said over a few months."""
    found = []
    for n in range(draw(st.integers(0, 3))):
        start = draw(st.integers(JAN, APR))
        found.append(fact(start, f"di_{n}", start=start, from_customer=False, coupon_id="C"))
        if draw(st.booleans()):
            ended = draw(st.integers(start, MAY))
            found.append(fact(ended, f"di_{n}", start=start, from_customer=False, ended=True))
    for _ in range(draw(st.integers(0, 4))):
        shown = draw(st.sampled_from([None, *(f.discount_id for f in found)]))
        found.append(fact(draw(st.integers(JAN, MAY)), shown))
    return found


@given(discount_facts(), st.randoms(use_true_random=False))
def test_customer_discounts_are_the_same_in_any_order_of_their_facts(
    facts: list[CustomerDiscountFact], rng: Any
) -> None:
    shuffled = list(facts)
    rng.shuffle(shuffled)
    assert customer_discounts(shuffled) == customer_discounts(facts)
    for before in (FEB, MAR, APR, MAY):
        assert discount_in_force(customer_discounts(shuffled), before) == discount_in_force(
            customer_discounts(facts), before
        )
