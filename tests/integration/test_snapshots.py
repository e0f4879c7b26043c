"""Snapshots: written as aggregates grow, loaded instead of the whole history, and giving the
aggregate its events give; one of another format is ignored."""

from __future__ import annotations

import psycopg

from billing_ledger import bootstrap
from billing_ledger.domain import frontier
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.subscription import Subscription
from billing_ledger.processing import snapshots
from tests.pipeline import Pipeline
from tests.support.stripe import CREATED, event, subscription

UPDATES = 21


def deliver_updates(dsn: str, first: int, last: int) -> None:
    """Updates `first`..`last` of one subscription, each by a processor with an empty cache."""
    pipeline = Pipeline(dsn)
    try:
        for n in range(first, last):
            state = subscription(quantity=n + 1)
            kind = "customer.subscription.created" if n == 0 else "customer.subscription.updated"
            previous = None if n == 0 else {"quantity": n}
            pipeline.deliver(event(kind, state, created=CREATED + n, previous_attributes=previous))
        pipeline.process_all()
    finally:
        pipeline.close()


def test_loads_start_from_the_latest_snapshot_and_equal_a_load_from_events(
    database_url: str,
) -> None:
    for first, last in ((0, 9), (9, 17), (17, UPDATES)):
        deliver_updates(database_url, first, last)
    aggregate_id = stripe_uuid("", False, "sub_Test1")
    with psycopg.connect(database_url) as conn:
        versions = [
            row[0]
            for row in conn.execute(
                "SELECT originator_version FROM eventstore.billing_snapshots "
                "WHERE originator_id = %s ORDER BY 1",
                (aggregate_id,),
            )
        ]
    # Each commit that took the version past a multiple of EVERY (8, 16) wrote one.
    assert snapshots.EVERY == 8 and versions == [9, 17]
    app = bootstrap.application(database_url)
    try:
        loaded = app.load(Subscription, aggregate_id)
        replayed = app.from_events(aggregate_id)
    finally:
        app.close()
    assert loaded is not None and loaded.version == UPDATES
    assert vars(loaded) == vars(replayed)
    assert loaded.state["items"][0]["quantity"] == UPDATES


def test_a_snapshot_of_another_format_is_ignored(database_url: str) -> None:
    deliver_updates(database_url, 0, 9)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE eventstore.billing_snapshots SET state = replace(convert_from(state, "
            "'UTF8'), %s, '\"format\":0')::bytea",
            (f'"format":{snapshots.FORMAT}',),
        )
    deliver_updates(database_url, 9, 12)
    app = bootstrap.application(database_url)
    try:
        loaded = app.load(Subscription, stripe_uuid("", False, "sub_Test1"))
    finally:
        app.close()
    assert loaded is not None and loaded.version == 12


def test_a_snapshot_older_than_the_frontier_is_decided_from_the_whole_history(
    database_url: str,
) -> None:
    """Updates further apart than the window: a snapshot of the aggregate keeps only the latest
    and the one before it. A cancellation arriving late, between the first two updates, is the
    first terminal state: the processor, loading from that snapshot, must read every event."""
    apart = frontier.WINDOW + 1
    pipeline = Pipeline(database_url)
    try:
        for n in range(UPDATES):
            state = subscription(quantity=n + 1)
            kind = "customer.subscription.created" if n == 0 else "customer.subscription.updated"
            previous = None if n == 0 else {"quantity": n}
            created = CREATED + n * apart
            pipeline.deliver(event(kind, state, created=created, previous_attributes=previous))
        pipeline.process_all()
    finally:
        pipeline.close()
    aggregate_id = stripe_uuid("", False, "sub_Test1")
    app = bootstrap.application(database_url)
    try:
        loaded = app.load(Subscription, aggregate_id)
        assert loaded is not None and len(loaded.history["sub_Test1"].kept) <= 2
        assert loaded.history["sub_Test1"].dropped is None  # from a snapshot: in the store
    finally:
        app.close()
    late = event(
        "customer.subscription.deleted",
        subscription(status="canceled", quantity=1),
        created=CREATED + apart // 2,
        previous_attributes={"status": "active"},
    )
    pipeline = Pipeline(database_url)  # an empty cache: the aggregate comes from its snapshot
    try:
        pipeline.deliver(late)
        pipeline.process_all()
    finally:
        pipeline.close()
    app = bootstrap.application(database_url)
    try:
        loaded = app.load(Subscription, aggregate_id)
        replayed = app.from_events(aggregate_id)
    finally:
        app.close()
    assert loaded is not None and isinstance(replayed, Subscription)
    assert loaded.version == UPDATES + 1 and loaded.state["status"] == "canceled"
    assert loaded.parts == replayed.parts and loaded.state == replayed.state
