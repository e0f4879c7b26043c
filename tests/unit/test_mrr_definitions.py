"""Each MRR definition, hand-computed: names, discounts, past_due days, when churn is dated."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from billing_ledger.domain.ordering import Version
from billing_ledger.errors import ConfigurationError
from billing_ledger.projections.mrr_definitions import STRIPE, MrrDefinition, parse
from billing_ledger.projections.mrr_rules import (
    Point,
    customer_month_ends,
    movements,
    past_due_since,
    subscription_mrr,
)

DAY = 86_400
JAN, FEB, MAR, APR = 1_767_225_600, 1_769_904_000, 1_772_323_200, 1_775_001_600
ALL_DISCOUNTS = parse("all_discounts")
PAST_DUE_30 = parse("past_due_30d")
AT_CANCELLATION = parse("churn_at_cancellation")


def sub(status: str = "active", **kw: Any) -> dict[str, Any]:
    item = {
        "unit_amount": 1000,
        "quantity": 1,
        "interval": "month",
        "interval_count": 1,
        "usage_type": "licensed",
        "currency": "usd",
        "billing_scheme": "per_unit",
    }
    return {
        "status": status,
        "currency": "usd",
        "items": [item],
        "discounts": [],
        "cancel_at_period_end": False,
        "canceled_at": None,
        **kw,
    }


def point(created: int, state: dict[str, Any]) -> Point:
    return Point(Version(created, f"evt_{created}", state["status"]), state)


def ends(
    points: list[Point], definition: MrrDefinition, as_of: int | None = None
) -> list[tuple[date, int]]:
    found = customer_month_ends(
        {"sub_1": points}, lambda _: None, date(2026, 3, 1), definition=definition, as_of=as_of
    )
    return found["usd"]


def kinds(month_ends: list[tuple[date, int]]) -> list[tuple[str, str, int]]:
    return [(m.month.isoformat()[:7], m.kind, m.amount_cents) for m in movements("usd", month_ends)]


@pytest.mark.parametrize(
    "name",
    [
        "stripe",
        "all_discounts",
        "past_due_30d",
        "churn_at_cancellation",
        "all_discounts+past_due_7d+churn_at_cancellation",
    ],
)
def test_a_definition_is_named_as_written(name: str) -> None:
    assert parse(name).name == name


@pytest.mark.parametrize(
    "name",
    ["", "chartmogul", "past_due_0d", "past_due_366d", "past_due_30d+all_discounts", "stripe+x"],
)
def test_an_unknown_or_misordered_name_is_refused_with_the_names_known(name: str) -> None:
    with pytest.raises(ConfigurationError, match="MRR definition"):
        parse(name)


def test_a_repeating_coupon_counts_only_when_every_discount_does() -> None:
    coupon = {"id": "c", "duration": "repeating", "percent_off": "25", "amount_off": None}
    state = sub(discounts=[{"id": "di_1", "coupon": coupon}])
    assert subscription_mrr(state, lambda _: None) == 1000
    assert subscription_mrr(state, lambda _: None, definition=ALL_DISCOUNTS) == 750
    once = {
        "id": "o",
        "duration": "once",
        "percent_off": None,
        "amount_off": 300,
        "currency": "usd",
    }
    assert subscription_mrr(sub(), lambda _: None, once, ALL_DISCOUNTS) == 700  # the customer's
    assert subscription_mrr(sub(), lambda _: None, once, STRIPE) == 1000


def test_churn_is_dated_at_period_end_by_stripe_and_at_the_request_otherwise() -> None:
    history = [
        point(JAN + DAY, sub()),
        point(FEB + 10 * DAY, sub(cancel_at_period_end=True, canceled_at=FEB + 10 * DAY)),
        point(MAR + 1 * DAY, sub("canceled", canceled_at=FEB + 10 * DAY)),
    ]
    assert kinds(ends(history, STRIPE)) == [("2026-01", "new", 1000), ("2026-03", "churn", -1000)]
    assert kinds(ends(history, AT_CANCELLATION)) == [
        ("2026-01", "new", 1000),
        ("2026-02", "churn", -1000),
    ]


def test_undoing_a_scheduled_cancellation_is_a_reactivation_when_churn_is_dated_at_it() -> None:
    history = [
        point(JAN + DAY, sub()),
        point(FEB + 5 * DAY, sub(cancel_at_period_end=True)),
        point(MAR + 3 * DAY, sub(cancel_at_period_end=False)),
    ]
    assert kinds(ends(history, AT_CANCELLATION)) == [
        ("2026-01", "new", 1000),
        ("2026-02", "churn", -1000),
        ("2026-03", "reactivation", 1000),
    ]
    assert kinds(ends(history, STRIPE)) == [("2026-01", "new", 1000)]


def test_past_due_churns_after_its_days_and_comes_back_when_paid() -> None:
    history = [
        point(JAN + DAY, sub()),
        point(JAN + 19 * DAY + 3600, sub("past_due")),  # Jan 20: 11 days by Jan 31
        point(MAR + 4 * DAY, sub()),  # paid on Mar 5
    ]
    assert kinds(ends(history, STRIPE)) == [("2026-01", "new", 1000)]
    assert kinds(ends(history, PAST_DUE_30)) == [
        ("2026-01", "new", 1000),
        ("2026-02", "churn", -1000),  # Feb 28 is the 39th day
        ("2026-03", "reactivation", 1000),
    ]


def test_the_past_due_clock_stops_at_the_latest_event() -> None:
    history = [point(JAN + DAY, sub()), point(JAN + 19 * DAY, sub("past_due"))]
    feb_10 = FEB + 9 * DAY
    day_21 = dict(ends(history, PAST_DUE_30, as_of=feb_10 + 1))
    assert day_21[date(2026, 2, 1)] == 1000  # Jan 20 to Feb 10: 21 days
    day_30 = dict(ends(history, PAST_DUE_30, as_of=FEB + 18 * DAY + 1))  # Feb 19
    assert day_30[date(2026, 2, 1)] == 0


def test_past_due_since_is_the_start_of_the_latest_run() -> None:
    history = [
        point(JAN, sub("past_due")),
        point(JAN + DAY, sub()),
        point(JAN + 2 * DAY, sub("past_due")),
        point(JAN + 3 * DAY, sub("past_due")),
    ]
    assert past_due_since(history, APR) == JAN + 2 * DAY
    assert past_due_since(history, JAN + DAY + 1) is None
