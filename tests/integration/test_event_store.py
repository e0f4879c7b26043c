"""The billing recorder keeps eventsourcing's process-recorder contract, at any commit size."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from billing_ledger.processing.event_store import BillingProcessRecorder
from tests.pipeline import Pipeline


@pytest.fixture
def recorder(pipeline: Pipeline) -> BillingProcessRecorder:
    recorder = pipeline.app.process_recorder
    assert isinstance(recorder, BillingProcessRecorder)
    return recorder


def stored(n: int) -> list[StoredEvent]:
    # ~2 KB states with the characters text formats must escape (quotes, backslashes, braces).
    state = b'{"k":"' + b'\\"{},\x01' * 340 + b'"}'
    return [StoredEvent(uuid4(), 1, "tests:Event", state) for _ in range(n)]


def test_a_large_commit_is_written_whole_in_order(recorder: BillingProcessRecorder) -> None:
    events = stored(1_500)  # eventsourcing's pipelined insert hung from ~500 of these
    ids = recorder.insert_events(events, tracking=Tracking("log", 7))
    assert ids == list(range(1, 1_501))
    notifications = recorder.select_notifications(start=1, limit=2_000)
    assert [(n.originator_id, n.state) for n in notifications] == [
        (e.originator_id, e.state) for e in events
    ]
    assert recorder.max_tracking_id("log") == 7


def test_a_conflicting_version_writes_nothing(recorder: BillingProcessRecorder) -> None:
    first = stored(1)
    recorder.insert_events(first, tracking=Tracking("log", 1))
    with pytest.raises(IntegrityError):
        recorder.insert_events([*stored(2), *first], tracking=Tracking("log", 2))
    assert recorder.max_tracking_id("log") == 1
    assert recorder.max_notification_id() == 1


def test_a_recorded_position_writes_nothing(recorder: BillingProcessRecorder) -> None:
    recorder.insert_events(stored(1), tracking=Tracking("log", 5))
    with pytest.raises(IntegrityError):
        recorder.insert_events(stored(3), tracking=Tracking("log", 5))
    assert recorder.max_notification_id() == 1


def test_tracking_alone_is_recorded(recorder: BillingProcessRecorder) -> None:
    assert recorder.insert_events([], tracking=Tracking("log", 3)) is None
    assert recorder.max_tracking_id("log") == 3
