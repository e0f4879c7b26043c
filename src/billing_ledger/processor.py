"""The processor: log of record → aggregates, with the log position tracked in the same
transaction as the domain events it caused (exactly once, whatever crashes or redeliveries).

Records are applied in batches of one log name; aggregates touched twice in a batch are kept in
memory between the two, and the batch is written with the position of its last record. A record
that cannot be understood goes to the dead-letter table with its reason and the batch goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, PersistenceError, Tracking
from psycopg_pool import ConnectionPool

from billing_ledger.application import BillingApplication
from billing_ledger.domain.handling import (
    IGNORED_EVENT_TYPES,
    A,
    UnprocessableEvent,
    apply_stripe_event,
    is_handled,
)
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.eventlog.port import EventLog, LoggedEvent, LogUnavailable
from billing_ledger.metrics import EVENTS_PROCESSED, UNHANDLED_EVENT_TYPES
from billing_ledger.schemas.envelope import MalformedEvent, parse_event

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# Records per transaction. Each record's domain events carry whole Stripe snapshots (several
# KB); eventsourcing writes them in one psycopg pipeline, which can deadlock on a few MB of
# parameters (psycopg/psycopg#685): 500 realistic records hung the processor for good.
BATCH_SIZE = 100

DEAD_LETTERS_DDL = """
CREATE TABLE IF NOT EXISTS eventlog.dead_letters (
    id bigserial PRIMARY KEY,
    log_name text,
    position bigint,
    event_id text,
    event_type text,
    reason text NOT NULL,
    body bytea NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (log_name, position)
)
"""
INSERT_DEAD_LETTER = """
INSERT INTO eventlog.dead_letters (log_name, position, event_id, event_type, reason, body)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (log_name, position) DO NOTHING
"""


class Processor:
    def __init__(self, app: BillingApplication, log_: EventLog, pool: ConnectionPool) -> None:
        self._app = app
        self._log = log_
        self._pool = pool

    def create_tables(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS eventlog")
            conn.execute(DEAD_LETTERS_DDL)

    def processed(self, log_name: str) -> int | None:
        """The last position of `log_name` whose effects are recorded."""
        return self._app.process_recorder.max_tracking_id(log_name)

    def run(self, stop: threading.Event) -> None:
        """Follow the log until `stop` is set; outages are waited out, never fatal."""
        while not stop.is_set():
            try:
                for batch in self._log.follow(self.processed, stop, BATCH_SIZE):
                    self.process(batch)
            except (LogUnavailable, PersistenceError, psycopg.OperationalError) as e:
                # A conflicting writer (IntegrityError) or an outage: start again from the
                # positions of record once things answer.
                log.warning("processor paused: %s: %s", type(e).__name__, e)
                stop.wait(RETRY_SECONDS)
            except Exception:
                log.exception("processor failed; retrying from the positions of record")
                stop.wait(RETRY_SECONDS)

    def process(self, batch: list[LoggedEvent]) -> None:
        """Apply one batch of one log name; its effects and its last position commit together."""
        touched: dict[UUID, StripeObject] = {}

        def load(cls: type[A], aggregate_id: UUID) -> A | None:
            cached = touched.get(aggregate_id)
            if cached is not None:
                assert isinstance(cached, cls)
                return cached
            return self._app.load(cls, aggregate_id)

        dead: list[tuple[LoggedEvent, str]] = []
        outcomes: list[str] = []
        for logged in batch:
            try:
                outcome = self._apply(logged, load, touched)
            except (MalformedEvent, UnprocessableEvent) as e:
                dead.append((logged, e.reason))
                outcome = "dead_lettered"
            except Exception as e:  # a bug must not stop the pipeline: keep the record aside
                log.exception("cannot apply %s", logged.record.event_id)
                dead.append((logged, f"internal error: {type(e).__name__}"))
                outcome = "dead_lettered"
            outcomes.append(outcome)

        if dead:
            self._dead_letter(dead)
        pending = [event for aggregate in touched.values() for event in aggregate.collect_events()]
        last = batch[-1]
        try:
            self._app.events.put(pending, tracking=Tracking(last.log_name, last.position))
        except IntegrityError:
            log.warning("%s up to %s was already processed elsewhere", last.log_name, last.position)
            raise
        for outcome in outcomes:
            EVENTS_PROCESSED.labels(outcome).inc()

    def _apply(self, logged: LoggedEvent, load: Any, touched: dict[UUID, StripeObject]) -> str:
        event = parse_event(logged.record.body)
        if event.type in IGNORED_EVENT_TYPES:
            return "ignored"
        if not is_handled(event.type):
            UNHANDLED_EVENT_TYPES.labels(event.type).inc()
            return "unhandled"
        pending_before = sum(len(a.pending_events) for a in touched.values())
        for aggregate in apply_stripe_event(event, load):
            touched[aggregate.id] = aggregate
        pending_after = sum(len(a.pending_events) for a in touched.values())
        return "applied" if pending_after > pending_before else "unchanged"

    def _dead_letter(self, dead: list[tuple[LoggedEvent, str]]) -> None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                INSERT_DEAD_LETTER,
                [
                    (
                        logged.log_name,
                        logged.position,
                        logged.record.event_id,
                        logged.record.event_type,
                        reason,
                        logged.record.body,
                    )
                    for logged, reason in dead
                ],
            )
        for logged, reason in dead:
            log.warning(
                "dead-lettered %s at %s:%s: %s",
                logged.record.event_id,
                logged.log_name,
                logged.position,
                reason,
            )
