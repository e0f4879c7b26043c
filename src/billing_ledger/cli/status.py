"""`billing-ledger status`: how far the processor and the projections are behind the log."""

from __future__ import annotations

import argparse
from typing import Any

import psycopg

from billing_ledger.bootstrap import database, opened_event_log
from billing_ledger.processing.application import EVENT_STORE_SCHEMA
from billing_ledger.projections.migrations import READ_SCHEMA
from billing_ledger.settings import Settings

TRACKING = f"{EVENT_STORE_SCHEMA}.billing_tracking"
EVENTS = f"{EVENT_STORE_SCHEMA}.billing_events"
PROJECTIONS = f"{READ_SCHEMA}.projection_tracking"


def status(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as dsn:
        return print_status(settings, dsn)


def print_status(settings: Settings, dsn: str) -> int:
    """Two tables: the log of record's raw Stripe events against the processor's positions,
    then the domain events (what the processor derived from them) against each projection's."""
    with opened_event_log(settings, dsn) as event_log, psycopg.connect(dsn) as conn:
        head = event_log.head()
        tracked = dict(_rows(conn, f"SELECT application_name, notification_id FROM {TRACKING}"))
        domain_head = dict(_rows(conn, f"SELECT 'head', max(notification_id) FROM {EVENTS}"))
        projected = dict(_rows(conn, f"SELECT projection, position FROM {PROJECTIONS}"))
        print("log of record: Stripe events as received")
        print(f"  {'log':<26} {'last position':>13} {'processed':>10} {'to process':>10}")
        for name in sorted(head):
            done = tracked.get(name)
            behind = event_log.unprocessed(head[name], done)
            shown = "-" if done is None else str(done)
            print(f"  {name:<26} {head[name]:>13} {shown:>10} {behind:>10}")
        if not head:
            print("  (empty: no webhook has been received yet)")
    events = domain_head.get("head") or 0
    print("\nprojections: domain events, which the processor derives from the Stripe events")
    print(f"  {'projection':<26} {'last position':>13} {'projected':>10} {'to project':>10}")
    for name, position in sorted(projected.items()):
        print(f"  {name:<26} {events:>13} {position:>10} {events - position:>10}")
    if not projected:
        print("  (none yet: start `billing-ledger up` or `process`)")
    return 0


def _rows(conn: psycopg.Connection[Any], query: str) -> list[tuple[str, int]]:
    """The rows of `query`, or none when its table does not exist yet (a fresh database)."""
    try:
        with conn.transaction():
            return [(str(a), int(b)) for a, b in conn.execute(query).fetchall() if b is not None]
    except psycopg.errors.UndefinedTable:
        return []
