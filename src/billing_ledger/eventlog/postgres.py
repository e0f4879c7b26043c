"""The log of record as an append-only PostgreSQL table (the embedded default).

Readers must never skip a record because concurrent writers committed out of order. A bigserial
is drawn at insert time but becomes visible at commit, so writer A may draw 7, writer B draw 8
and commit first; a reader that saw 8 and moved on would never see 7. As the eventsourcing
library does for its notification log, every append takes an EXCLUSIVE lock on the table (which
does not block readers), so positions are drawn and committed in one order.

Group commit: concurrent `append` calls share one transaction. Callers queue their record and
wait on their own future; one writer thread drains the queue, inserts everything it found in
one transaction (still under the EXCLUSIVE lock, in queue order) and answers each caller only
after that commit. If the transaction fails, exactly the callers of that batch get
LogUnavailable, and none of their records is stored. One round trip per batch, not per request.
Under ingest the same round trip counts which secret verified each record (`count_secret_usage`),
so the endpoint writes no usage of its own.
A caller on an asyncio loop (`append_async`, the webhook endpoint) waits on a future of its
loop instead of in a worker thread: the writer answers a whole batch of such callers with one
`call_soon_threadsafe`, so a webhook costs no thread hop and no thread wake-up of its own.

Only one processor may follow the log at a time: `follow` holds a session advisory lock and
waits (as a standby) while another process holds it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Generator, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from billing_ledger.eventlog import secret_usage
from billing_ledger.eventlog.port import (
    WEBHOOK,
    EventLog,
    EventRecord,
    LogError,
    LoggedEvent,
    LogUnavailable,
    PositionLookup,
    replay_by_reading,
)

log = logging.getLogger(__name__)

SCHEMA = "eventlog"
TABLE = "stripe_events"
LOG_NAME = TABLE
CHANNEL = "eventlog_stripe_events"
FOLLOWER_LOCK_KEY = 0x5742_4C47  # advisory lock id of "the processor of the Postgres log"
IDLE_WAIT_SECONDS = 0.5
MAX_BATCH = 500  # records per group commit

CREATE_STATEMENTS = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} (
        position bigserial PRIMARY KEY,
        event_id text NOT NULL,
        event_type text NOT NULL,
        created bigint NOT NULL,
        livemode boolean NOT NULL,
        account text NOT NULL,
        api_version text,
        received_at timestamptz NOT NULL,
        partition_key text NOT NULL,
        body bytea NOT NULL,
        sealed bytea,
        data_subject text,
        verified_with text,
        source text
    )""",
    f"CREATE INDEX IF NOT EXISTS stripe_events_event_id ON {SCHEMA}.{TABLE} (event_id)",
    # Append-only, enforced by the database rather than by convention.
    f"""CREATE OR REPLACE FUNCTION {SCHEMA}.refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
            RAISE EXCEPTION 'the log of record is append-only';
        END $$""",
    f"""CREATE OR REPLACE TRIGGER stripe_events_append_only
        BEFORE UPDATE OR DELETE ON {SCHEMA}.{TABLE}
        FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change()""",
)

# The sealed format's columns (README, Privacy): a table created before them gets them, empty
# for its older rows, when its owner opens it; `billing-ledger migrate-log` rewrites those rows.
# `source` came later: NULL is a webhook's (every record before it was one).
SEALED_COLUMNS = ("sealed bytea", "data_subject text", "verified_with text", "source text")
COLUMNS = (
    "event_id, event_type, created, livemode, account, api_version, received_at, "
    "partition_key, body, sealed, data_subject, verified_with, source"
)
# A batch is written with one binary COPY, whose rows psycopg formats in C: `executemany`
# sends, and answers, one INSERT per record, and a text COPY spells every body in hex.
COPY_IN = sql.SQL(f"COPY {SCHEMA}.{TABLE} ({COLUMNS}) FROM STDIN (FORMAT BINARY)")
COPY_TYPES = (
    "text", "text", "int8", "bool", "text", "text", "timestamptz",
    "text", "bytea", "bytea", "text", "text", "text",
)  # fmt: skip
# Taken before the batch is written; the notification is delivered at commit.
LOCK_AND_NOTIFY = sql.SQL(f"LOCK TABLE {SCHEMA}.{TABLE} IN EXCLUSIVE MODE; NOTIFY {CHANNEL}")
SELECT_AFTER = (
    f"SELECT position, body, event_id, event_type, created, livemode, account, api_version, "
    f"received_at, partition_key, sealed, data_subject, verified_with, source "
    f"FROM {SCHEMA}.{TABLE} WHERE position > %s ORDER BY position LIMIT %s"
)
SELECT_IDS_SINCE = f"SELECT DISTINCT event_id FROM {SCHEMA}.{TABLE} WHERE created >= %s"
MISSING_COLUMNS = (
    "eventlog.stripe_events was created before the sealed format and this role cannot add its "
    "columns: as the table's owner run `billing-ledger migrate-log` (README, Privacy)"
)


