"""The dead-letter record: verified bytes we keep but could not apply (`eventlog.dead_letters`).

Two sources write here. `ingest` keeps a correctly signed body that is not a Stripe event object:
it never reaches the log of record, but it was verified, so it is kept for inspection. The
`processor` keeps a logged record it could not apply, with its log position; such a letter can
be retried after a fix (see `processor.Processor.reapply`). Rows are never updated: whether a
processor letter was retried successfully is recorded by its own tracking row in the event store,
in the same transaction as the effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from billing_ledger.eventlog.port import LoggedEvent, LogUnavailable

Source = Literal["ingest", "processor"]

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


@dataclass(frozen=True)
class DeadLetter:
    """What may be shown about a dead letter: never its body."""

    id: int
    source: Source
    log_name: str | None
    position: int | None
    event_id: str | None
    event_type: str | None
    reason: str
    recorded_at: datetime

    def retry_tracking_name(self) -> str:
        """The tracking name a successful retry records, so it can happen only once."""
        return f"dead-letter:{self.id}"


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

    def keep_unapplied(self, dead: list[tuple[LoggedEvent, str]]) -> None:
        """Keep logged records the processor could not apply (once per log position)."""
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                INSERT,
                [
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
                ],
            )

    def all(self) -> list[DeadLetter]:
        with self._pool.connection() as conn:
            return [DeadLetter(*row) for row in conn.execute(SELECT).fetchall()]

    def body(self, letter: DeadLetter) -> bytes:
        with self._pool.connection() as conn:
            row = conn.execute(SELECT_BODY, (letter.id,)).fetchone()
        assert row is not None, f"dead letter {letter.id} vanished: the table is append-only"
        return bytes(row[0])
