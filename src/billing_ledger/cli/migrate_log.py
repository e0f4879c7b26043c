"""`billing-ledger migrate-log`: rewrite a log written before sealing into the sealed format.

Run it once, with `up`, `ingest` and `process` stopped, as the log's owner (on the embedded
default the command is that owner itself). Then `billing-ledger replay --from-log --swap`
rebuilds the event store and the tables from the sealed log (the old event store held
personal values in the clear), and the old log, the retired event store and the retired
tables are dropped (README, Privacy, "Existing data").
"""

from __future__ import annotations

import argparse

import psycopg

from billing_ledger import bootstrap
from billing_ledger.eventlog import migration
from billing_ledger.infra.database import database_url
from billing_ledger.ingest.sealing import Sealer
from billing_ledger.settings import Settings


def migrate_log(settings: Settings, args: argparse.Namespace) -> int:
    with database_url(settings) as owner_dsn:
        dsn = owner_dsn if settings.DATABASE_URL else bootstrap.app_role_dsn(owner_dsn)
        master = bootstrap.master_key(settings, dsn)
        with bootstrap.connection_pool(dsn, 2) as pool:
            sealer = bootstrap.sealer(pool, master)
            if settings.EVENT_LOG == "kafka":
                done = _kafka(settings, args.to_topic, sealer)
                after = f"now set KAFKA_TOPIC={args.to_topic or _sealed_topic(settings)}, then "
            else:
                owned = bootstrap.postgres_event_log(owner_dsn)
                owned.open()  # adds the sealed columns if missing
                owned.close()
                with psycopg.connect(owner_dsn) as conn:
                    done = migration.rewrite_postgres(conn, sealer.seal_record)
                after = ""
    print(
        f"{done.copied} records copied into the sealed log, {done.sealed} of them sealed now; "
        f"the old log is {done.retired}"
    )
    print(
        f"{after}run `billing-ledger replay --from-log --swap`, check the tables, and drop "
        f"{done.retired} and the retired schemas (README, Privacy)"
    )
    return 0


def _sealed_topic(settings: Settings) -> str:
    return f"{settings.KAFKA_TOPIC}.sealed"


def _kafka(settings: Settings, to_topic: str | None, sealer: Sealer) -> migration.Rewritten:
    source = bootstrap.kafka_event_log(settings, settings.KAFKA_TOPIC)
    target = bootstrap.kafka_event_log(settings, to_topic or _sealed_topic(settings))
    source.open()
    target.open()
    try:
        return migration.rewrite_kafka(source, target, sealer.seal_record, settings.KAFKA_TOPIC)
    finally:
        target.close()
        source.close()
