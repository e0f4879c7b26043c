"""The event-sourced application holding every aggregate (eventsourcing, Postgres store)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.postgres import PostgresRecorder
from psycopg.sql import SQL, Identifier

from billing_ledger.domain.errors import WholeHistoryNeeded
from billing_ledger.domain.handling import A
from billing_ledger.processing.snapshots import StaleSnapshot

EVENT_STORE_SCHEMA = "eventstore"


class BillingApplication(Application[UUID]):
    """Aggregates of every Stripe object, and tracking of how far each log has been applied.

    Its recorder is a process recorder so that the domain events caused by a log record and the
    record's position (tracking) are written in one transaction: effects happen exactly once.
    """

    name = "billing"
    # Loads start from the latest snapshot (snapshots.py), which the processor writes.
    is_snapshotting_enabled = True

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def process_recorder(self) -> ProcessRecorder:
        recorder = self.recorder
        assert isinstance(recorder, ProcessRecorder)
        return recorder

    def load(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        except (StaleSnapshot, WholeHistoryNeeded):
            # Another format, or an event after the snapshot older than what it kept.
            aggregate = self.from_events(aggregate_id)
            if aggregate is None:
                return None
        if not isinstance(aggregate, cls):
            raise TypeError(f"aggregate {aggregate_id} is a {type(aggregate).__name__}")
        return aggregate

    def from_events(self, aggregate_id: UUID) -> object | None:
        """The aggregate from all its events, ignoring snapshots: its parts' whole histories
        are then in memory (domain/frontier.py)."""
        aggregate: object | None = None
        for event in self.events.get(aggregate_id):
            aggregate = cast("Any", event).mutate(aggregate)
        return aggregate

    def existing(self, aggregate_ids: Collection[UUID]) -> set[UUID]:
        """Which of `aggregate_ids` have events in the store, in one query (all of them, as far
        as the caller can tell, when the store is not Postgres).

        One probe of the primary key per id, stopping at its first version. The query is
        written so that no plan depends on the table's statistics: the store's table has none
        while the processor is busy (its EXCLUSIVE lock per commit cancels every autovacuum and
        autoanalyze of it), and `originator_id = ANY(...)` was then planned as a sequential
        scan of the whole store per batch, a cost that grew with the history."""
        recorder = self.recorder
        if not aggregate_ids or not isinstance(recorder, PostgresRecorder):
            return set(aggregate_ids)
        statement = SQL(
            "SELECT k.id AS originator_id FROM unnest(%s::uuid[]) AS k(id) "
            "WHERE EXISTS (SELECT FROM {}.{} e WHERE e.originator_id = k.id)"
        ).format(
            Identifier(recorder.datastore.schema),
            Identifier(getattr(recorder, "events_table_name")),  # noqa: B009
        )
        with recorder.datastore.transaction(commit=False) as cur:
            cur.execute(statement, (list(aggregate_ids),))
            return {row["originator_id"] for row in cur.fetchall()}
