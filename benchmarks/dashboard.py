"""Dashboard benchmark: `GET /dashboard` over real HTTP on 100,000 subscriptions.

    python -m benchmarks.dashboard [--subscriptions 100000] [--months 24] [--runs 9]

The tables are those of `benchmarks/metrics_queries.py` (a seeded simulation of subscription
lives: snapshots, movements, month-end MRR, PaymentIntents and charges, failed invoices;
COPYed), plus the journal the projector would have posted for them, filled by SQL: for every
month a subscription paid, an invoice finalized (Dr receivable / Cr revenue) and paid (Dr
stripe_balance / Cr receivable), millions of lines in one statement whose trigger keeps the
balances summary (migration 0014), as the COPYed MRR snapshots keep the trials'; the failed
PaymentIntents carry a decline code. Then VACUUM ANALYZE.

The dashboard runs in this process (uvicorn in a thread) as `up` serves it, its session
cookie signed as a `dashboard-link` would make it. The page (its HTML: every figure read and
rendered) is requested once to warm up, then `--runs` times over one keep-alive connection;
the median and the slowest are reported, as is the page with its own three assets (Chart.js, the
page's script, its stylesheet; the theme's two are the customer pages'). The tables have no
projection positions, so every request reads every figure; then a position is written and
the page timed again while it does not move (its figures served as read). Last, each read of
the page alone.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.routing import Mount

from benchmarks.infra import conditions, fresh_database, postgres_server
from benchmarks.metrics_queries import load
from benchmarks.read_api import serving
from billing_ledger import bootstrap
from billing_ledger.projections import metrics
from billing_ledger.projections.projector import TRACKING_DDL
from billing_ledger.web.dashboard import access
from billing_ledger.web.dashboard.app import DashboardParts, create_dashboard
from billing_ledger.web.dashboard.figures import (
    BALANCES,
    CURRENCIES,
    FAILED,
    FAILED_SHOWN,
    GROUPS,
    RECEIVABLES,
    DashboardReads,
)
from billing_ledger.web.pages.links import LinkSigner

ASSETS = (
    "/dashboard/static/vendor/chart.umd.min.js",
    "/dashboard/static/dashboard.js",
    "/dashboard/static/dashboard.css",
)
# Each month a subscription contributed MRR (its customer's month-end MRR in mrr_movements'
# running sum is not kept per row, so: each month from its `new` movement to its churn): an
# invoice finalized on the month's 1st and paid on its 2nd, entries first, then their lines.
PAID = """
CREATE TEMPORARY TABLE paid AS
SELECT gen_random_uuid() AS finalized, gen_random_uuid() AS settled,
       n.customer_id, n.currency, n.amount_cents, m.month
FROM billing.mrr_movements n
JOIN billing.mrr_monthly m ON m.currency = n.currency AND m.month >= n.month
LEFT JOIN billing.mrr_movements c ON c.customer_id = n.customer_id AND c.kind = 'churn'
WHERE n.kind = 'new' AND (c.month IS NULL OR m.month < c.month)
"""
ENTRIES = """
INSERT INTO billing.journal_entries (id, account_id, livemode, occurred_at, kind, description,
    source_object, transition, stripe_event_id)
SELECT e.entry, '', true, (p.month + e.day) AT TIME ZONE 'UTC', e.kind, e.kind,
       'in_' || p.finalized, e.kind, 'evt_' || e.entry
FROM paid p, LATERAL (VALUES (p.finalized, 0, 'invoice_finalized'),
                             (p.settled, 1, 'invoice_paid')) AS e(entry, day, kind)
"""
LINES = """
INSERT INTO billing.journal_lines
    (id, account_id, livemode, entry_id, ledger_account, customer_id, debit_cents,
     credit_cents, currency)
SELECT gen_random_uuid(), '', true, e.entry, e.ledger_account, p.customer_id, e.debit,
       e.credit, p.currency
