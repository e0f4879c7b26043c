"""Which Stripe accounts `up` reconciles: the platform, and every Connect account it knows.

A Connect account's events are listed only with its `Stripe-Account`, so reconciling the
platform alone would never find a Connect account's lost webhook. The accounts are, in order:
the platform (''), those named in `STRIPE_CONNECT_ACCOUNTS`, and those the ledger has seen in
the same mode: a scope whose events were applied (`billing.mrr_clock`, one row per account and
mode), a backfill (`ops.backfill_cursors`) or an earlier reconciliation (`ops.reconcile_runs`).
The setting covers an account whose every webhook was lost; the rest need no configuration.
Asked again before each scheduled run, so an account first seen since is reconciled next.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg_pool import ConnectionPool

# Where the ledger records the accounts it has seen, each table with (account_id, livemode).
SEEN_IN = ("billing.mrr_clock", "ops.backfill_cursors", "ops.reconcile_runs")


def known_accounts(pool: ConnectionPool, livemode: bool, configured: Iterable[str]) -> list[str]:
    """The platform, the configured Connect accounts, then those seen, each once."""
    found = ["", *configured]
    with pool.connection() as conn:
        for table in SEEN_IN:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                continue
            rows = conn.execute(
                f"SELECT DISTINCT account_id FROM {table} WHERE livemode = %s ORDER BY 1",
                (livemode,),
            ).fetchall()
            found.extend(row[0] for row in rows)
    return list(dict.fromkeys(found))
