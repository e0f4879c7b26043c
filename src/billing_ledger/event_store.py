"""The event store's infrastructure: eventsourcing's Postgres factory with a cheaper insert.

Same tables, same rows, same semantics as `eventsourcing.postgres.PostgresProcessRecorder`;
only the way domain events travel to the server differs (see `BillingProcessRecorder`).
Chosen by `PERSISTENCE_MODULE` (database.eventsourcing_env), as eventsourcing intends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import PostgresDatastore, PostgresFactory, PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

__all__ = ["BillingPostgresFactory", "BillingProcessRecorder"]


class BillingProcessRecorder(PostgresProcessRecorder):
    """Writes domain events and their tracking record in one transaction, like its parent, but:

    - the events go as four arrays in binary format (ids, versions, topics, states) rather
      than one array of the composite type in text format, which psycopg escaped character by
      character and the server parsed back (most of the write's cost for ~2 KB states);
    - statements run one after another, not in psycopg's pipeline mode, which could hang for
      good on large inserts (client in `Pipeline.sync`, server in ClientRead: psycopg #685).

    Invariants kept from the parent: the table is locked (EXCLUSIVE) before the insert so that
    notification ids are issued in commit order; the channel is notified; a conflicting
    (originator_id, originator_version) or an already recorded tracking position raises
    eventsourcing's IntegrityError and nothing of the transaction is written.
    """

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        self.insert_arrays_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.datastore.enable_db_functions:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        # get_connection() translates psycopg's errors into eventsourcing's.
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                tracking: Tracking | None = kwargs.get("tracking")
                if tracking is not None:
                    self._insert_tracking(curs, tracking=tracking)
                if not stored_events:
                    return None
                self._insert_stored_events(curs, stored_events, **kwargs)
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self.insert_arrays_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            prepare=True,
        )


class BillingPostgresFactory(PostgresFactory):
    """eventsourcing's Postgres factory, building `BillingProcessRecorder`s."""

    process_recorder_class = BillingProcessRecorder
