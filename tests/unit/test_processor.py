"""The processor on the in-memory log, store and dead letters: batching and commits, exactly
once, the aggregate cache, dead-letter rules, retries of dead letters, and `run`'s outages.

No server: tests/integration/test_processor.py proves the same pipeline against PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError

from billing_ledger import bootstrap
from billing_ledger.bootstrap import MemoryProcessing
from billing_ledger.domain import frontier
from billing_ledger.domain.customer import Customer
from billing_ledger.domain.errors import UnprocessableEvent
from billing_ledger.domain.handling import apply_stripe_event
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.eventlog.memory import LOG_NAME
from billing_ledger.eventlog.port import EventRecord, LoggedEvent, LogUnavailable
from billing_ledger.infra.metrics import REGISTRY
from billing_ledger.processing import processor as processor_module
from billing_ledger.processing.processor import AlreadyReapplied
from billing_ledger.schemas.envelope import parse_event
from tests.support.stripe import CREATED, customer, event, invoice
from tests.support.webhooks import body_of

PROCESSOR_LOGGER = "billing_ledger.processing.processor"
UNREADABLE_SUBSCRIPTION = (
    "customer.subscription.created: unreadable Subscription (created, customer, status)"
)


@pytest.fixture
def parts() -> Iterator[MemoryProcessing]:
    built = bootstrap.memory_processing()
    yield built
    built.app.close()


def deliver(parts: MemoryProcessing, document: dict[str, Any] | bytes) -> LoggedEvent:
    """Append `document` (or raw bytes) to the log as ingest would; the record as logged."""
    body = document if isinstance(document, bytes) else body_of(document)
    try:
        parsed = parse_event(body)
        event_id, event_type, at = parsed.id, parsed.type, parsed.created
    except Exception:
        event_id, event_type, at = "evt_unparseable", "unknown", 0
    record = EventRecord(body, event_id, event_type, at, False, "", None, datetime.now(UTC), "k")
    parts.event_log.append(record)
    [logged] = parts.event_log.read(parts.event_log.head()[LOG_NAME] - 1, 1)
    return logged


def created(customer_id: str) -> dict[str, Any]:
    return event("customer.created", customer(customer_id))


def updated(
    customer_id: str, at: int, event_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    return event("customer.updated", customer(customer_id, **fields), created=at, event_id=event_id)


def unreadable_subscription() -> dict[str, Any]:
    subscription = {"id": "sub_X", "object": "subscription"}
    return event("customer.subscription.created", subscription, event_id="evt_unreadable")


def unprocessed(parts: MemoryProcessing) -> list[LoggedEvent]:
    return parts.event_log.read(parts.processor.processed(LOG_NAME) or 0, 500)


def stored_events(parts: MemoryProcessing) -> int:
    return parts.app.recorder.max_notification_id() or 0


def state(parts: MemoryProcessing, customer_id: str) -> tuple[int, dict[str, Any]]:
    """The stored customer's version and state (read from the store, not the cache)."""
    aggregate: Any = parts.app.repository.get(stripe_uuid("", False, customer_id))
    return aggregate.version, aggregate.state


def commits(caplog: pytest.LogCaptureFixture) -> list[tuple[int, dict[str, int]]]:
    """(position, outcomes) of each commit, from its INFO line."""
    return [
        (getattr(r, "position"), getattr(r, "outcomes"))  # noqa: B009
        for r in caplog.records
        if r.name == PROCESSOR_LOGGER and r.getMessage() == "events processed"
    ]