@dataclass
class _Append:
    """One queued record and how its caller is answered: a thread waits on `done`; a
    coroutine on `waiter`, a future of its `loop`."""

    record: EventRecord
    done: Future[None] = field(default_factory=Future)
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[None] | None = None


class PostgresEventLog(EventLog):
    def __init__(self, pool: ConnectionPool) -> None:
        """Appends and reads through `pool` (opened by `open`, closed by `close`); a follower
        also holds one connection of its own to the same database for LISTEN."""
        self._pool = pool
        self._queue: queue.SimpleQueue[_Append | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._closed = False
        self._counts_secret_usage = False
        self.commits = 0
        """Transactions committed by `append` so far (each holds one batch of records)."""

    def open(self) -> None:
        """Connect and create the log table if missing (idempotent)."""
        try:
            self._pool.open(wait=True, timeout=10.0)
            with self._pool.connection() as conn:
                # Serialise concurrent first starts: CREATE ... IF NOT EXISTS can still race.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (FOLLOWER_LOCK_KEY + 1,))
                # An existing log is left alone: it may belong to another role than ours (the
                # app role may only read and append; see roles.py), and must not change anyway.
                found = conn.execute(f"SELECT to_regclass('{SCHEMA}.{TABLE}')").fetchone()
                if found is None or found[0] is None:
                    for statement in CREATE_STATEMENTS:
                        conn.execute(statement)
                else:
                    _add_sealed_columns(conn)
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise LogUnavailable(f"Postgres log unavailable: {e}") from e

    def count_secret_usage(self) -> None:
        """From now on, each append also counts the secret that verified each of its records
        (`verified_with`) in eventlog.secret_usage, which must exist: in the append's own
        transaction and round trip, so a count is stored exactly when its record is."""
        self._counts_secret_usage = True

    def append(self, record: EventRecord) -> None:
        pending = _Append(record)
        self._enqueue(pending)
        pending.done.result()

    async def append_async(self, record: EventRecord) -> None:
        """`append` awaited on the caller's loop: returns once the batch holding `record`
        committed, raises LogUnavailable otherwise. A caller that stops waiting (cancelled)
        leaves the record queued: it may still be stored, as the port allows."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._enqueue(_Append(record, loop=loop, waiter=waiter))
        await waiter

    def _enqueue(self, pending: _Append) -> None:
        with self._writer_lock:
            if self._closed:
                raise LogUnavailable("Postgres log is closed")
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_batches, name="eventlog-writer", daemon=True
                )
                self._writer.start()
            self._queue.put(pending)

    @property
    def queued(self) -> int:
        """Appends waiting for the writer (not yet taken into a batch)."""
        return self._queue.qsize()

    def _write_batches(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop once this batch is answered
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Append]) -> None:
        """Store `batch` in one transaction, then answer every caller in it."""
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.execute(self._locking(batch))
                with cur.copy(COPY_IN) as copy:
                    copy.set_types(COPY_TYPES)
                    for pending in batch:
                        copy.write_row(_row(pending.record))
        except (psycopg.Error, PoolTimeout) as e:
            cause: Exception = e
        except Exception as e:  # a bug: tell the callers rather than leave them waiting
            log.exception("appending a batch of %d records failed", len(batch))
            cause = e
        else:
            self.commits += 1
            _answer(batch, None)
            return
        _answer(batch, cause)

    def _locking(self, batch: list[_Append]) -> sql.SQL | sql.Composed:
        """What a batch's transaction runs first, in one round trip: the lock, the notification
        and, when the log counts them, the secrets' usage."""
        if not self._counts_secret_usage:
            return LOCK_AND_NOTIFY
        counting = secret_usage.counting(pending.record.verified_with for pending in batch)
        if counting is None:
            return LOCK_AND_NOTIFY
        return sql.SQL("; ").join([LOCK_AND_NOTIFY, counting])

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Records with a position greater than `after`, in position order."""
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(SELECT_AFTER, (after, limit)).fetchall()
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise LogUnavailable("Postgres log unavailable") from e
        return [_logged(row) for row in rows]

    def follow(
        self, processed: PositionLookup, stop: threading.Event, batch_size: int = 500
    ) -> Generator[list[LoggedEvent], None, None]:
        conninfo = self._pool.conninfo
        dsn = conninfo() if callable(conninfo) else conninfo
        with psycopg.connect(dsn, autocommit=True) as listener:
            while not stop.is_set():
                locked = listener.execute(
                    "SELECT pg_try_advisory_lock(%s)", (FOLLOWER_LOCK_KEY,)
                ).fetchone()
                if locked and locked[0]:
                    break
                stop.wait(IDLE_WAIT_SECONDS)  # standby: another processor follows the log
            else:
                return
            listener.execute(sql.SQL(f"LISTEN {CHANNEL}"))
            after = processed(LOG_NAME) or 0
            while not stop.is_set():
                batch = self.read(after, batch_size)
                if batch:
                    after = batch[-1].position
                    yield batch
                    continue
                for _ in listener.notifies(timeout=IDLE_WAIT_SECONDS, stop_after=1):
                    pass

    def replay(
        self, processed: PositionLookup, until: Mapping[str, int], batch_size: int = 500
    ) -> Iterator[list[LoggedEvent]]:
        return replay_by_reading(self.read, LOG_NAME, processed, until, batch_size)

    def event_ids(self, created_since: int) -> set[str]:
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(SELECT_IDS_SINCE, (created_since,)).fetchall()
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise LogUnavailable("Postgres log unavailable") from e
        return {row[0] for row in rows}

    def has_follower(self) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (FOLLOWER_LOCK_KEY,)).fetchone()
            if row and row[0]:
                conn.execute("SELECT pg_advisory_unlock(%s)", (FOLLOWER_LOCK_KEY,))
                return False
        return True

    def head(self) -> dict[str, int]:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT max(position) FROM {SCHEMA}.{TABLE}").fetchone()
        return {LOG_NAME: row[0]} if row and row[0] is not None else {}

    def ping(self) -> None:
        try:
            with self._pool.connection() as conn:
                conn.execute("SELECT 1")
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise LogUnavailable("Postgres log unavailable") from e

    def close(self) -> None:
        """Answer every queued append, stop the writer, release the connections."""
        with self._writer_lock:
            self._closed = True
            writer, self._writer = self._writer, None
            if writer is not None:
                self._queue.put(None)
        if writer is not None:
            writer.join()
        self._pool.close()


def _answer(batch: list[_Append], cause: BaseException | None) -> None:
    """Tell every caller in `batch` that it is stored (`cause` None) or is not: threads
    directly, coroutines with one callback per loop."""
    on_loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for pending in batch:
        if pending.loop is not None and pending.waiter is not None:
            on_loops.setdefault(pending.loop, []).append(pending.waiter)
        elif cause is None:
            pending.done.set_result(None)
        else:
            pending.done.set_exception(_unavailable(cause))
    for loop, waiters in on_loops.items():
        try:
            loop.call_soon_threadsafe(_settle, waiters, cause)
        except RuntimeError:  # the loop closed meanwhile: nobody is waiting there any more
            log.warning("an event loop closed before its %d appends were answered", len(waiters))


def _settle(waiters: list[asyncio.Future[None]], cause: BaseException | None) -> None:
    """On the waiters' loop: answer those still waiting (a cancelled one gave up)."""
    for waiter in waiters:
        if waiter.done():
            continue
        if cause is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(_unavailable(cause))


def _unavailable(cause: BaseException) -> LogUnavailable:
    failure = LogUnavailable("Postgres log unavailable")
    failure.__cause__ = cause
    return failure


def _row(record: EventRecord) -> tuple[Any, ...]:
    return (
        record.event_id,
        record.event_type,
        record.created,
        record.livemode,
        record.account,
        record.api_version,
        record.received_at,
        record.partition_key,
        record.body,
        record.sealed,
        record.data_subject,
        record.verified_with,
        record.source if record.source != WEBHOOK else None,
    )


def _logged(row: tuple[Any, ...]) -> LoggedEvent:
    position, *fields, source = row
    record = EventRecord(*fields)
    sealed = bytes(record.sealed) if record.sealed is not None else None
    return LoggedEvent(
        LOG_NAME,
        position,
        replace(record, body=bytes(record.body), sealed=sealed, source=source or WEBHOOK),
    )


def _add_sealed_columns(conn: psycopg.Connection[Any]) -> None:
    """Give a log created before the sealed format its columns (NULL for the older rows: no
    row changes). Only the table's owner may; anyone else is told what to run."""
    present = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            (SCHEMA, TABLE),
        )
    }
    missing = [column for column in SEALED_COLUMNS if column.split()[0] not in present]
    if not missing:
        return
    try:
        with conn.transaction():
            for column in missing:
                conn.execute(f"ALTER TABLE {SCHEMA}.{TABLE} ADD COLUMN IF NOT EXISTS {column}")
    except psycopg.errors.InsufficientPrivilege:
        raise LogError(MISSING_COLUMNS) from None
