"""The EventLog contract, run against every adapter (real PostgreSQL, real Kafka, in memory)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from billing_ledger import bootstrap
from billing_ledger.eventlog.kafka import KafkaEventLog
from billing_ledger.eventlog.memory import MemoryEventLog
from billing_ledger.eventlog.port import (
    FETCHED,
    LISTED,
    WEBHOOK,
    EventLog,
    EventRecord,
    LoggedEvent,
)
from billing_ledger.eventlog.postgres import PostgresEventLog


@pytest.fixture(params=["postgres", pytest.param("kafka", marks=pytest.mark.kafka), "memory"])
def event_log(request: pytest.FixtureRequest) -> Iterator[EventLog]:
    opened: PostgresEventLog | KafkaEventLog | MemoryEventLog
    if request.param == "postgres":
        opened = bootstrap.postgres_event_log(request.getfixturevalue("database_url"))
    elif request.param == "memory":
        opened = MemoryEventLog()
    else:
        opened = KafkaEventLog(
            request.getfixturevalue("kafka_bootstrap").split(","),
            request.getfixturevalue("kafka_topic"),
            partitions=3,
            consumer_group=f"contract-{request.getfixturevalue('kafka_topic')}",
        )
    opened.open()
    yield opened
    opened.close()


def record(n: int, customer: str = "cus_A") -> EventRecord:
    """A record in the sealed format: facts, the body sealed (here: stand-in bytes, any bytes
    must come back whole), whose key sealed it and which secret verified it."""
    return EventRecord(
        body=f'{{"id": "evt_{n}", "email": "pii1:token"}}'.encode(),
        event_id=f"evt_{n}",
        event_type="customer.updated",
        created=1_767_225_600 + n,
        livemode=False,
        account="",
        api_version="2025-03-31.basil",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        partition_key=f":false:{customer}",
        sealed=bytes([1, n % 256, 0, 255]) + b"\x00sealed",
        data_subject=customer,
        verified_with="0123456789ab",
    )


def unsealed_record(n: int) -> EventRecord:
    """A record as the log held it before the sealed format: the raw body, nothing sealed."""
    return replace(record(n), sealed=None, data_subject=None, verified_with=None)


def collect(
    event_log: EventLog, count: int, processed: dict[str, int] | None = None, timeout: float = 30
) -> list[LoggedEvent]:
    """Follow until `count` records arrived (or fail after `timeout` seconds)."""
    seen: list[LoggedEvent] = []
    stop = threading.Event()
    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        for batch in event_log.follow((processed or {}).get, stop):
            seen.extend(batch)
            if len(seen) >= count:
                break
    finally:
        timer.cancel()
        stop.set()
    assert len(seen) >= count, f"only {len(seen)} of {count} records arrived"
    return seen


def test_appended_records_come_back_whole_and_in_order(event_log: EventLog) -> None:
    for n in range(5):
        event_log.append(record(n))
    seen = collect(event_log, 5)
    assert [logged.record for logged in seen] == [record(n) for n in range(5)]
    assert len({logged.log_name for logged in seen}) == 1
    positions = [logged.position for logged in seen]
    assert positions == sorted(positions)


def test_records_appended_from_an_event_loop_are_stored_like_appended_ones(
    event_log: EventLog,
) -> None:
    async def append_concurrently() -> None:
        await asyncio.gather(
            *(event_log.append_async(record(n, f"cus_{n % 3}")) for n in range(30))
        )

    asyncio.run(append_concurrently())
    seen = collect(event_log, 30)
    assert len(seen) == 30
    assert {logged.record for logged in seen} == {record(n, f"cus_{n % 3}") for n in range(30)}
    for customer in ("cus_0", "cus_1", "cus_2"):
        mine = [logged for logged in seen if logged.record.partition_key.endswith(customer)]
        assert len({logged.log_name for logged in mine}) == 1


def test_follow_starts_after_the_processed_positions(event_log: EventLog) -> None:
    for n in range(6):
        event_log.append(record(n))
    first = collect(event_log, 6)
    middle = first[2]
    rest = collect(event_log, 3, processed={middle.log_name: middle.position})
    assert [logged.record.event_id for logged in rest] == ["evt_3", "evt_4", "evt_5"]


def test_head_reports_the_last_position(event_log: EventLog) -> None:
    for n in range(3):
        event_log.append(record(n))
    last = collect(event_log, 3)[-1]
    assert event_log.head() == {last.log_name: last.position}


def test_concurrent_writers_are_never_skipped_by_a_follower(event_log: EventLog) -> None:
    writers, per_writer = 8, 40
    total = writers * per_writer
    seen: list[LoggedEvent] = []
    stop = threading.Event()

    def follow() -> None:
        for batch in event_log.follow(lambda _: None, stop):
            seen.extend(batch)
            if len(seen) >= total:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    with ThreadPoolExecutor(writers) as pool:
        list(
            pool.map(
                lambda w: [
                    event_log.append(record(w * 1000 + i, f"cus_{w}")) for i in range(per_writer)
                ],
                range(writers),
            )
        )
    follower.join(timeout=60)
    stop.set()
    follower.join()
    assert sorted(logged.record.event_id for logged in seen) == sorted(
        f"evt_{w * 1000 + i}" for w in range(writers) for i in range(per_writer)
    )
    by_log: dict[str, list[int]] = {}
    for logged in seen:
        by_log.setdefault(logged.log_name, []).append(logged.position)
    for positions in by_log.values():
        assert positions == sorted(set(positions)), "positions repeat or go backwards"
    # One customer's records keep their order (same partition in Kafka).
    for w in range(writers):
        mine = [
            logged.record.event_id
            for logged in seen
            if logged.record.partition_key.endswith(f"cus_{w}")
        ]
        assert mine == [f"evt_{w * 1000 + i}" for i in range(per_writer)]


def test_replay_reads_the_history_up_to_a_head_then_stops(event_log: EventLog) -> None:
    for n in range(7):
        event_log.append(record(n))
    collect(event_log, 7)  # all durable and visible
    head = event_log.head()
    event_log.append(record(99))  # after the head: not part of this replay
    replayed = [logged for batch in event_log.replay(lambda _: None, head) for logged in batch]
    assert [logged.record.event_id for logged in replayed] == [f"evt_{n}" for n in range(7)]
    middle = replayed[3]
    rest = [
        logged.record.event_id
        for batch in event_log.replay({middle.log_name: middle.position}.get, head)
        for logged in batch
    ]
    assert rest == ["evt_4", "evt_5", "evt_6"]


def test_a_follower_is_visible_while_it_follows(event_log: EventLog) -> None:
    assert not event_log.has_follower()
    event_log.append(record(1))
    stop = threading.Event()
    following = event_log.follow(lambda _: None, stop)
    next(following)
    assert event_log.has_follower()
    stop.set()
    following.close()


def test_a_forgotten_persons_record_keeps_its_facts_only(event_log: EventLog) -> None:
    facts_only = replace(record(1), sealed=None)
    event_log.append(facts_only)
    [logged] = collect(event_log, 1)
    assert logged.record == facts_only
    assert logged.record.is_sealed


def test_records_written_before_sealing_read_as_unsealed(event_log: EventLog) -> None:
    event_log.append(unsealed_record(1))
    event_log.append(record(2))
    first, second = collect(event_log, 2)
    assert first.record == unsealed_record(1)
    assert not first.record.is_sealed
    assert second.record.is_sealed


def test_each_record_keeps_its_source(event_log: EventLog) -> None:
    """Invariant 11: what was not delivered signed says how it entered (listed by a backfill,
    fetched by reconciliation), and no secret verified it; a record of before reads as a
    webhook's."""
    listed = replace(record(1), source=LISTED, verified_with=None)
    fetched = replace(record(2), source=FETCHED, verified_with=None)
    event_log.append(listed)
    event_log.append(fetched)
    event_log.append(record(3))
    first, second, third = collect(event_log, 3)
    assert (first.record, second.record, third.record) == (listed, fetched, record(3))
    assert [r.record.source for r in (first, second, third)] == [LISTED, FETCHED, WEBHOOK]


def test_the_ids_of_events_created_since_a_moment_are_known(event_log: EventLog) -> None:
    for n in range(6):
        event_log.append(record(n))
    collect(event_log, 6)
    since = record(3).created
    assert event_log.event_ids(since) == {"evt_3", "evt_4", "evt_5"}
    assert event_log.event_ids(since + 100) == set()
