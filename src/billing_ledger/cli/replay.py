"""`billing-ledger replay`: rebuild state from history beside the live state, compare, swap.

    replay                 project the stored domain events into a fresh read schema (fast:
                           Stripe payloads are not reinterpreted)
    replay --from-log      first rebuild the aggregates from the log of record (Kafka from
                           offset 0, or the Postgres log) into a fresh event store, then project
    --verify               compare the rebuilt tables with the live ones, row by row
    --swap                 make the rebuilt schema(s) the live ones, atomically, keeping grants

Resumable: positions are kept inside the rebuilt schemas, so after a crash or Ctrl-C the same
command continues where it stopped (`--restart` starts over).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from billing_ledger import bootstrap
from billing_ledger.cli import dead_letters
from billing_ledger.cli.progress import ProgressLine
from billing_ledger.errors import BillingLedgerError
from billing_ledger.eventlog.postgres import FOLLOWER_LOCK_KEY
from billing_ledger.infra import audit, heap
from billing_ledger.processing.application import EVENT_STORE_SCHEMA, BillingApplication
from billing_ledger.processing.processor import Processor
from billing_ledger.projections import mrr_clock, rebuild, rebuild_groups
from billing_ledger.projections.migrations import READ_SCHEMA
from billing_ledger.projections.mrr_definitions import MrrDefinition
from billing_ledger.settings import Settings

REBUILT_STORE = f"{EVENT_STORE_SCHEMA}_rebuild"
FOLLOWER_RUNNING = (
    "a processor is following the log: stop `billing-ledger process` (or `up`) before "
    "swapping a rebuild from the log, then start it again"
)


class ReplayError(BillingLedgerError):
    """The replay cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class ReplayRequest:
    """What `billing-ledger replay` was asked to do (see the module docstring)."""

    schema: str = "billing_rebuild"
    from_log: bool = False
    restart: bool = False
    verify: bool = False
    swap: bool = False


# A plain lowercase identifier, not one we or PostgreSQL use for anything else (a rebuild may
# drop and recreate it).
REBUILD_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED_SCHEMAS = re.compile(
    r"^(billing|eventlog|eventstore.*|billing_replaced_.*|public|pg_.*|information_schema)$"
)


def replay(settings: Settings, args: argparse.Namespace) -> int:
    request = ReplayRequest(args.schema, args.from_log, args.restart, args.verify, args.swap)
    with bootstrap.database(settings) as dsn:
        return run_replay(settings, dsn, request)


def run_replay(settings: Settings, dsn: str, request: ReplayRequest) -> int:
    if not REBUILD_SCHEMA_NAME.match(request.schema) or RESERVED_SCHEMAS.match(request.schema):
        raise ReplayError(
            f"--schema {request.schema!r}: give a new lowercase name such as billing_rebuild "
            "(not a live, retired or system schema)"
        )
    try:
        return _replay(settings, dsn, request)
    except KeyboardInterrupt:
        print("\nreplay interrupted: run the same command again to resume", file=sys.stderr)
        return 130


def _replay(settings: Settings, dsn: str, request: ReplayRequest) -> int:
    schema, from_log = request.schema, request.from_log
    with ExitStack() as stack:
        pool = stack.enter_context(bootstrap.connection_pool(dsn))
        with pool.connection() as conn:
            bootstrap.prepare_live_schemas(conn)
            rebuild.prepare(conn, schema, request.restart)
            _build_under(conn, schema, settings.mrr_definition())
        event_log = bootstrap.open_event_log(settings, dsn) if from_log else None
        if event_log is not None:
            stack.callback(event_log.close)
        master = bootstrap.master_key(settings, dsn)
        store = REBUILT_STORE if from_log else EVENT_STORE_SCHEMA
        with _application(dsn, store, request.restart and from_log) as app:
            if event_log is not None:
                processor = bootstrap.processor(app, event_log, pool)
                until = event_log.head()
                todo = sum(
                    event_log.unprocessed(last, processor.processed(name))
                    for name, last in until.items()
                )
                progress = ProgressLine("log records applied", todo)
                for batch in event_log.replay(processor.processed, until):
                    processor.process(batch)
                    progress(len(batch))
                progress.finish()
                _retry_again(processor, pool)
            projector = rebuild.projector(app, pool, schema, bootstrap.key_store(pool, master))
            heap.settle()
            head = app.recorder.max_notification_id() or 0
            progress = ProgressLine(
                f"domain events projected into {schema}",
                head - min(projector.positions().values()),
            )
            caught_up = _in_processes(settings, dsn, store, projector)
            rebuild.project_all(projector, pool, progress, caught_up)
            progress.finish()
            differences = _verify(pool, schema) if request.verify else False
            with pool.connection() as conn:
                audit.record(
                    conn,
                    "replay",
                    "differs" if differences else "ok",
                    {"schema": schema, "from_log": from_log, "verified": request.verify},
                )
            if request.swap:
                if event_log is not None and event_log.has_follower():
                    raise ReplayError(FOLLOWER_RUNNING)
                _swap(pool, projector, schema, from_log, settings.EVENT_LOG == "postgres")
                return 0
    return 1 if differences else 0


