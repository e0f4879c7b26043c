"""The processor and projectors over a real Postgres log, run synchronously for tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg

from billing_ledger import bootstrap
from billing_ledger.eventlog.port import EventRecord
from billing_ledger.eventlog.postgres import LOG_NAME
from billing_ledger.infra.master_key import FileMasterKey, MasterKey
from billing_ledger.ingest.sealing import Sealer
from billing_ledger.projections.migrations import READ_SCHEMA
from billing_ledger.projections.rebuild import NOT_COMPARED
from billing_ledger.schemas.envelope import parse_event
from tests.support.webhooks import MASTER_KEY


class Pipeline:
    """The composition root's pipeline on a Postgres log, driven step by step by the test."""

    def __init__(self, dsn: str, master: MasterKey | None = None) -> None:
        self.dsn = dsn
        self.master = master or FileMasterKey.from_text(MASTER_KEY, "the suite's master key")
        self.log = bootstrap.postgres_event_log(dsn)
        self.log.open()
        parts = bootstrap.pipeline(dsn, self.log, self.master)
        self.parts = parts
        self.pool, self.app = parts.pool, parts.app
        self.processor, self.projector = parts.processor, parts.projector
        self.keys = bootstrap.key_store(self.pool, self.master)
        self.keys.watch_erasures()
        self.sealer = Sealer(self.keys)

    def deliver(self, document: dict[str, Any]) -> None:
        """Append `document` as ingest would once it verified it: sealed."""
        self.append(json.dumps(document).encode())

    def append(self, body: bytes) -> None:
        """Seal and append `body`; one that is not an event goes in raw (the processor
        dead-letters it), as a log written before sealing held it."""
        try:
            parsed = parse_event(body)
        except Exception:
            self.append_unsealed(body)
            return
        sealed = self.sealer.seal(parsed, body)
        self.log.append(
            EventRecord(
                sealed.facts,
                parsed.id,
                parsed.type,
                parsed.created,
                parsed.livemode,
                parsed.account_id,
                parsed.api_version,
                datetime.now(UTC),
                parsed.partition_key,
                sealed=sealed.sealed,
                data_subject=sealed.subject,
                verified_with="test-secret",
            )
        )

    def append_unsealed(self, body: bytes) -> None:
        """Append `body` raw, as the log held records before sealing existed."""
        try:
            parsed = parse_event(body)
            event_id, event_type, created = parsed.id, parsed.type, parsed.created
        except Exception:
            event_id, event_type, created = "evt_unparseable", "unknown", 0
        self.log.append(
            EventRecord(
                body, event_id, event_type, created, False, "", None, datetime.now(UTC), "k"
            )
        )

    def process_all(self) -> None:
        """Process until the log is drained, then project everything."""
        head = self.log.head().get(LOG_NAME, 0)
        while (self.processor.processed(LOG_NAME) or 0) < head:
            self.processor.process(self.log.read(self.processor.processed(LOG_NAME) or 0, 100))
        while self.projector.run_once():
            pass

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, params).fetchall()

    def query_write(self, statement: str) -> None:
        with psycopg.connect(self.dsn) as conn:
            conn.execute(statement)

    def close(self) -> None:
        self.keys.close()
        self.parts.close()
        self.log.close()

    def tables(self, schema: str = READ_SCHEMA) -> dict[str, list[tuple[Any, ...]]]:
        return read_tables(self.dsn, schema)


def read_tables(dsn: str, schema: str = READ_SCHEMA) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projected table of the read schema, sorted: whole states.

    The journal is compared by its balances (the `account_balances` view) instead of its
    rows: entries are immutable and record which event posted them and the corrections
    delivery order made necessary, so only their balances are order-independent.
    """
    with psycopg.connect(dsn) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
                (schema,),
            )
        ]
        compared = [
            name for name in names if name not in NOT_COMPARED and not name.startswith("journal_")
        ]
        return {
            name: sorted(
                conn.execute(
                    f'SELECT * FROM "{schema}"."{name}"'
                    + (" WHERE balance_cents <> 0" if name == "account_balances" else "")
                ).fetchall(),
                key=repr,
            )
            for name in [*compared, "account_balances"]
        }
