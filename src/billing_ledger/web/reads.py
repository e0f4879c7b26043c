"""What the API's GET endpoints read: rows of the `billing` tables, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from billing_ledger.projections import metrics

QUERIES = {
    "payment_transactions": (
        "SELECT stripe_payment_intent_id AS id, livemode, status, amount, amount_received, "
        "amount_refunded, currency, payment_method_id, payment_method_type, wallet, "
        "failure_code, decline_code, failure_message, receipt_url, created_at, updated_at "
        "FROM billing.payment_transactions WHERE account_id = %s AND stripe_payment_intent_id = %s "
        "ORDER BY livemode DESC LIMIT 1"
    ),
    "subscriptions": (
        "SELECT stripe_subscription_id AS id, livemode, status, plan_id, current_period_start, "
        "current_period_end, trial_end, cancel_at_period_end, canceled_at, created_at, "
        "updated_at FROM billing.subscriptions WHERE account_id = %s AND "
        "stripe_subscription_id = %s ORDER BY livemode DESC LIMIT 1"
    ),
    "stripe_customers": (
        "SELECT stripe_customer_id AS id, livemode, email, name, user_id, "
        "default_payment_method, tax_id, billing_address, deleted_at, created_at, updated_at "
        "FROM billing.stripe_customers WHERE account_id = %s AND stripe_customer_id = %s "
        "ORDER BY livemode DESC LIMIT 1"
    ),
}


class InvalidQuery(ValueError):
    """A query parameter the endpoint cannot use (the message says which and why)."""


class Reads:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __call__(self, view: str, account: str, object_id: str) -> dict[str, Any] | None:
        """`object_id`: the object asked for, or for a collection the query string."""
        if view == "metrics":
            return self._metrics(account, object_id)
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            row = cursor.execute(QUERIES[view], (account, object_id)).fetchone()
        return None if row is None else {k: _json(v) for k, v in row.items()}

    def _metrics(self, account: str, query: str) -> dict[str, Any]:
        asked = {name: values[-1] for name, values in parse_qs(query).items()}
        unknown = sorted(set(asked) - {"livemode", "currency"})
        if unknown:
            raise InvalidQuery(f"unknown query parameter {unknown[0]!r} (livemode, currency)")
        livemode = asked.get("livemode")
        if livemode not in (None, "true", "false"):
            raise InvalidQuery("livemode must be true or false")
        selection = metrics.Selection(
            account, None if livemode is None else livemode == "true", asked.get("currency")
        )
        with self._pool.connection() as conn:
            definition = metrics.live_definition(conn)
            return {"mrr_definition": definition.name, **metrics.read(conn, selection)}


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value
