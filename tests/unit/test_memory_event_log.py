"""What the in-memory log adds to the EventLog contract (which it passes in tests/integration):
outages and closing, as a caller of a real log would see them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from billing_ledger.eventlog.memory import LOG_NAME, MemoryEventLog
from billing_ledger.eventlog.port import EventRecord, LogUnavailable


def record(n: int) -> EventRecord:
    return EventRecord(
        body=f'{{"id": "evt_{n}"}}'.encode(),
        event_id=f"evt_{n}",
        event_type="customer.updated",
        created=1_767_225_600 + n,
        livemode=False,
        account="",
        api_version=None,
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        partition_key=":false:cus_A",
    )


def test_positions_start_at_one_like_the_postgres_log() -> None:
    event_log = MemoryEventLog()
    assert event_log.head() == {}
    event_log.append(record(1))
    event_log.append(record(2))
    assert [logged.position for logged in event_log.read(0, 10)] == [1, 2]
    assert event_log.read(1, 10)[0].record == record(2)
    assert event_log.head() == {LOG_NAME: 2}


def test_during_an_outage_nothing_is_stored_or_served_and_nothing_is_lost() -> None:
    event_log = MemoryEventLog()
    event_log.append(record(1))
    with event_log.outage():
        with pytest.raises(LogUnavailable):
            event_log.append(record(2))
        for call in (event_log.ping, event_log.head, lambda: event_log.read(0, 10)):
            with pytest.raises(LogUnavailable):
                call()
    event_log.ping()
    assert [logged.record for logged in event_log.read(0, 10)] == [record(1)]


def test_an_outage_stops_a_waiting_follower_with_log_unavailable() -> None:
    event_log = MemoryEventLog()
    stop = threading.Event()
    raised: list[BaseException] = []

    def follow() -> None:
        try:
            for _ in event_log.follow(lambda _: None, stop):
                pass
        except LogUnavailable as e:
            raised.append(e)

    follower = threading.Thread(target=follow)
    follower.start()
    with event_log.outage():
        follower.join(timeout=5)
    stop.set()
    follower.join()
    assert len(raised) == 1
    assert not event_log.has_follower()


def test_a_closed_log_refuses_appends() -> None:
    event_log = MemoryEventLog()
    event_log.close()
    with pytest.raises(LogUnavailable):
        event_log.append(record(1))
