"""The dead-letter record's contract, run against both adapters (real PostgreSQL, in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from billing_ledger import bootstrap
from billing_ledger.eventlog.dead_letters import DeadLetters
from billing_ledger.eventlog.memory_dead_letters import MemoryDeadLetters
from billing_ledger.eventlog.port import EventRecord, LoggedEvent


@pytest.fixture(params=["postgres", "memory"])
def dead_letters(request: pytest.FixtureRequest) -> Iterator[DeadLetters | MemoryDeadLetters]:
    if request.param == "memory":
        yield MemoryDeadLetters()
        return
    with bootstrap.connection_pool(request.getfixturevalue("database_url"), 1) as pool:
        table = DeadLetters(pool)
        table.create_table()
        yield table


def logged(position: int, body: bytes = b'{"id": "evt_x"}') -> LoggedEvent:
    record = EventRecord(
        body=body,
        event_id=f"evt_{position}",
        event_type="customer.created",
        created=1_767_225_600,
        livemode=False,
        account="",
        api_version=None,
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        partition_key=":false:cus_A",
    )
    return LoggedEvent("stripe_events", position, record)


def test_unapplied_records_are_kept_with_their_position_and_reason(
    dead_letters: DeadLetters | MemoryDeadLetters,
) -> None:
    dead_letters.keep_unapplied([(logged(3, b"first"), "broken"), (logged(5, b"second"), "bug")])
    letters = dead_letters.all()
    assert [
        (x.id, x.source, x.log_name, x.position, x.event_id, x.event_type, x.reason)
        for x in letters
    ] == [
        (1, "processor", "stripe_events", 3, "evt_3", "customer.created", "broken"),
        (2, "processor", "stripe_events", 5, "evt_5", "customer.created", "bug"),
    ]
    assert [dead_letters.body(x) for x in letters] == [b"first", b"second"]
    assert [x.retry_tracking_name() for x in letters] == ["dead-letter:1", "dead-letter:2"]


def test_a_record_is_kept_once_per_position(
    dead_letters: DeadLetters | MemoryDeadLetters,
) -> None:
    dead_letters.keep_unapplied([(logged(3), "broken")])
    dead_letters.keep_unapplied([(logged(3), "broken again"), (logged(4), "also broken")])
    assert [(x.position, x.reason) for x in dead_letters.all()] == [
        (3, "broken"),
        (4, "also broken"),
    ]


def test_rejected_bodies_are_kept_every_time_without_a_position(
    dead_letters: DeadLetters | MemoryDeadLetters,
) -> None:
    dead_letters.keep_rejected(b"[]", "body is not a JSON object")
    dead_letters.keep_rejected(b"[]", "body is not a JSON object")
    letters = dead_letters.all()
    assert [(x.source, x.log_name, x.position, x.event_id) for x in letters] == [
        ("ingest", None, None, None)
    ] * 2
    assert dead_letters.body(letters[0]) == b"[]"
