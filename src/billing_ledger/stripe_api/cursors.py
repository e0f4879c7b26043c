"""Where a backfill is: its cursor, stored durably so that a crash or Ctrl-C resumes it.

A backfill is one pass over Stripe's list endpoints for one (account, livemode, since). Its
cursor names the list being paged and the id of the last object whose page is in the log
(`starting_after` for the next page), and counts what it appended. It is written after each
page is durable, never before, so a resumed backfill repeats at most one page (appending a
snapshot again changes nothing downstream) and never skips one.

`ops.backfill_cursors` holds one row per (account, livemode, since): replay never touches the
ops schema, and a finished backfill's row stays as the record that it finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

CREATE_STATEMENTS = (
    "CREATE SCHEMA IF NOT EXISTS ops",
    """CREATE TABLE IF NOT EXISTS ops.backfill_cursors (
        account_id text NOT NULL,
        livemode boolean NOT NULL,
        since bigint NOT NULL,
        step text NOT NULL,
        starting_after text,
        appended bigint NOT NULL,
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        PRIMARY KEY (account_id, livemode, since)
    )""",
)


@dataclass(frozen=True)
class BackfillKey:
    account: str  # '' for the platform
    livemode: bool
    since: int  # epoch seconds; 0 for everything


@dataclass(frozen=True)
class Cursor:
    step: str  # the list being paged
    starting_after: str | None  # the last object of the last page stored; None: from the top
    appended: int  # snapshots appended so far
    started_at: datetime
    finished: bool = False


class CursorStore(Protocol):
    """The port: one cursor per backfill key."""

    def load(self, key: BackfillKey) -> Cursor | None: ...

    def save(self, key: BackfillKey, cursor: Cursor) -> None: ...


class MemoryCursors:
    """Cursors in this process (unit tests)."""

    def __init__(self) -> None:
        self.saved: dict[BackfillKey, Cursor] = {}

    def load(self, key: BackfillKey) -> Cursor | None:
        return self.saved.get(key)

    def save(self, key: BackfillKey, cursor: Cursor) -> None:
        self.saved[key] = cursor


class PostgresCursors:
    """Cursors in `ops.backfill_cursors` (created if missing)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def create_table(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            for statement in CREATE_STATEMENTS:
                conn.execute(statement)

    def load(self, key: BackfillKey) -> Cursor | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT step, starting_after, appended, started_at, finished_at IS NOT NULL "
                "FROM ops.backfill_cursors WHERE account_id = %s AND livemode = %s AND since = %s",
                (key.account, key.livemode, key.since),
            ).fetchone()
        return Cursor(*row) if row is not None else None

    def save(self, key: BackfillKey, cursor: Cursor) -> None:
        with self._pool.connection() as conn:
            _upsert(conn, key, cursor)


def _upsert(conn: psycopg.Connection[Any], key: BackfillKey, cursor: Cursor) -> None:
    conn.execute(
        "INSERT INTO ops.backfill_cursors (account_id, livemode, since, step, starting_after, "
        "appended, started_at, finished_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) "
        "ON CONFLICT (account_id, livemode, since) DO UPDATE SET step = excluded.step, "
        "starting_after = excluded.starting_after, appended = excluded.appended, "
        "started_at = excluded.started_at, updated_at = now(), "
        "finished_at = excluded.finished_at",
        (
            key.account,
            key.livemode,
            key.since,
            cursor.step,
            cursor.starting_after,
            cursor.appended,
            cursor.started_at,
            cursor.finished,
        ),
    )
