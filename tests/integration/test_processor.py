"""The processor against real Postgres: exactly once, unknown types kept, poison dead-lettered."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError

from billing_ledger import bootstrap
from billing_ledger.eventlog.postgres import LOG_NAME
from billing_ledger.infra.metrics import REGISTRY
from tests.pipeline import Pipeline
from tests.support.stripe import customer, event, subscription
from tests.support.webhooks import body_of


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    yield opened
    opened.close()


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_reprocessing_a_batch_changes_nothing(pipeline: Pipeline) -> None:
    pipeline.append(body_of(event("customer.created", customer("cus_P"))))
    pipeline.process_all()
    batch = pipeline.log.read(0, 10)
    with pytest.raises(Exception, match="Failed to record tracking"):
        pipeline.processor.process(batch)  # the position is already recorded: refused whole
    assert pipeline.query("SELECT count(*) FROM eventstore.billing_events") == [(1,)]


def test_unknown_types_are_tracked_and_counted_but_touch_nothing(pipeline: Pipeline) -> None:
    before = counter(
        "billing_ledger_unhandled_event_types_total", event_type="issuing.card.created"
    )
    pipeline.append(
        body_of(event("issuing.card.created", {"id": "ic_1", "object": "issuing.card"}))
    )
    pipeline.process_all()
    assert pipeline.processor.processed(LOG_NAME) == 1
    assert pipeline.query("SELECT count(*) FROM eventstore.billing_events") == [(0,)]
    after = counter("billing_ledger_unhandled_event_types_total", event_type="issuing.card.created")
    assert after == before + 1


def test_poison_goes_to_dead_letters_and_processing_continues(pipeline: Pipeline) -> None:
    broken = event("customer.subscription.created", {"id": "sub_Broken", "object": "subscription"})
    pipeline.append(body_of(broken))
    pipeline.append(b'{"not": "an event"}')
    pipeline.append(body_of(event("customer.created", customer("cus_After"))))
    pipeline.process_all()
    letters = pipeline.query("SELECT position, reason FROM eventlog.dead_letters ORDER BY position")
    assert letters == [
        (1, "customer.subscription.created: unreadable Subscription (created, customer, status)"),
        (2, "not a Stripe event: invalid created, data, id, livemode, type"),
    ]
    assert pipeline.query("SELECT stripe_customer_id FROM billing.stripe_customers") == [
        ("cus_After",)
    ]


def test_a_subscription_before_its_customer_resolves_when_the_customer_arrives(
    pipeline: Pipeline,
) -> None:
    pipeline.append(
        body_of(event("customer.subscription.created", subscription("sub_Early", "cus_Late")))
    )
    pipeline.process_all()
    pipeline.append(body_of(event("customer.created", customer("cus_Late"))))
    pipeline.process_all()
    joined = pipeline.query(
        "SELECT s.stripe_subscription_id, c.stripe_customer_id FROM billing.subscriptions s "
        "JOIN billing.stripe_customers c ON c.id = s.customer_id"
    )
    assert joined == [("sub_Early", "cus_Late")]


def test_only_one_processor_follows_the_postgres_log(pipeline: Pipeline) -> None:
    stop = threading.Event()
    first = pipeline.log.follow(lambda _: None, stop)
    pipeline.append(body_of(event("customer.created", customer("cus_L"))))
    assert len(next(first)) == 1  # holds the lock now
    second_log = bootstrap.postgres_event_log(pipeline.dsn)
    second_log.open()
    second_got: list[int] = []

    def second() -> None:
        for batch in second_log.follow(lambda _: None, stop):
            second_got.append(len(batch))

    standby = threading.Thread(target=second)
    standby.start()
    standby.join(timeout=1.5)
    assert second_got == [], "a standby processor must wait while another holds the log"
    first.close()  # releases the advisory lock with the connection
    standby.join(timeout=5)
    stop.set()
    standby.join()
    second_log.close()
    assert second_got == [1]


def test_a_database_failure_while_applying_retries_the_batch_instead_of_losing_it(
    pipeline: Pipeline,
) -> None:
    pipeline.deliver(event("customer.created", customer("cus_Retry")))
    pipeline.query_write("ALTER TABLE eventstore.billing_events RENAME TO billing_events_away")
    batch = pipeline.log.read(0, 10)
    with pytest.raises(PersistenceError):
        pipeline.processor.process(batch)  # the store is unreachable: nothing is recorded
    assert pipeline.processor.processed(LOG_NAME) is None
    pipeline.query_write("ALTER TABLE eventstore.billing_events_away RENAME TO billing_events")
    pipeline.process_all()
    assert pipeline.query("SELECT count(*) FROM eventlog.dead_letters") == [(0,)]
    assert pipeline.query("SELECT stripe_customer_id FROM billing.stripe_customers") == [
        ("cus_Retry",)
    ]


def test_a_large_batch_commits_in_chunks_with_their_positions(pipeline: Pipeline) -> None:
    # One insert of ~500 domain events once hung psycopg's pipeline mode for good.
    for n in range(600):
        pipeline.deliver(event("customer.created", customer(f"cus_{n}")))
    pipeline.processor.process(pipeline.log.read(0, 600))
    assert pipeline.processor.processed(LOG_NAME) == 600
    assert pipeline.query("SELECT count(*) FROM eventstore.billing_events") == [(600,)]


def test_an_aggregate_another_process_wrote_is_reloaded_not_overwritten(pipeline: Pipeline) -> None:
    # The processor keeps aggregates in memory between batches; a dead letter's retry in another
    # process may write one of them meanwhile. Our stale copy must conflict and be dropped.
    pipeline.deliver(event("customer.created", customer("cus_Shared"), created=1_767_225_600))
    pipeline.process_all()
    renamed = customer("cus_Shared", email="renamed@example.com")
    pipeline.deliver(event("customer.updated", renamed, created=1_767_225_700))
    [logged] = pipeline.log.read(1, 10)
    other_app = bootstrap.application(pipeline.dsn)
    try:
        bootstrap.processor(other_app, pipeline.log, pipeline.pool).reapply(logged, "dead-letter:2")
    finally:
        other_app.close()
    with pytest.raises(IntegrityError):
        pipeline.processor.process([logged])  # its cached customer is one version behind
    pipeline.process_all()  # the retry loads what the store holds: the update is already in
    assert pipeline.processor.processed(LOG_NAME) == 2
    assert pipeline.query("SELECT count(*) FROM eventstore.billing_events") == [(2,)]
    assert pipeline.query("SELECT email FROM billing.stripe_customers") == [
        ("renamed@example.com",)
    ]


def test_a_commit_logs_one_info_line_with_its_outcomes(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline.append(body_of(event("customer.created", customer("cus_L1"))))
    pipeline.append(body_of(event("customer.created", customer("cus_L2"))))
    pipeline.append(b'{"not": "an event"}')
    with caplog.at_level(logging.INFO, logger="billing_ledger.processing.processor"):
        pipeline.process_all()
    info = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.getMessage() for r in info] == ["events processed"]
    assert getattr(info[0], "outcomes") == {"applied": 2, "dead_lettered": 1}  # noqa: B009
    assert getattr(info[0], "position") == 3  # noqa: B009
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert getattr(warning, "outcome") == "dead_lettered"  # noqa: B009
