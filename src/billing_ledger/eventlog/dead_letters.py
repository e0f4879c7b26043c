"""The dead-letter record: verified bytes we keep but could not apply (`eventlog.dead_letters`).

Two sources write here. `ingest` keeps a correctly signed body that is not a Stripe event object:
it never reaches the log of record, but it was verified, so it is kept for inspection. The
`processor` keeps a logged record it could not apply, with its log position; such a letter can
be retried after a fix (see `processor.Processor.reapply`). Rows are never updated: whether a
processor letter was retried successfully is recorded by its own tracking row in the event store,
in the same transaction as the effects. A processor letter is kept once per log position (an
ingest letter has none). The processor sees this table through `UnappliedRecords`
(dead_letter_port.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from billing_ledger.eventlog.dead_letter_port import DeadLetter
from billing_ledger.eventlog.port import LoggedEvent, LogUnavailable

DDL = """
CREATE TABLE IF NOT EXISTS eventlog.dead_letters (
    id bigserial PRIMARY KEY,
    source text NOT NULL DEFAULT 'processor',
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
INSERT = """
INSERT INTO eventlog.dead_letters (source, log_name, position, event_id, event_type, reason, body)
VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (log_name, position) DO NOTHING
"""
SELECT = """
SELECT id, source, log_name, position, event_id, event_type, reason, recorded_at
FROM eventlog.dead_letters ORDER BY id
"""
SELECT_BODY = "SELECT body FROM eventlog.dead_letters WHERE id = %s"


class DeadLetters:
    """The dead-letter table on a connection pool. Thread-safe."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def create_table(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS eventlog")
            conn.execute(DDL)

    def keep_rejected(self, body: bytes, reason: str) -> None:
        """Durably keep a verified body that is not an event; LogUnavailable if not possible."""
        try:
            with self._pool.connection() as conn:
                conn.execute(INSERT, ("ingest", None, None, None, None, reason, body))
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise LogUnavailable("dead-letter record unavailable") from e

    def keep_unapplied(self, dead: Sequence[tuple[LoggedEvent, str]]) -> None:
        """Keep logged records the processor could not apply (once per log position), in one
        transaction; LogUnavailable if not possible."""
        rows = [
            (
                "processor",
                logged.log_name,
                logged.position,
                logged.record.event_id,
                logged.record.event_type,
                reason,
                logged.record.body,
            )
            for logged, reason in dead
        ]
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                cur.executemany(INSERT, rows)
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise LogUnavailable("dead-letter record unavailable") from e

    def all(self) -> list[DeadLetter]:
        with self._pool.connection() as conn:
            return [DeadLetter(*row) for row in conn.execute(SELECT).fetchall()]

    def body(self, letter: DeadLetter) -> bytes:
        with self._pool.connection() as conn:
            row = conn.execute(SELECT_BODY, (letter.id,)).fetchone()
        assert row is not None, f"dead letter {letter.id} vanished: the table is append-only"
        return bytes(row[0])
