"""`billing-ledger status`: the log head, the positions of record, and the lag between them."""

from __future__ import annotations

import argparse

import psycopg

from billing_ledger.bootstrap import database, open_event_log
from billing_ledger.settings import Settings


def status(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as dsn:
        return print_status(settings, dsn)


def print_status(settings: Settings, dsn: str) -> int:
    event_log = open_event_log(settings, dsn)
    try:
        head = event_log.head()
    finally:
        event_log.close()
    with psycopg.connect(dsn) as conn:
        tracked: dict[str, int] = dict(
            conn.execute(
                "SELECT application_name, notification_id FROM eventstore.billing_tracking"
            ).fetchall()
        )
        domain_head = conn.execute(
            "SELECT coalesce(max(notification_id), 0) FROM eventstore.billing_events"
        ).fetchone()
        projected: dict[str, int] = dict(
            conn.execute("SELECT projection, position FROM billing.projection_tracking").fetchall()
        )
    print(f"{'log':<28} {'head':>10} {'processed':>10} {'lag':>8}")
    for name in sorted(head):
        done = tracked.get(name, -1 if settings.EVENT_LOG == "kafka" else 0)
        print(f"{name:<28} {head[name]:>10} {done:>10} {head[name] - done:>8}")
    events_head = int(domain_head[0]) if domain_head else 0
    print(f"\n{'projection':<28} {'head':>10} {'projected':>10} {'lag':>8}")
    for name, position in sorted(projected.items()):
        print(f"{name:<28} {events_head:>10} {position:>10} {events_head - position:>8}")
    return 0
