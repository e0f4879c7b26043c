"""The projector against real Postgres: large batches go through psycopg's pipeline mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipeline import Pipeline
from tests.support.stripe import event, subscription


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
