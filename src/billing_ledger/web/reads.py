"""What the API's GET endpoints read: rows of the `billing` tables, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

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


class Reads:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __call__(self, view: str, account: str, object_id: str) -> dict[str, Any] | None:
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            row = cursor.execute(QUERIES[view], (account, object_id)).fetchone()
        return None if row is None else {k: _json(v) for k, v in row.items()}


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value
