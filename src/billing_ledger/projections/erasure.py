"""Redacting an erased person's rows in place, exactly as a rebuild would write them once their
key is gone (projections/reveal.py): text that was shown becomes REDACTED, JSON that had any
value becomes NULL, NULL stays NULL. Nothing else in a row changes: ids, amounts, statuses and
dates are not personal.

`PERSONAL_COLUMNS` are the only columns of the read schema that show personal values. Each row
shows those of one data subject: a customer's row and its invoices show the customer's; a
payment's receipt link is the customer's, or the payment's own subject when it names none.
Every read schema is redacted (the live one, a rebuild in progress, those retired by a swap),
so no copy of the tables keeps what was erased.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from psycopg import sql

from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.schemas.personal import REDACTED

Kind = Literal["text", "json"]
PERSONAL_COLUMNS: dict[str, tuple[tuple[str, Kind], ...]] = {
    "stripe_customers": (
        ("email", "text"),
        ("name", "text"),
        ("tax_id", "text"),
        ("billing_address", "json"),
    ),
    "invoices": (("invoice_pdf", "text"), ("hosted_invoice_url", "text")),
    "payment_transactions": (("receipt_url", "text"),),
}
# Which rows of each table show a subject's values (%(ids)s: the subjects' row ids).
ROWS_OF = {
    "stripe_customers": "id = ANY(%(ids)s)",
    "invoices": "customer_id = ANY(%(ids)s)",
    "payment_transactions": "customer_id = ANY(%(ids)s) OR id = ANY(%(ids)s)",
}


def read_schemas(conn: psycopg.Connection[Any]) -> list[str]:
    """Every schema that holds the read schema's tables (live, rebuilt or retired)."""
    rows = conn.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'stripe_customers' "
        "AND table_type = 'BASE TABLE' ORDER BY table_schema"
    ).fetchall()
    return [row[0] for row in rows]


def redact(
    conn: psycopg.Connection[Any], account_id: str, livemode: bool, subjects: list[str]
) -> dict[str, int]:
    """Inside the caller's transaction: redact the subjects' rows in every read schema.
    Returns the rows changed per table (all schemas together)."""
    ids = [stripe_uuid(account_id, livemode, subject) for subject in subjects]
    changed: dict[str, int] = {}
    for schema in read_schemas(conn):
        for table, columns in PERSONAL_COLUMNS.items():
            statement = sql.SQL("UPDATE {}.{} SET {} WHERE ({}) AND ({})").format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(_redacted(name, kind) for name, kind in columns),
                sql.SQL(ROWS_OF[table]),
                sql.SQL(" OR ").join(_shown(name, kind) for name, kind in columns),
            )
            cur = conn.execute(statement, {"ids": ids, "redacted": REDACTED})
            changed[table] = changed.get(table, 0) + cur.rowcount
    return changed


def _redacted(name: str, kind: Kind) -> sql.Composable:
    column = sql.Identifier(name)
    if kind == "json":
        return sql.SQL("{0} = CASE WHEN {1} THEN NULL ELSE {0} END").format(
            column, _has_values(column)
        )
    return sql.SQL("{0} = CASE WHEN {0} IS NULL THEN NULL ELSE %(redacted)s END").format(column)


def _shown(name: str, kind: Kind) -> sql.Composable:
    """The column still shows something a redaction would change."""
    column = sql.Identifier(name)
    if kind == "json":
        return _has_values(column)
    return sql.SQL("{0} IS DISTINCT FROM %(redacted)s AND {0} IS NOT NULL").format(column)


def _has_values(column: sql.Identifier) -> sql.Composable:
    return sql.SQL(
        "({0} IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_each({0}) e WHERE e.value <> 'null'))"
    ).format(column)