def count_loads(parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids the processor loads from the store from now on."""
    loaded: list[UUID] = []
    real = parts.app.load

    def load(cls: Any, aggregate_id: UUID) -> Any:
        loaded.append(aggregate_id)
        return real(cls, aggregate_id)

    monkeypatch.setattr(parts.app, "load", load)
    return loaded


def fail_commit(parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch, call: int = 1) -> None:
    """The store fails the `call`-th write from now on (the others go through)."""
    real = parts.app.events.put
    calls = 0

    def put(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            raise PersistenceError("the store went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(parts.app.events, "put", put)


def break_apply(
    monkeypatch: pytest.MonkeyPatch, event_id: str, *, after_the_change: bool = False
) -> None:
    """A bug in the domain code for one event: it raises (after changing its aggregates)."""

    def apply(event: Any, load: Any, owned: Any = None) -> Any:
        if event.id != event_id:
            return apply_stripe_event(event, load, owned)
        if after_the_change:
            apply_stripe_event(event, load, owned)
        raise RuntimeError("a bug")

    monkeypatch.setattr(processor_module, "apply_stripe_event", apply)


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- batching and commits ------------------------------------------------------------------


def test_a_batch_commits_once_with_the_position_of_its_last_record(
    parts: MemoryProcessing, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(parts, created("cus_A"))
    deliver(parts, created("cus_B"))
    deliver(parts, event("issuing.card.created", {"id": "ic_1", "object": "issuing.card"}))
    with caplog.at_level(logging.INFO, logger=PROCESSOR_LOGGER):
        parts.processor.process(unprocessed(parts))
    assert commits(caplog) == [(3, {"applied": 2, "unhandled": 1})]
    assert parts.processor.processed(LOG_NAME) == 3
    assert stored_events(parts) == 2


def test_a_large_batch_commits_in_chunks_each_with_the_position_it_reached(
    parts: MemoryProcessing, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_module, "MAX_EVENTS_PER_COMMIT", 3)
    for n in range(7):
        deliver(parts, created(f"cus_{n}"))
    with caplog.at_level(logging.INFO, logger=PROCESSOR_LOGGER):
        parts.processor.process(unprocessed(parts))
    assert [position for position, _ in commits(caplog)] == [3, 6, 7]
    assert stored_events(parts) == 7


def test_a_failed_chunk_keeps_the_chunks_before_it_and_the_retry_resumes_after_them(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_module, "MAX_EVENTS_PER_COMMIT", 3)
    for n in range(7):
        deliver(parts, created(f"cus_{n}"))
    fail_commit(parts, monkeypatch, call=2)
    with pytest.raises(PersistenceError):
        parts.processor.process(unprocessed(parts))
    assert parts.processor.processed(LOG_NAME) == 3
    assert stored_events(parts) == 3
    parts.processor.process(unprocessed(parts))
    assert parts.processor.processed(LOG_NAME) == 7
    assert [state(parts, f"cus_{n}")[0] for n in range(7)] == [1] * 7


# --- exactly once --------------------------------------------------------------------------


def test_a_redelivered_batch_is_refused_whole_and_changes_nothing(
    parts: MemoryProcessing,
) -> None:
    deliver(parts, created("cus_A"))
    deliver(parts, b"not json")
    batch = unprocessed(parts)
    parts.processor.process(batch)
    with pytest.raises(IntegrityError):
        parts.processor.process(batch)  # its position is recorded already
    assert stored_events(parts) == 1
    assert parts.processor.processed(LOG_NAME) == 2
    assert len(parts.dead_letters.all()) == 1


def test_a_replay_applies_only_what_follows_the_tracked_position(
    parts: MemoryProcessing,
) -> None:
    for n in range(4):
        deliver(parts, created(f"cus_{n}"))
    parts.processor.process(parts.event_log.read(0, 2))
    head = parts.event_log.head()
    replayed = list(parts.event_log.replay(parts.processor.processed, head))
    assert [logged.position for batch in replayed for logged in batch] == [3, 4]
    for batch in replayed:
        parts.processor.process(batch)
    assert list(parts.event_log.replay(parts.processor.processed, head)) == []
    assert stored_events(parts) == 4


def test_an_event_stripe_sends_twice_is_applied_once_and_both_positions_are_tracked(
    parts: MemoryProcessing, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(parts, created("cus_A"))
    deliver(parts, created("cus_A"))
    with caplog.at_level(logging.INFO, logger=PROCESSOR_LOGGER):
        parts.processor.process(unprocessed(parts))
    assert commits(caplog) == [(2, {"applied": 1, "unchanged": 1})]
    assert stored_events(parts) == 1


# --- the aggregate cache -------------------------------------------------------------------


def test_an_aggregate_touched_twice_in_a_batch_is_loaded_once(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = count_loads(parts, monkeypatch)
    deliver(parts, created("cus_A"))
    deliver(parts, updated("cus_A", 1_767_225_700, email="new@example.com"))
    parts.processor.process(unprocessed(parts))
    assert loads == [stripe_uuid("", False, "cus_A")]
    version, customer_state = state(parts, "cus_A")
    assert (version, customer_state["email"]) == (2, "new@example.com")


def test_an_aggregate_a_batch_committed_comes_from_the_cache_in_the_next(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(parts, created("cus_A"))
    parts.processor.process(unprocessed(parts))
    loads = count_loads(parts, monkeypatch)
    deliver(parts, updated("cus_A", 1_767_225_700, email="new@example.com"))
    parts.processor.process(unprocessed(parts))
    assert loads == []
    assert state(parts, "cus_A")[0] == 2


def test_a_snapshot_older_than_the_frontier_loads_the_aggregate_from_all_its_events(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Updates further apart than the window, the aggregate then loaded from its snapshot; in
    one batch, an update (pending) and a deletion older than the frontier: the aggregate is
    loaded from its stored events and the pending one, and ends as one held whole did."""
    apart = frontier.WINDOW + 1
    history = [created("cus_A")] + [
        updated("cus_A", CREATED + n * apart, name=f"Name {n}") for n in range(1, 12)
    ]
    late = [
        updated("cus_A", CREATED + 12 * apart, name="Name 12"),
        event("customer.deleted", customer("cus_A"), created=CREATED + apart // 2),
    ]
    for document in history:
        deliver(parts, document)
    parts.processor.process(unprocessed(parts))
    parts.processor._cache.clear()  # the next load comes from the aggregate's snapshot
    whole: list[UUID] = []
    real = parts.app.from_events

    def from_events(aggregate_id: UUID) -> object | None:
        whole.append(aggregate_id)
        return real(aggregate_id)

    monkeypatch.setattr(parts.app, "from_events", from_events)
    for document in late:
        deliver(parts, document)
    parts.processor.process(unprocessed(parts))
    assert whole == [stripe_uuid("", False, "cus_A")]
    cached = bootstrap.memory_processing()  # the same deliveries, the aggregate held whole
    try:
        for batch in (history, late):
            for document in batch:
                deliver(cached, document)
            cached.processor.process(unprocessed(cached))
        # Loaded as the processor loads (a raw repository.get would raise WholeHistoryNeeded).
        ours, theirs = (
            p.app.load(Customer, stripe_uuid("", False, "cus_A")) for p in (parts, cached)
        )
        assert ours is not None and theirs is not None
        assert (ours.version, ours.state) == (theirs.version, theirs.state)
        assert ours.state["deleted_at"] == CREATED + apart // 2
    finally:
        cached.app.close()


def test_an_error_empties_the_cache_so_the_retry_reloads_from_the_store(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(parts, created("cus_A"))
    parts.processor.process(unprocessed(parts))
    deliver(parts, updated("cus_A", 1_767_225_700, email="new@example.com"))
    fail_commit(parts, monkeypatch)
    with pytest.raises(PersistenceError):
        parts.processor.process(unprocessed(parts))
    loads = count_loads(parts, monkeypatch)
    parts.processor.process(unprocessed(parts))
    assert loads == [stripe_uuid("", False, "cus_A")]
    version, customer_state = state(parts, "cus_A")
    assert (version, customer_state["email"]) == (2, "new@example.com")


def test_an_aggregate_another_writer_changed_conflicts_then_is_reloaded_not_overwritten(
    parts: MemoryProcessing,
) -> None:
    deliver(parts, created("cus_A"))
    parts.processor.process(unprocessed(parts))
    renamed = deliver(parts, updated("cus_A", 1_767_225_700, email="renamed@example.com"))
    deliver(parts, updated("cus_A", 1_767_225_800, email="renamed@example.com", name="New"))
    other = bootstrap.memory_processing(parts.app)  # a dead letter's retry, say
    assert other.processor.reapply(renamed, "dead-letter:1") == "applied"
    with pytest.raises(IntegrityError):
        parts.processor.process(unprocessed(parts))  # its cached customer is a version behind
    parts.processor.process(unprocessed(parts))
    assert parts.processor.processed(LOG_NAME) == 3
    version, customer_state = state(parts, "cus_A")
    assert (version, customer_state["email"], customer_state["name"]) == (
        3,
        "renamed@example.com",
        "New",
    )


def test_an_event_that_fails_after_changing_a_cached_aggregate_leaves_no_trace(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(parts, created("cus_A"))
    parts.processor.process(unprocessed(parts))  # cus_A is in the cache now
    break_apply(monkeypatch, "evt_bad", after_the_change=True)
    deliver(parts, updated("cus_A", 1_767_225_700, "evt_bad", email="bad@example.com"))
    deliver(parts, updated("cus_A", 1_767_225_800, name="Renamed"))
    parts.processor.process(unprocessed(parts))
    deliver(parts, updated("cus_A", 1_767_225_900, name="Renamed again"))
    parts.processor.process(unprocessed(parts))
    version, customer_state = state(parts, "cus_A")
    assert (version, customer_state["email"], customer_state["name"]) == (
        3,
        "cus_a@example.com",
        "Renamed again",
    )
    assert [letter.reason for letter in parts.dead_letters.all()] == [
        "internal error: RuntimeError"
    ]


def test_an_event_that_fails_after_changing_an_aggregate_of_its_own_batch_leaves_no_trace(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_apply(monkeypatch, "evt_bad", after_the_change=True)
    deliver(parts, created("cus_A"))
    deliver(parts, updated("cus_A", 1_767_225_700, "evt_bad", email="bad@example.com"))
    parts.processor.process(unprocessed(parts))
    assert state(parts, "cus_A")[1]["email"] == "cus_a@example.com"


def test_after_a_failed_change_the_batch_goes_on_from_what_the_store_holds(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    break_apply(monkeypatch, "evt_bad", after_the_change=True)
    deliver(parts, created("cus_A"))
    deliver(parts, updated("cus_A", 1_767_225_700, "evt_bad", email="bad@example.com"))
    deliver(parts, updated("cus_A", 1_767_225_800, "evt_good", email="good@example.com"))
    with caplog.at_level(logging.INFO, logger=PROCESSOR_LOGGER):
        parts.processor.process(unprocessed(parts))
    version, stored = state(parts, "cus_A")
    assert (version, stored["email"]) == (2, "good@example.com")
    assert stored_events(parts) == 2  # created, then the good update: nothing of the bad one
    assert [x.event_id for x in parts.dead_letters.all()] == ["evt_bad"]
    # What came before the failed record commits at once, without it; the rest after it.
    assert commits(caplog) == [(1, {"applied": 1}), (3, {"dead_lettered": 1, "applied": 1})]


# --- dead letters --------------------------------------------------------------------------


def test_records_that_cannot_be_applied_are_dead_lettered_and_the_batch_goes_on(
    parts: MemoryProcessing, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_apply(monkeypatch, "evt_bug")
    deliver(parts, b"not json")
    deliver(parts, b'{"not": "an event"}')
    deliver(parts, unreadable_subscription())
    deliver(parts, event("customer.created", customer("cus_Bug"), event_id="evt_bug"))
    deliver(parts, created("cus_After"))
    with caplog.at_level(logging.INFO, logger=PROCESSOR_LOGGER):
        parts.processor.process(unprocessed(parts))
    assert [(x.position, x.event_id, x.reason) for x in parts.dead_letters.all()] == [
        (1, "evt_unparseable", "body is not valid JSON"),
        (2, "evt_unparseable", "not a Stripe event: invalid created, data, id, livemode, type"),
        (3, "evt_unreadable", UNREADABLE_SUBSCRIPTION),
        (4, "evt_bug", "internal error: RuntimeError"),
    ]
    assert commits(caplog) == [(5, {"dead_lettered": 4, "applied": 1})]
    assert state(parts, "cus_After")[0] == 1
    assert stored_events(parts) == 1


def test_a_snapshot_contradicting_a_terminal_state_is_dead_lettered_with_why(
    parts: MemoryProcessing,
) -> None:
    paid = invoice(status="paid", amount_paid=2000)
    deliver(parts, event("invoice.paid", paid, created=500))
    deliver(parts, event("invoice.deleted", invoice(status="draft"), created=500))
    parts.processor.process(unprocessed(parts))
    assert [(x.position, x.event_type, x.reason) for x in parts.dead_letters.all()] == [
        (2, "invoice.deleted", "invoice.deleted contradicts terminal state paid of in_Test1")
    ]
    aggregate: Any = parts.app.repository.get(stripe_uuid("", False, "in_Test1"))
    assert (aggregate.version, aggregate.state["status"]) == (1, "paid")


def test_unknown_event_types_are_counted_and_skipped(parts: MemoryProcessing) -> None:
    def unknown() -> float:
        sample = REGISTRY.get_sample_value(
            "billing_ledger_unhandled_event_types_total", {"event_type": "issuing.card.created"}
        )
        return sample or 0.0

    before = unknown()
    deliver(parts, event("issuing.card.created", {"id": "ic_1", "object": "issuing.card"}))
    parts.processor.process(unprocessed(parts))
    assert unknown() == before + 1
    assert parts.processor.processed(LOG_NAME) == 1
    assert stored_events(parts) == 0
    assert parts.dead_letters.all() == []


def test_ignored_event_types_are_skipped_and_not_counted_as_unknown(
    parts: MemoryProcessing, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(parts, event("invoice.upcoming", {"object": "invoice"}, event_id="evt_upcoming"))
    with caplog.at_level(logging.INFO, logger=PROCESSOR_LOGGER):
        parts.processor.process(unprocessed(parts))
    assert commits(caplog) == [(1, {"ignored": 1})]
    unknown = REGISTRY.get_sample_value(
        "billing_ledger_unhandled_event_types_total", {"event_type": "invoice.upcoming"}
    )
    assert unknown is None
    assert stored_events(parts) == 0
    assert parts.dead_letters.all() == []


def test_a_batch_retried_after_a_failed_commit_keeps_its_dead_letters_once(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(parts, b"not json")
    deliver(parts, created("cus_A"))
    fail_commit(parts, monkeypatch)
    with pytest.raises(PersistenceError):
        parts.processor.process(unprocessed(parts))
    assert parts.processor.processed(LOG_NAME) is None
    parts.processor.process(unprocessed(parts))
    assert [letter.position for letter in parts.dead_letters.all()] == [1]
    assert parts.processor.processed(LOG_NAME) == 2


def test_a_dead_letter_record_that_is_down_stops_the_batch_before_its_position_is_tracked(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(dead: Any) -> None:
        raise LogUnavailable("dead-letter record unavailable")

    deliver(parts, b"not json")
    deliver(parts, created("cus_A"))
    monkeypatch.setattr(parts.dead_letters, "keep_unapplied", down)
    with pytest.raises(LogUnavailable):
        parts.processor.process(unprocessed(parts))
    assert parts.processor.processed(LOG_NAME) is None
    assert stored_events(parts) == 0
    monkeypatch.undo()
    parts.processor.process(unprocessed(parts))
    assert [letter.position for letter in parts.dead_letters.all()] == [1]
    assert stored_events(parts) == 1


# --- retrying a dead letter ----------------------------------------------------------------


def test_a_dead_letter_is_reapplied_at_most_once(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_apply(monkeypatch, "evt_bug")
    logged = deliver(parts, event("customer.created", customer("cus_A"), event_id="evt_bug"))
    parts.processor.process(unprocessed(parts))
    [letter] = parts.dead_letters.all()
    monkeypatch.undo()  # the fix
    name = letter.retry_tracking_name()
    assert parts.processor.reapply(logged, name) == "applied"
    with pytest.raises(AlreadyReapplied):
        parts.processor.reapply(logged, name)
    with pytest.raises(AlreadyReapplied):
        bootstrap.memory_processing(parts.app).processor.reapply(logged, name)
    assert stored_events(parts) == 1


def test_a_dead_letter_that_still_fails_can_be_retried_again(parts: MemoryProcessing) -> None:
    logged = deliver(parts, unreadable_subscription())
    parts.processor.process(unprocessed(parts))
    [letter] = parts.dead_letters.all()
    for _ in range(2):  # not recorded as retried: the next attempt runs again
        with pytest.raises(UnprocessableEvent):
            parts.processor.reapply(logged, letter.retry_tracking_name())


# --- run -----------------------------------------------------------------------------------


@contextmanager
def running(parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`parts.processor.run` in a thread, retrying every 10 ms, until the block ends."""
    monkeypatch.setattr(processor_module, "RETRY_SECONDS", 0.01)
    stop = threading.Event()
    runner = threading.Thread(target=parts.processor.run, args=(stop,))
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive(), "run did not return once stop was set"


def test_run_waits_out_an_unavailable_log_then_carries_on(
    parts: MemoryProcessing, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caplog.at_level(logging.WARNING, logger=PROCESSOR_LOGGER), running(parts, monkeypatch):
        eventually(parts.event_log.has_follower)
        with parts.event_log.outage():
            paused = "processor paused: LogUnavailable"
            eventually(lambda: caplog.messages.count(paused) >= 2)  # tried again, still waits
        deliver(parts, created("cus_A"))
        deliver(parts, created("cus_B"))
        eventually(lambda: parts.processor.processed(LOG_NAME) == 2)
    assert stored_events(parts) == 2


def test_run_waits_out_a_failing_store_and_applies_everything_once(
    parts: MemoryProcessing, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_commit(parts, monkeypatch)
    for n in range(3):
        deliver(parts, created(f"cus_{n}"))
    with running(parts, monkeypatch):
        eventually(lambda: parts.processor.processed(LOG_NAME) == 3)
    assert [state(parts, f"cus_{n}")[0] for n in range(3)] == [1] * 3