def _in_processes(
    settings: Settings, dsn: str, store: str, projector: rebuild.Projector
) -> Callable[[rebuild.Progress], None] | None:
    """How the projections catch up in REPLAY_PROCESSES processes (None: in this one)."""
    groups = rebuild_groups.split(projector.names, settings.replay_processes())
    if len(groups) < 2:
        return None
    positions = projector.positions()
    starts = [min(positions[name] for name in group) for group in groups]
    return partial(
        rebuild_groups.catch_up,
        bootstrap.rebuild_group,
        (settings, dsn, store, projector.schema),
        groups,
        starts,
    )


def _retry_again(processor: Processor, pool: ConnectionPool) -> None:
    outcomes = dead_letters.retry_again(processor, pool)
    if not outcomes:
        return
    print(f"dead letters retried again: {len(outcomes)}", file=sys.stderr)
    for letter, outcome in outcomes:
        if outcome not in dead_letters.APPLIED:
            print(f"dead letter {letter.id} ({letter.event_id}): {outcome}", file=sys.stderr)


def _build_under(conn: psycopg.Connection[Any], schema: str, definition: MrrDefinition) -> None:
    """Build `schema`'s MRR under `definition` (MRR_DEFINITION); a rebuild begun under another
    must start over, or its months would mix two definitions."""
    built = mrr_clock.definition_of(conn.cursor(), schema)
    if built == definition:
        return
    started = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.mrr_clock)").format(sql.Identifier(schema))
    ).fetchone()
    if started and started[0]:
        raise ReplayError(
            f"{schema} was begun under MRR definition {built.name!r}, MRR_DEFINITION is "
            f"{definition.name!r}: run again with --restart"
        )
    mrr_clock.record_definition(conn, schema, definition)


@contextmanager
def _application(dsn: str, store: str, restart: bool) -> Iterator[BillingApplication]:
    if store != EVENT_STORE_SCHEMA:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if restart:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(store))
                )
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store)))
    app = bootstrap.application(dsn, store)
    try:
        yield app
    finally:
        app.close()


def _verify(pool: ConnectionPool, schema: str) -> bool:
    with pool.connection() as conn:
        diffs = rebuild.compare(conn, READ_SCHEMA, schema)
    print(f"{'table':<24} {'live':>10} {'rebuilt':>10} {'only live':>10} {'only rebuilt':>13}")
    for d in diffs:
        mark = "" if d.identical else "  <- differs"
        print(
            f"{d.table:<24} {d.live_rows:>10} {d.rebuilt_rows:>10} {d.only_live:>10} "
            f"{d.only_rebuilt:>13}{mark}"
        )
    differing = [d.table for d in diffs if not d.identical]
    if differing:
        print(f"rebuilt tables differ from the live ones: {', '.join(differing)}")
    else:
        print(f"identical: {len(diffs)} tables, {sum(d.rebuilt_rows for d in diffs):,} rows")
    return bool(differing)


def _swap(
    pool: ConnectionPool,
    projector: rebuild.Projector,
    schema: str,
    from_log: bool,
    postgres_log: bool,
) -> None:
    suffix = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    retired = f"{READ_SCHEMA}_replaced_{suffix}"
    with pool.connection() as conn, conn.transaction():
        if from_log and postgres_log:
            # Hold the follower's lock until the event store is swapped: a processor starting
            # meanwhile would read the old store's positions and skip what the rebuild lacks.
            row = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s)", (FOLLOWER_LOCK_KEY,)
            ).fetchone()
            if not row or not row[0]:
                raise ReplayError(FOLLOWER_RUNNING)
        rebuild.lock_live_positions(conn, READ_SCHEMA)
        while projector.project_batch(conn):  # what was stored since the rebuild caught up
            pass
        rebuild.swap(conn, READ_SCHEMA, schema, retired)
        audit.record(conn, "replay.swap", "ok", {"rebuilt": schema, "retired": retired})
        if from_log:
            ident = sql.Identifier
            conn.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    ident(EVENT_STORE_SCHEMA), ident(f"{EVENT_STORE_SCHEMA}_replaced_{suffix}")
                )
            )
            conn.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    ident(REBUILT_STORE), ident(EVENT_STORE_SCHEMA)
                )
            )
    print(f"swapped: {schema} is now {READ_SCHEMA}; the previous tables are kept in {retired}")
