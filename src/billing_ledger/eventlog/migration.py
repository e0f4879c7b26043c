"""The one-time rewrite of a log written before sealing into the sealed format.

A log of record is never updated in place, so its records are copied, sealed, into a new log
that then takes the old one's place:
- Postgres: in one transaction, `eventlog.stripe_events` (with its sequence and index) is
  renamed `stripe_events_unsealed_<time>`, the log is created anew in the sealed format, and
  every record is copied in position order, positions kept; grants follow. Appends wait on
  the lock meanwhile; readers see the old log or the new one, never a mix.
- Kafka: every partition is copied, in order, into a new topic, which the processes are then
  pointed at (`KAFKA_TOPIC`); topics cannot be renamed.
Records already sealed are copied as they are. The old table or topic still holds personal
data in the clear: drop it once the rebuild from the new log is verified (README, Privacy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from billing_ledger.eventlog.kafka import KafkaEventLog
from billing_ledger.eventlog.port import EventRecord, LoggedEvent
from billing_ledger.eventlog.postgres import CREATE_STATEMENTS, SCHEMA, TABLE, _logged, _row

Seal = Callable[[EventRecord], EventRecord]
BATCH = 500


@dataclass(frozen=True)
class Rewritten:
    copied: int
    sealed: int  # of which were written before sealing and are now sealed
    retired: str  # where the old log is kept (table or topic)


def rewrite_postgres(conn: psycopg.Connection[Any], seal: Seal) -> Rewritten:
    """Inside one transaction of the log's owner: the sealed log in place of the old one."""
    retired = f"{TABLE}_unsealed_{datetime.now(UTC):%Y%m%d%H%M%S}"
    ident = sql.Identifier
    with conn.transaction():
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(ident(SCHEMA, TABLE)))
        grants = _grants(conn, f"{SCHEMA}.{TABLE}") + _grants(
            conn, f"{SCHEMA}.{TABLE}_position_seq"
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(ident(SCHEMA, TABLE), ident(retired))
        )
        conn.execute(
            sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
                ident(SCHEMA, f"{TABLE}_position_seq"), ident(f"{retired}_position_seq")
            )
        )
        conn.execute(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                ident(SCHEMA, "stripe_events_event_id"), ident(f"{retired}_event_id")
            )
        )
        for statement in CREATE_STATEMENTS:
            conn.execute(statement)
        copied = sealed = 0
        after = 0
        with conn.cursor() as cur:
            while True:
                rows = cur.execute(_select(retired), (after, BATCH)).fetchall()
                if not rows:
                    break
                batch = [_logged(row) for row in rows]
                out = [_kept(logged, seal) for logged in batch]
                sealed += sum(o is not logged.record for o, logged in zip(out, batch, strict=True))
                cur.executemany(
                    sql.SQL("INSERT INTO {} (position, {}) VALUES (%s, {})").format(
                        ident(SCHEMA, TABLE), sql.SQL(_COLUMNS), sql.SQL(_PLACEHOLDERS)
                    ),
                    [(logged.position, *_row(o)) for o, logged in zip(out, batch, strict=True)],
                )
                copied += len(batch)
                after = batch[-1].position
            cur.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'position'), "
                f"(SELECT coalesce(max(position), 1) FROM {SCHEMA}.{TABLE}), "
                f"(SELECT count(*) > 0 FROM {SCHEMA}.{TABLE}))",
                (f"{SCHEMA}.{TABLE}",),
            )
        for relation, grantee, privilege in grants:
            conn.execute(
                sql.SQL("GRANT {} ON {} {} TO {}").format(
                    sql.SQL(privilege),
                    sql.SQL("SEQUENCE" if relation.endswith("_seq") else "TABLE"),
                    sql.SQL(relation),
                    ident(grantee),
                )
            )
    return Rewritten(copied, sealed, f"{SCHEMA}.{retired}")


def rewrite_kafka(
    source: KafkaEventLog, target: KafkaEventLog, seal: Seal, source_topic: str
) -> Rewritten:
    """Every record of `source` (up to its head now), in order, into `target`, sealed."""

    async def copy() -> tuple[int, int]:
        copied = sealed = 0
        for batch in source.replay(lambda _: None, source.head()):
            out = [_kept(logged, seal) for logged in batch]
            sealed += sum(o is not logged.record for o, logged in zip(out, batch, strict=True))
            await asyncio.gather(*(target.append_async(record) for record in out))
            copied += len(out)
        return copied, sealed

    copied, sealed = asyncio.run(copy())
    return Rewritten(copied, sealed, source_topic)


def _kept(logged: LoggedEvent, seal: Seal) -> EventRecord:
    return logged.record if logged.record.is_sealed else seal(logged.record)


_COLUMNS = (
    "event_id, event_type, created, livemode, account, api_version, received_at, "
    "partition_key, body, sealed, data_subject, verified_with, source"
)
_PLACEHOLDERS = ", ".join(["%s"] * 13)


def _select(table: str) -> sql.Composed:
    return sql.SQL(
        "SELECT position, body, event_id, event_type, created, livemode, account, api_version, "
        "received_at, partition_key, sealed, data_subject, verified_with, source FROM {} "
        "WHERE position > %s ORDER BY position LIMIT %s"
    ).format(sql.Identifier(SCHEMA, table))


def _grants(conn: psycopg.Connection[Any], relation: str) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT a.grantee::regrole::text, a.privilege_type FROM pg_class c, "
        "aclexplode(c.relacl) a WHERE c.oid = %s::regclass AND a.grantee <> c.relowner "
        "AND a.grantee <> 0",
        (relation,),
    ).fetchall()
    return [(relation, grantee.strip('"'), privilege) for grantee, privilege in rows]
