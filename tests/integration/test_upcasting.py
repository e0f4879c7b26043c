"""Domain events written by an earlier version (tests/fixtures/eventstore/v1_events.json, stored
by the walking skeleton's code) are upcast on read: aggregates load, take new events, and the
read schema rebuilt from them is what the current code projects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from billing_ledger.domain.customer import Customer
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.subscription import Subscription
from tests.pipeline import Pipeline
from tests.support.stripe import event, tax_id

V1_EVENTS = Path(__file__).parent.parent / "fixtures" / "eventstore" / "v1_events.json"


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    with opened.pool.connection() as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO eventstore.billing_events "
            "(originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
            [
                (
                    UUID(e["originator_id"]),
                    e["originator_version"],
                    e["topic"],
                    json.dumps(e["state"]).encode(),
                )
                for e in json.loads(V1_EVENTS.read_text())
            ],
        )
    yield opened
    opened.close()


def test_v1_aggregates_load_and_take_new_events(pipeline: Pipeline) -> None:
    customer: object = pipeline.app.repository.get(stripe_uuid("", False, "cus_SampleAda"))
    assert isinstance(customer, Customer)
    # The v1 history: created, renamed "Ada King", then deleted (a snapshot still named Lovelace).
    assert (customer.state["name"], customer.state["tax_id"], customer.version) == (
        "Ada Lovelace",
        None,
        3,
    )
    assert customer.state["deleted_at"] is not None
    subscription: object = pipeline.app.repository.get(stripe_uuid("", False, "sub_SampleAdaPro"))
    assert isinstance(subscription, Subscription)
    assert subscription.state["items"][0]["billing_scheme"] == "per_unit"
    pipeline.deliver(
        event(
            "customer.tax_id.created",
            tax_id("txi_1", "cus_SampleAda", "GB123"),
            created=1_767_400_000,
        )
    )
    pipeline.process_all()
    assert pipeline.query(
        "SELECT name, tax_id, deleted_at IS NOT NULL FROM billing.stripe_customers"
    ) == [("Ada Lovelace", "GB123", True)]


def test_the_read_schema_rebuilds_from_v1_events(pipeline: Pipeline) -> None:
    pipeline.process_all()
    assert pipeline.query(
        "SELECT stripe_subscription_id, status, cancel_at_period_end FROM billing.subscriptions"
    ) == [("sub_SampleAdaPro", "active", True)]
    assert pipeline.query("SELECT month::text, mrr_cents, customers FROM billing.mrr_monthly") == [
        ("2026-01-01", 3 * 4900, 1)
    ]
