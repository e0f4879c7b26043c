"""The projector against real Postgres: large batches go through psycopg's pipeline mode."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from billing_ledger.domain.customer import Customer
from billing_ledger.projections.migrations import READ_SCHEMA
from billing_ledger.projections.projector import Projector
from tests.pipeline import Pipeline
from tests.support.stripe import customer, event, invoice, subscription


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    yield opened
    opened.close()


def test_a_large_batch_of_large_events_is_projected_without_hanging(pipeline: Pipeline) -> None:
    # ~1 MB of unsynced statements once hung psycopg's pipeline mode for good: a batch of 500
    # notifications carrying ~2 KB each must go through the projector's periodic syncs.
    for n in range(600):
        sub = subscription(f"sub_{n}", f"cus_{n}", description="x" * 2000)
        pipeline.deliver(event("customer.subscription.created", sub))
    pipeline.process_all()
    assert pipeline.query("SELECT count(*) FROM billing.subscriptions") == [(600,)]
    assert pipeline.query("SELECT count(*) FROM billing.mrr_points") == [(600,)]
    assert pipeline.query("SELECT min(position) FROM billing.projection_tracking") == [(600,)]


class _Customers:
    """A projection reading only customers' first events: what it was handed, in order."""

    name = "customers_seen"
    reads = (Customer.Recorded,)

    def __init__(self) -> None:
        self.seen: list[object] = []

    def prepare(self, cur: psycopg.Cursor[Any], events: Sequence[object]) -> None:
        pass

    def project(self, cur: psycopg.Cursor[Any], event: object) -> None:
        self.seen.append(event)

    def flush(self, cur: psycopg.Cursor[Any]) -> None:
        pass


def test_a_projection_is_handed_only_what_it_reads_and_moves_past_the_rest(
    pipeline: Pipeline,
) -> None:
    for n in range(3):
        pipeline.deliver(event("customer.created", customer(f"cus_{n}")))
        pipeline.deliver(
            event("customer.subscription.created", subscription(f"sub_{n}", f"cus_{n}"))
        )
        pipeline.deliver(event("invoice.created", invoice(f"in_{n}", f"cus_{n}")))
    pipeline.process_all()
    customers = _Customers()
    projector = Projector(pipeline.app, pipeline.pool, READ_SCHEMA, [customers], batch_size=4)
    projector.create_tables()
    while projector.run_once():
        pass
    assert [(type(e), getattr(e, "stripe_id")) for e in customers.seen] == [  # noqa: B009
        (Customer.Recorded, f"cus_{n}") for n in range(3)
    ]
    [(head,)] = pipeline.query("SELECT max(notification_id) FROM eventstore.billing_events")
    assert projector.positions() == {"customers_seen": head}
