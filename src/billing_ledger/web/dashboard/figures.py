"""What the dashboard shows, read from the metrics views and the `billing` tables.

The MRR, churn, trial, payment and dunning figures are the sections of
`billing-ledger metrics` and `GET /api/v1/metrics`, read by the same code
(`projections/metrics.read`) for one account, mode and currency, so the page and the API
cannot disagree. Beside them, three bounded reads of the tables: the failed payments to act
on (the latest few and how many), the open receivables (count, sum, oldest due date) and the
journal's trial balance. Every read is grouped by month, currency or ledger account: the
number of rows fetched grows with months × currencies, not with subscriptions.

The sections are read on a few pooled connections at once, each in a repeatable-read
snapshot of its own (the projector commits meanwhile; a figure is as of its own read).

The tables change only when a projector commits, and each commit moves its position in
`billing.projection_tracking`; so the figures of a view are kept with the positions they were
read at and served again while no position moved (a swapped schema brings another tracking
table, hence another key). A load after any change reads everything again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from billing_ledger.projections import metrics
from billing_ledger.web.dashboard.access import View

FAILED_SHOWN = 10
# The metrics sections, in groups read on connections of their own (the heaviest apart).
GROUPS: tuple[tuple[str, ...], ...] = (
    ("mrr", "churn", "dunning", "payment_success"),
    ("trials",),
    ("payment_conversion",),
)
# The currencies MRR was ever measured in (mrr_monthly has a row per month and currency).
CURRENCIES = (
    "SELECT DISTINCT currency FROM billing.mrr_monthly WHERE account_id = %s AND livemode = %s "
    "ORDER BY 1"
)
ACCOUNTS = "SELECT account_id, livemode FROM billing.mrr_clock ORDER BY account_id, livemode DESC"
# What to act on: open invoices whose payment failed (dunning under way), and PaymentIntents
# of no invoice whose last attempt failed and that still wait for a payment method.
FAILED = (
    "SELECT * , count(*) OVER () AS total FROM ("
    "SELECT i.stripe_invoice_id AS id, 'invoice' AS object, c.stripe_customer_id AS customer, "
    "i.amount_remaining AS amount, i.currency, 'invoice_payment_failed' AS failure_code, "
    "to_timestamp(max(f.created)) AS failed_at, count(*) AS attempts "
    "FROM billing.invoice_payment_failures f "
    "JOIN billing.invoices i ON i.account_id = f.account_id AND i.livemode = f.livemode "
    "AND i.stripe_invoice_id = f.stripe_invoice_id "
    "LEFT JOIN billing.stripe_customers c ON c.id = i.customer_id "
    "WHERE f.account_id = %(account)s AND f.livemode = %(livemode)s "
    "AND i.currency = %(currency)s AND i.status = 'open' "
    "GROUP BY i.stripe_invoice_id, c.stripe_customer_id, i.amount_remaining, i.currency "
    "UNION ALL "
    "SELECT t.stripe_payment_intent_id, 'payment_intent', c.stripe_customer_id, t.amount, "
    "t.currency, t.failure_code, t.updated_at, 1 "
    "FROM billing.payment_transactions t "
    "LEFT JOIN billing.stripe_customers c ON c.id = t.customer_id "
    "WHERE t.account_id = %(account)s AND t.livemode = %(livemode)s "
    "AND t.currency = %(currency)s AND t.invoice_id IS NULL "
    "AND t.status = 'requires_payment_method' AND t.failure_code IS NOT NULL"
    ") acted ORDER BY failed_at DESC, id LIMIT %(shown)s"
)
RECEIVABLES = (
    "SELECT count(*) AS invoices, coalesce(sum(amount_remaining), 0)::bigint AS open_cents, "
    "min(due_date) AS oldest_due FROM billing.invoices "
    "WHERE account_id = %s AND livemode = %s AND currency = %s AND status = 'open'"
)
BALANCES = (
    "SELECT ledger_account, balance_cents FROM billing.account_balances "
    "WHERE account_id = %s AND livemode = %s AND currency = %s ORDER BY ledger_account"
)


# What the tables were projected up to, in the live schema: every projection's position and
# the tracking table's own oid (None where nothing projects, e.g. tables filled by hand).
TRACKED = "SELECT to_regclass('billing.projection_tracking')::oid::bigint"
POSITIONS = "SELECT projection, position FROM billing.projection_tracking ORDER BY projection"
KEPT = 64
"""How many views' figures are kept (each is a few kilobytes)."""


