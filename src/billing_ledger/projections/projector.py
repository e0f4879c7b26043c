"""The projector worker: domain events (the application's notification log) → read schema.

One projector runs every projection of a read schema in one pass: each batch of notifications
is read and decoded once and handed to each projection still behind it. Each projection keeps
its own position in `{schema}.projection_tracking`, committed in the same transaction as the
rows the batch wrote: a crash replays at most the uncommitted batch, and applying it again gives
the same rows. A projection whose position was moved back (or one added later) is caught up from
its own position while the others skip what they already have. The tracking lives inside the
read schema it describes, so a schema rebuilt elsewhere carries its own positions with it.

Each projection names the domain events it `reads`: a notification of a topic none of them
reads is not decoded (decoding is most of a batch's CPU), though every position still moves past
it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresRecorder
from eventsourcing.utils import resolve_topic
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from billing_ledger.infra.metrics import PROJECTOR_LAG, PROJECTOR_POSITION
from billing_ledger.processing.application import BillingApplication
from billing_ledger.projections.sqltext import in_schema

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.1
RETRY_SECONDS = 1.0
BATCH_SIZE = 500
# A batch's statements are pipelined (sent without waiting for each answer); the pipeline is
# synced every SYNC_EVERY notifications so that what is in flight stays small: psycopg's pipeline
# mode was seen to hang for good on ~1 MB of unsynced inserts (see processor.py).
SYNC_EVERY = 25

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.projection_tracking (
    projection text PRIMARY KEY,
    position bigint NOT NULL
)
"""
START_POSITION = """
INSERT INTO {schema}.projection_tracking (projection, position) VALUES (%s, 0)
ON CONFLICT (projection) DO NOTHING
"""
READ_POSITIONS = (
    "SELECT projection, position FROM {schema}.projection_tracking "
    "WHERE projection = ANY(%s) ORDER BY projection"
)
LOCK_POSITIONS = READ_POSITIONS + " FOR UPDATE"
WRITE_POSITION = "UPDATE {schema}.projection_tracking SET position = %s WHERE projection = %s"
# The notification log's rows after a position, as the recorder's `select_notifications` reads
# them, but as plain tuples in binary format on the projector's own connection (its dict rows,
# copies of each state and Notification objects were a tenth of a rebuild's CPU).
NOTIFICATIONS = (
    "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
    "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
)


class _Stored(NamedTuple):
    """What the mapper reads of a stored event (eventsourcing's StoredEvent, as a tuple)."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class _Batch(NamedTuple):
    """The notifications after a position: how many, the last id, and the id and domain event
    of each one some projection reads."""

    size: int
    last: int
    ids: list[int]
    events: list[object]


class StopSignal(Protocol):
    """What a worker loop waits on: a threading.Event, or a multiprocessing one."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Projection(Protocol):
    """Turns domain events into rows. `project` runs inside the projector's transaction and must
    derive every value from the event (no clock), so a replay writes the same rows."""

    name: str

    @property
    def reads(self) -> tuple[type, ...]:
        """The domain event classes it projects (their subclasses too). A notification that no
        projection of the projector reads is never decoded; one that another reads may still be
        handed to this one, which ignores it."""
        ...

    def prepare(self, cur: psycopg.Cursor[Any], events: Sequence[object]) -> None:
        """Called once per batch with all its events, before any is projected (to read ahead
        what they need in one round trip)."""

    def project(self, cur: psycopg.Cursor[Any], event: object) -> None: ...

    def flush(self, cur: psycopg.Cursor[Any]) -> None:
        """Called once per batch, after its events and before its position is written."""


