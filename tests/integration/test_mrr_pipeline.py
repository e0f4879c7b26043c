"""MRR through the real log, processor and projectors: coupons known only by id, any order."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from itertools import permutations
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fresh_database
from tests.e2e.cli import cli_env
from tests.pipeline import Pipeline
from tests.support.stripe import customer, event, stripe_object, subscription

JAN, FEB = 1_767_225_600, 1_769_904_000


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    yield opened
    opened.close()


def discounted_history() -> list[dict[str, Any]]:
    coupon = stripe_object(
        "coupon", id="SAVE20", duration="forever", percent_off=20, amount_off=None
    )
    discount = stripe_object(
        "discount",
        id="di_1",
        customer="cus_Test1",
        subscription="sub_Test1",
        source={"type": "coupon", "coupon": "SAVE20"},
        start=JAN,
        end=None,
    )
    discount.pop("coupon", None)
    return [
        event(
            "customer.subscription.created",
            subscription(unit_amount=5000, discounts=["di_1"]),
            created=JAN,
        ),
        event("customer.discount.created", discount, created=JAN),
        event("coupon.created", coupon, created=JAN - 86400),
        event(
            "invoice.created",
            stripe_object("invoice", id="in_x", customer="cus_Test1", created=FEB),
            created=FEB,
        ),
    ]


def monthly(pipeline: Pipeline) -> list[tuple[Any, ...]]:
    return pipeline.query(
        "SELECT month::text, currency, mrr_cents, customers FROM billing.mrr_monthly ORDER BY month"
    )


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_a_forever_coupon_known_only_by_id_applies_whatever_the_order(
    pipeline: Pipeline, order: tuple[int, ...]
) -> None:
    history = discounted_history()
    for index in order:
        pipeline.deliver(history[index])
        pipeline.process_all()  # each in its own batch: later arrivals must fix earlier results
    pipeline.deliver(history[3])
    pipeline.process_all()
    assert monthly(pipeline) == [("2026-01-01", "usd", 4000, 1), ("2026-02-01", "usd", 4000, 1)]
    assert pipeline.query(
        "SELECT month::text, customer_id, kind, amount_cents FROM billing.mrr_movements"
    ) == [("2026-01-01", "cus_Test1", "new", 4000)]


def test_an_intermediate_state_delivered_last_still_shapes_past_months(pipeline: Pipeline) -> None:
    created = event("customer.subscription.created", subscription(unit_amount=1000), created=JAN)
    upgraded = event(
        "customer.subscription.updated", subscription(unit_amount=3000), created=JAN + 20 * 86400
    )
    canceled = event(
        "customer.subscription.deleted", subscription(status="canceled"), created=FEB + 86400
    )
    for document in (canceled, created, upgraded):
        pipeline.deliver(document)
        pipeline.process_all()
    assert monthly(pipeline) == [("2026-01-01", "usd", 3000, 1), ("2026-02-01", "usd", 0, 0)]


def test_the_mrr_command_prints_months_and_movements(pipeline: Pipeline) -> None:
    for document in discounted_history():
        pipeline.deliver(document)
    pipeline.process_all()
    env = cli_env({"DATABASE_URL": pipeline.dsn})
    as_json = subprocess.run(
        [sys.executable, "-m", "billing_ledger", "mrr", "--json", "--currency", "USD"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(as_json.stdout) == [
        {
            "account_id": "",
            "livemode": False,
            "month": month,
            "currency": "usd",
            "mrr_cents": 4000,
            "customers": 1,
            "new": new,
            "expansion": 0,
            "contraction": 0,
            "churn": 0,
            "reactivation": 0,
        }
        for month, new in (("2026-01", 4000), ("2026-02", 0))
    ]
    table = subprocess.run(
        [sys.executable, "-m", "billing_ledger", "mrr", "--from", "2026-02", "--to", "2026-02"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "platform (test mode)" in table
    assert "2026-02  usd         40.00" in table
    assert "2026-01" not in table


MAR = 1_772_323_200


def customer_discount_history() -> list[dict[str, Any]]:
    """A subscription without a discount of its own; its customer gets a forever 20% coupon
    (known by id, as current API versions send it) in January and loses it in March."""
    coupon = stripe_object(
        "coupon", id="SAVE20", duration="forever", percent_off=20, amount_off=None
    )
    discount = stripe_object(
        "discount",
        id="di_C",
        customer="cus_Test1",
        subscription=None,
        source={"type": "coupon", "coupon": "SAVE20"},
        start=JAN + 100,
        end=None,
    )
    signed_up = customer()
    return [
        event("customer.created", signed_up, created=JAN),
        event("customer.subscription.created", subscription(unit_amount=5000), created=JAN),
        event("coupon.created", coupon, created=JAN - 86400),
        event("customer.discount.created", discount, created=JAN + 100),
        event(
            "customer.updated",
            customer(discount=discount),
            created=JAN + 100,
            previous_attributes={"discount": None},
        ),
        event("customer.discount.deleted", discount, created=MAR + 100),
    ]


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(customer_discount_history()))
def test_a_customer_discount_reduces_mrr_while_it_lasts_whatever_the_order(
    postgres_server_url: str, deliveries: list[dict[str, Any]]
) -> None:
    with fresh_database(postgres_server_url) as url:
        pipeline = Pipeline(url)
        try:
            for document in deliveries:  # each in its own batch
                pipeline.deliver(document)
                pipeline.process_all()
            assert monthly(pipeline) == [
                ("2026-01-01", "usd", 4000, 1),
                ("2026-02-01", "usd", 4000, 1),
                ("2026-03-01", "usd", 5000, 1),
            ]
            assert pipeline.query(
                "SELECT month::text, kind, amount_cents FROM billing.mrr_movements ORDER BY 1"
            ) == [("2026-01-01", "new", 4000), ("2026-03-01", "expansion", 1000)]
        finally:
            pipeline.close()


def test_an_amount_off_coupon_on_the_customer_object_alone_reduces_mrr(
    pipeline: Pipeline,
) -> None:
    """Earlier API versions embed the coupon in the customer's discount; no discount event."""
    coupon = stripe_object(
        "coupon", id="FIVE", duration="forever", percent_off=None, amount_off=500, currency="usd"
    )
    discount = stripe_object("discount", id="di_C", customer="cus_Test1", start=JAN, end=None)
    discount.pop("source")
    discount["coupon"] = coupon
    for document in (
        event("customer.subscription.created", subscription(unit_amount=5000), created=JAN),
        event("customer.created", customer(discount=discount), created=JAN),
    ):
        pipeline.deliver(document)
        pipeline.process_all()
    assert monthly(pipeline) == [("2026-01-01", "usd", 4500, 1)]