FROM paid p,
LATERAL (VALUES
    (finalized, 'accounts_receivable', amount_cents, 0::bigint),
    (finalized, 'revenue', 0::bigint, amount_cents),
    (settled, 'stripe_balance', amount_cents, 0::bigint),
    (settled, 'accounts_receivable', 0::bigint, amount_cents)
) AS e(entry, ledger_account, debit, credit)
"""


def fill_journal(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The rows balance per entry by construction: the per-row balance check is skipped;
        # the balances summary's statement trigger (migration 0014) runs as under a projector.
        conn.execute("ALTER TABLE billing.journal_lines DISABLE TRIGGER journal_lines_balance")
        conn.execute(PAID)
        conn.execute(ENTRIES)
        started = time.perf_counter()
        conn.execute(LINES)
        print(f"  journal lines posted in one statement: {time.perf_counter() - started:.1f}s")
        conn.execute("ALTER TABLE billing.journal_lines ENABLE TRIGGER journal_lines_balance")
        conn.execute(
            "UPDATE billing.payment_transactions SET failure_code = 'card_declined' "
            "WHERE status = 'requires_payment_method'"
        )
        for table in ("journal_entries", "journal_lines", "journal_balances"):
            conn.execute(f"VACUUM ANALYZE billing.{table}")
        conn.execute("VACUUM ANALYZE billing.payment_transactions")
        row = conn.execute("SELECT count(*) FROM billing.journal_lines").fetchone()
    return int(row[0]) if row else 0


def timed(client: httpx.Client, paths: tuple[str, ...], runs: int) -> list[float]:
    times: list[float] = []
    for run in range(runs + 1):
        started = time.perf_counter()
        for path in paths:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            answer.read()
        if run:
            times.append((time.perf_counter() - started) * 1000)
    return times


def parts_ms(pool: ConnectionPool, runs: int) -> list[tuple[str, float]]:
    """Each read of the page alone (median of `runs`), to show where its time goes."""
    with pool.connection() as conn:
        row = conn.execute(CURRENCIES, ("", True)).fetchone()
    assert row is not None
    currency = row[0]
    selection = metrics.Selection("", True, currency)
    params = {"account": "", "livemode": True, "currency": currency, "shown": FAILED_SHOWN}
    reads: list[tuple[str, Callable[[psycopg.Connection[Any]], object]]] = [
        *(
            (f"metrics section {name}", lambda c, n=name: metrics.read(c, selection, (n,)))
            for group in GROUPS
            for name in group
        ),
        ("failed payments to act on", lambda c: c.execute(FAILED, params).fetchall()),
        ("open receivables", lambda c: c.execute(RECEIVABLES, ("", True, currency)).fetchall()),
        ("trial balance", lambda c: c.execute(BALANCES, ("", True, currency)).fetchall()),
    ]
    found = []
    with pool.connection() as conn:
        for label, read in reads:
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                read(conn)
                times.append((time.perf_counter() - started) * 1000)
            found.append((label, statistics.median(times)))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"dashboard benchmark  {conditions()}")
    with postgres_server() as server, fresh_database(server) as dsn:
        started = time.perf_counter()
        counts = load(dsn, args.subscriptions, args.months, args.seed)
        lines = fill_journal(dsn)
        loaded = ", ".join(f"{table} {count:,}" for table, count in counts.items())
        print(
            f"loaded {args.subscriptions:,} subscriptions over {args.months} months in "
            f"{time.perf_counter() - started:.1f}s (simulated, COPY; journal by SQL): "
            f"{loaded}, journal_lines {lines:,}"
        )
        signer = LinkSigner(secrets.token_bytes(32))
        now = time.time()
        link = access.dashboard_link(signer, "", True, int(now) + 3600)
        session = signer.session(signer.verify(link, now), now)[1]
        with bootstrap.api_pool(dsn) as pool:
            app = create_dashboard(
                DashboardParts(
                    signer,
                    "http://127.0.0.1",
                    DashboardReads(pool),
                    lambda _: None,
                    "'none'",
                    time.time,
                )
            )
            pages = Starlette(routes=[Mount("/", app)])
            with (
                serving(pages) as url,
                httpx.Client(base_url=url, cookies={access.COOKIE: session}, timeout=60) as client,
            ):
                html = client.get("/dashboard")
                assert "dashboard-data" in html.text, html.text[:500]
                print(f"  page: {len(html.content):,} bytes of HTML")
                for label, paths in (
                    ("GET /dashboard (HTML, every figure read)", ("/dashboard",)),
                    ("GET /dashboard with its assets", ("/dashboard", *ASSETS)),
                ):
                    times = timed(client, paths, args.runs)
                    print(
                        f"  {label:<40} median {statistics.median(times):8.1f} ms, "
                        f"slowest {max(times):8.1f} ms over {args.runs} runs"
                    )
                # As under a projector: positions in billing.projection_tracking. While none
                # moves, the page's figures are served again as read (figures.py).
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(TRACKING_DDL.format(schema="billing"))
                    conn.execute("INSERT INTO billing.projection_tracking VALUES ('mrr', 1)")
                times = timed(client, ("/dashboard",), args.runs)
                print(
                    f"  {'GET /dashboard, no projector commit since':<40} median "
                    f"{statistics.median(times):8.1f} ms, slowest {max(times):8.1f} ms "
                    f"over {args.runs} runs"
                )
            print("  each read alone, one after another (the page runs them on 4 connections):")
            for label, ms in parts_ms(pool, 3):
                print(f"    {label:<38} median {ms:8.1f} ms over 3 runs")
    print(f"done  {conditions()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