@dataclass
class Figures:
    view: View
    currency: str | None
    currencies: list[str]
    accounts: list[tuple[str, bool]]
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failed: list[dict[str, Any]] = field(default_factory=list)
    failed_total: int = 0
    receivables: dict[str, Any] = field(default_factory=dict)
    balances: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any] | None:
        rows = self.sections.get("mrr", [])
        return rows[0] if rows else None


class DashboardReads:
    """The figures of one view and currency (the view's first currency when none is asked)."""

    def __init__(self, pool: ConnectionPool, workers: int = len(GROUPS) + 1) -> None:
        self._pool = pool
        self._workers = workers
        self._kept: dict[tuple[View, str | None], tuple[Any, Figures]] = {}
        self._lock = threading.Lock()

    def __call__(self, view: View, currency: str | None) -> Figures:
        version = self._version()
        with self._lock:
            kept = self._kept.get((view, currency))
        if version is not None and kept is not None and kept[0] == version:
            return kept[1]
        figures = self._read(view, currency)
        if version is not None:
            with self._lock:
                if len(self._kept) >= KEPT:
                    self._kept.pop(next(iter(self._kept)))
                self._kept[(view, currency)] = (version, figures)
        return figures

    def _version(self) -> tuple[Any, ...] | None:
        with self._pool.connection() as conn:
            row = conn.execute(TRACKED).fetchone()
            if row is None or row[0] is None:
                return None
            return (row[0], *conn.execute(POSITIONS).fetchall())

    def _read(self, view: View, currency: str | None) -> Figures:
        scope = (view.account, view.livemode)
        with self._pool.connection() as conn:
            currencies = [r[0] for r in conn.execute(CURRENCIES, scope).fetchall()]
            accounts = [(r[0], r[1]) for r in conn.execute(ACCOUNTS).fetchall()]
        chosen = currency if currency in currencies else (currencies[0] if currencies else None)
        figures = Figures(view, chosen, currencies, accounts)
        if chosen is None:
            return figures
        selection = metrics.Selection(view.account, view.livemode, chosen)
        jobs: list[Callable[[], None]] = [
            *(self._section_job(figures, selection, group) for group in GROUPS),
            lambda: self._tables(figures, (*scope, chosen)),
        ]
        with ThreadPoolExecutor(self._workers) as pool:
            for done in [pool.submit(job) for job in jobs]:
                done.result()
        return figures

    def _section_job(
        self, figures: Figures, selection: metrics.Selection, group: tuple[str, ...]
    ) -> Callable[[], None]:
        def job() -> None:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                figures.sections.update(metrics.read(conn, selection, group))

        return job

    def _tables(self, figures: Figures, params: tuple[str, bool, str]) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            with conn.cursor(row_factory=dict_row) as cur:
                named = dict(zip(("account", "livemode", "currency"), params, strict=True))
                failed = cur.execute(FAILED, {**named, "shown": FAILED_SHOWN}).fetchall()
                figures.failed_total = int(failed[0]["total"]) if failed else 0
                figures.failed = [{k: v for k, v in r.items() if k != "total"} for r in failed]
                figures.receivables = dict(cur.execute(RECEIVABLES, params).fetchone() or {})
                figures.balances = list(cur.execute(BALANCES, params).fetchall())


__all__ = ["DashboardReads", "Figures"]
