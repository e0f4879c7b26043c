"""`billing-ledger migrate-log` on a log written by the code before sealing: every record comes
out sealed, in order, nothing personal readable in the new log, and a rebuild from it gives
the tables the same history gives when sealed from the start."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from billing_ledger.eventlog.kafka import KafkaEventLog
from billing_ledger.eventlog.port import EventRecord
from billing_ledger.schemas.envelope import parse_event
from tests.conftest import fresh_database
from tests.integration.test_privacy import (
    NEEDLES,
    assert_unreadable,
    cli,
    every_table_as_text,
    history,
)
from tests.pipeline import Pipeline

# The log of record as the code before sealing created and appended it (commit d226f90).
LEGACY_LOG = (
    "CREATE SCHEMA IF NOT EXISTS eventlog",
    """CREATE TABLE eventlog.stripe_events (
        position bigserial PRIMARY KEY,
        event_id text NOT NULL,
        event_type text NOT NULL,
        created bigint NOT NULL,
        livemode boolean NOT NULL,
        account text NOT NULL,
        api_version text,
        received_at timestamptz NOT NULL,
        partition_key text NOT NULL,
        body bytea NOT NULL
    )""",
    "CREATE INDEX stripe_events_event_id ON eventlog.stripe_events (event_id)",
    """CREATE OR REPLACE FUNCTION eventlog.refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
            RAISE EXCEPTION 'the log of record is append-only';
        END $$""",
    """CREATE OR REPLACE TRIGGER stripe_events_append_only
        BEFORE UPDATE OR DELETE ON eventlog.stripe_events
        FOR EACH ROW EXECUTE FUNCTION eventlog.refuse_change()""",
)
LEGACY_INSERT = (
    "INSERT INTO eventlog.stripe_events (event_id, event_type, created, livemode, account, "
    "api_version, received_at, partition_key, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def legacy_records() -> list[EventRecord]:
    """The history as ingest appended it before sealing: the raw bodies."""
    records = []
    for document in history():
        body = json.dumps(document).encode()
        event = parse_event(body)
        records.append(
            EventRecord(
                body,
                event.id,
                event.type,
                event.created,
                event.livemode,
                event.account_id,
                event.api_version,
                datetime(2026, 1, 2, tzinfo=UTC),
                event.partition_key,
            )
        )
    return records


def test_a_postgres_log_written_before_sealing_is_rewritten_sealed(
    database_url: str, postgres_server_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        for statement in LEGACY_LOG:
            conn.execute(statement)
        for r in legacy_records():
            conn.execute(
                LEGACY_INSERT,
                (
                    r.event_id,
                    r.event_type,
                    r.created,
                    r.livemode,
                    r.account,
                    r.api_version,
                    r.received_at,
                    r.partition_key,
                    r.body,
                ),
            )

    migrated = cli(database_url, "migrate-log")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    count = len(history())
    assert f"{count} records copied into the sealed log, {count} of them sealed now" in (
        migrated.stdout
    )
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT position, data_subject, sealed IS NOT NULL, verified_with "
            "FROM eventlog.stripe_events ORDER BY position"
        ).fetchall()
        [retired] = conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'stripe_events_unsealed_%'"
        ).fetchall()
    assert [row[0] for row in rows] == list(range(1, count + 1))  # positions kept
    assert all(row[1] and row[2] and row[3] is None for row in rows)
    texts = every_table_as_text(database_url)
    assert readable(texts.pop(f"eventlog.{retired[0]}"))  # the old log, until it is dropped
    assert_unreadable(texts)

    after = Pipeline(database_url)  # the processor, now on the sealed log
    try:
        after.process_all()
        with fresh_database(postgres_server_url) as reference:
            sealed_from_the_start = Pipeline(reference)
            try:
                for document in history():
                    sealed_from_the_start.deliver(document)
                sealed_from_the_start.process_all()
                assert after.tables() == sealed_from_the_start.tables()
            finally:
                sealed_from_the_start.close()
        rebuilt = cli(database_url, "replay", "--from-log", "--verify")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        after.deliver(history()[0])  # appends go on after the kept positions
        assert after.query("SELECT max(position) FROM eventlog.stripe_events") == [(count + 1,)]
    finally:
        after.close()


def readable(text: str) -> bool:
    """Whether any of the person's values can be read in `text`."""
    return any(needle in text for needle in NEEDLES)


def raw_topic(servers: list[str], topic: str) -> bytes:
    """Every byte of every message of `topic`: keys, values and headers."""
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        seen: list[bytes] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for messages in consumer.poll(timeout_ms=1000).values():
                for m in messages:
                    seen += [m.key or b"", m.value, *(value for _, value in m.headers)]
        return b"\n".join(seen)
    finally:
        consumer.close()


@pytest.mark.kafka
def test_a_kafka_log_written_before_sealing_is_copied_sealed(
    database_url: str, kafka_bootstrap: str, kafka_topic: str
) -> None:
    servers = kafka_bootstrap.split(",")
    old = KafkaEventLog(servers, kafka_topic, partitions=3)
    old.open()
    for record in legacy_records():
        old.append(record)
    old.close()
    assert readable(raw_topic(servers, kafka_topic).decode(errors="replace"))

    sealed_topic = f"{kafka_topic}.sealed"
    migrated = cli(
        database_url,
        "migrate-log",
        "--to-topic",
        sealed_topic,
        EVENT_LOG="kafka",
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC=kafka_topic,
        KAFKA_TOPIC_PARTITIONS="3",
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"KAFKA_TOPIC={sealed_topic}" in migrated.stdout
    new = KafkaEventLog(servers, sealed_topic, partitions=3)
    new.open()
    try:
        copied = [
            logged.record for batch in new.replay(lambda _: None, new.head()) for logged in batch
        ]
    finally:
        new.close()
    assert sorted(r.event_id for r in copied) == sorted(r.event_id for r in legacy_records())
    assert all(r.is_sealed and r.sealed for r in copied)
    assert not readable(raw_topic(servers, sealed_topic).decode(errors="replace"))
