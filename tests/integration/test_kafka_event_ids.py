"""Reconciliation asks the Kafka log which event ids it holds for Stripe's 30 days: the log
seeks each partition to the window's start by record time (`offsets_for_times`) instead of
reading the whole topic, and still knows records appended but never processed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from billing_ledger.eventlog.kafka import CLOCK_SKEW_SECONDS, KafkaEventLog
from billing_ledger.eventlog.port import EventRecord
from billing_ledger.stripe_api.reconcile import RETENTION

pytestmark = pytest.mark.kafka

NOW = datetime.now(UTC)


@pytest.fixture
def kafka_log(kafka_bootstrap: str, kafka_topic: str) -> Iterator[KafkaEventLog]:
    opened = KafkaEventLog(
        kafka_bootstrap.split(","), kafka_topic, partitions=3, consumer_group=kafka_topic
    )
    opened.open()
    yield opened
    opened.close()


def received(event_id: str, at: datetime, created: datetime | None = None) -> EventRecord:
    """A record of an event created at `created` (default: when received) and received at
    `at`, for one of several customers (so over every partition)."""
    made = created or at
    return EventRecord(
        body=f'{{"id": "{event_id}"}}'.encode(),
        event_id=event_id,
        event_type="invoice.paid",
        created=int(made.timestamp()),
        livemode=False,
        account="",
        api_version="2025-03-31.basil",
        received_at=at,
        partition_key=f":false:cus_{event_id[-1]}",
    )


def test_the_ids_of_the_window_are_read_from_its_start_only(kafka_log: KafkaEventLog) -> None:
    window_start = NOW - RETENTION
    old = [received(f"evt_old_{n}", window_start - timedelta(days=10 + n)) for n in range(6)]
    # Received long before the window, though it says it was created inside it (no real
    # record does: received is never before created but for clock skew): a log that read
    # the whole topic would return it, one that seeks to the window's start never reads it.
    before_skew = window_start - timedelta(seconds=CLOCK_SKEW_SECONDS + 3600)
    unread = received("evt_unread_0", before_skew, created=window_start + timedelta(days=1))
    skewed = received(  # received a minute before its `created`, by clocks a minute apart
        "evt_skewed_1",
        window_start + timedelta(hours=2),
        window_start + timedelta(hours=2, minutes=1),
    )
    recent = [received(f"evt_new_{n}", NOW - timedelta(days=n)) for n in range(9)]
    for record in [*old, unread, skewed, *recent]:
        kafka_log.append(record)

    ids = kafka_log.event_ids(int(window_start.timestamp()))

    assert ids == {r.event_id for r in [skewed, *recent]}
    # Nothing processed them (no follower ran): the log itself was read.
    assert kafka_log.event_ids(int((NOW - timedelta(days=2, hours=1)).timestamp())) == {
        "evt_new_0",
        "evt_new_1",
        "evt_new_2",
    }
    assert kafka_log.event_ids(int((NOW + timedelta(days=1)).timestamp())) == set()


def test_a_window_before_every_record_reads_them_all(kafka_log: KafkaEventLog) -> None:
    records = [received(f"evt_{n}", NOW - timedelta(days=n)) for n in range(5)]
    for record in records:
        kafka_log.append(replace(record))
    assert kafka_log.event_ids(0) == {r.event_id for r in records}