class Projector:
    """Runs the projections of one read schema over the notification log, in one pass."""

    def __init__(
        self,
        app: BillingApplication,
        pool: ConnectionPool,
        schema: str,
        projections: Sequence[Projection],
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._app = app
        self._batch_size = batch_size
        self._pool = pool
        self.schema = schema
        self._projections = list(projections)
        self._reads = tuple({cls for projection in projections for cls in projection.reads})
        self._is_read: dict[str, bool] = {}  # by topic
        self._ddl = in_schema(TRACKING_DDL, schema)
        self._start = in_schema(START_POSITION, schema)
        self._read = in_schema(READ_POSITIONS, schema)
        self._lock = in_schema(LOCK_POSITIONS, schema)
        self._write = in_schema(WRITE_POSITION, schema)
        recorder = app.recorder
        self._notifications = (
            SQL(NOTIFICATIONS)
            .format(
                Identifier(recorder.datastore.schema),
                Identifier(getattr(recorder, "events_table_name")),  # noqa: B009
            )
            .as_string()
            if isinstance(recorder, PostgresRecorder)
            else None
        )

    def create_tables(self) -> None:
        with self._pool.connection() as conn:
            conn.execute(self._ddl)
            for projection in self._projections:
                conn.execute(self._start, (projection.name,))

    @property
    def projections(self) -> list[Projection]:
        return list(self._projections)

    @property
    def names(self) -> list[str]:
        return [projection.name for projection in self._projections]

    def positions(self) -> dict[str, int]:
        """Each projection's position: the last notification it has projected."""
        with self._pool.connection() as conn:
            rows = conn.execute(self._read, (self.names,)).fetchall()
        known = {str(name): int(position) for name, position in rows}
        return {name: known.get(name, 0) for name in self.names}

    def report(self) -> None:
        """Each projection's position and lag, as /metrics exports them."""
        head = self._app.recorder.max_notification_id() or 0
        for name, position in self.positions().items():
            PROJECTOR_POSITION.labels(name).set(position)
            PROJECTOR_LAG.labels(name).set(head - position)

    def run(self, stop: StopSignal) -> None:
        """Project until `stop` is set; outages are waited out, never fatal."""
        while not stop.is_set():
            try:
                projected = self.run_once()
                if not projected:
                    stop.wait(IDLE_SECONDS)
            except (PersistenceError, psycopg.OperationalError) as e:
                log.warning("projector paused: %s", type(e).__name__)
                stop.wait(RETRY_SECONDS)
            except Exception:
                # A bug must not kill the worker silently: say so loudly and keep retrying, so
                # a fix and restart (or a transient cause going away) resumes where it stopped.
                log.exception("projector failed; retrying")
                stop.wait(RETRY_SECONDS)

    def run_once(self) -> int:
        """Project the next batch of notifications; returns how many there were."""
        with self._pool.connection() as conn, conn.transaction():
            return self.project_batch(conn)

    def project_batch(self, conn: psycopg.Connection[Any], limit: int | None = None) -> int:
        """Within the caller's transaction: project the notifications after the lowest tracked
        position into every projection behind them, and move each position past them. Returns
        how many notifications there were."""
        with conn.cursor() as cur:
            # Locking the rows makes a second projector of the schema wait, then see the new
            # positions.
            rows = cur.execute(self._lock, (self.names,)).fetchall()
            positions = {str(name): int(position) for name, position in rows}
            after = min(positions.get(name, 0) for name in self.names)
            batch = self._select(cur, after, limit or self._batch_size)
            if not batch.size:
                return 0
            for projection in self._projections:
                behind = positions.get(projection.name, 0)
                if behind < batch.last:
                    todo = (
                        batch.events  # the usual case: every projection at the same position
                        if behind <= after
                        else [e for n, e in zip(batch.ids, batch.events, strict=True) if n > behind]
                    )
                    self._project(conn, cur, projection, todo)
                    cur.execute(self._write, (batch.last, projection.name))
        return batch.size

    def _select(self, cur: psycopg.Cursor[Any], after: int, limit: int) -> _Batch:
        """The (at most `limit`) notifications after `after`, decoded where some projection
        reads them."""
        to_domain_event = self._app.mapper.to_domain_event
        if self._notifications is None:  # not a Postgres store: as the recorder reads it
            found = self._app.recorder.select_notifications(
                start=after, limit=limit, inclusive_of_start=False
            )
            read = [n for n in found if self._reads_topic(n.topic)]
            last = found[-1].id if found else after
            return _Batch(
                len(found), last, [n.id for n in read], [to_domain_event(n) for n in read]
            )
        rows = cur.execute(self._notifications, (after, limit), binary=True).fetchall()
        read_rows = [row for row in rows if self._reads_topic(row[3])]
        events: list[object] = [
            to_domain_event(cast("StoredEvent", _Stored(*row[1:]))) for row in read_rows
        ]
        last = rows[-1][0] if rows else after
        return _Batch(len(rows), last, [row[0] for row in read_rows], events)

    def _reads_topic(self, topic: str) -> bool:
        """Whether some projection reads the domain events stored under `topic`."""
        known = self._is_read.get(topic)
        if known is None:
            known = self._is_read[topic] = issubclass(resolve_topic(topic), self._reads)
        return known

    @staticmethod
    def _project(
        conn: psycopg.Connection[Any],
        cur: psycopg.Cursor[Any],
        projection: Projection,
        events: Sequence[object],
    ) -> None:
        projection.prepare(cur, events)
        with conn.pipeline() as pipeline:
            for n, event in enumerate(events, 1):
                projection.project(cur, event)
                # Only what was sent needs a sync: most events send nothing (their rows are
                # written at flush), and a sync is a round trip even then.
                if n % SYNC_EVERY == 0 and pipeline.result_queue:
                    pipeline.sync()
            pipeline.sync()
        # Outside pipeline mode: flush reads what it wrote on the same cursor, and in pipeline
        # mode a write's answer arriving after the next query was sent becomes that query's
        # result (psycopg sets a cursor's result as answers land): a SELECT then fetched an
        # INSERT's status, seen on a two-year backfilled account.
        projection.flush(cur)
