"""The event-sourced application holding every aggregate (eventsourcing, Postgres store)."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.postgres import PostgresRecorder
from psycopg.sql import SQL, Identifier

from billing_ledger.domain.handling import A

EVENT_STORE_SCHEMA = "eventstore"


class BillingApplication(Application[UUID]):
    """Aggregates of every Stripe object, and tracking of how far each log has been applied.

    Its recorder is a process recorder so that the domain events caused by a log record and the
    record's position (tracking) are written in one transaction: effects happen exactly once.
    """

    name = "billing"

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
        if not isinstance(aggregate, cls):
            raise TypeError(f"aggregate {aggregate_id} is a {type(aggregate).__name__}")
        return aggregate

    def existing(self, aggregate_ids: Collection[UUID]) -> set[UUID]:
        """Which of `aggregate_ids` have events in the store, in one query (all of them, as far
        as the caller can tell, when the store is not Postgres)."""
        recorder = self.recorder
        if not aggregate_ids or not isinstance(recorder, PostgresRecorder):
            return set(aggregate_ids)
        statement = SQL(
            "SELECT DISTINCT originator_id FROM {}.{} WHERE originator_id = ANY(%s)"
        ).format(
            Identifier(recorder.datastore.schema),
            Identifier(getattr(recorder, "events_table_name")),  # noqa: B009
        )
        with recorder.datastore.transaction(commit=False) as cur:
            cur.execute(statement, (list(aggregate_ids),))
            return {row["originator_id"] for row in cur.fetchall()}
