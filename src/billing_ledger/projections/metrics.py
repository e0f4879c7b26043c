"""The business metrics, read from the `billing` views of migration 0011, and the same views
over MRR recomputed under another definition, for `billing-ledger metrics` and the API.

Every section is one view, read with the same filters (account, livemode, currency where the
view has one). Money stays integer minor units; ratios are numbers rounded to 6 places.

Another definition is recomputed inside one transaction that is rolled back: a scratch schema
gets the read schema's migrations (so the same views, over its own tables), a copy of the MRR
snapshots, the definition, and the MRR projection's own recomputation. Nothing of it remains.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from billing_ledger.projections.migrations import READ_SCHEMA, migrate
from billing_ledger.projections.mrr import MrrProjection
from billing_ledger.projections.mrr_clock import definition_of, record_definition
from billing_ledger.projections.mrr_definitions import MrrDefinition

Connection = psycopg.Connection[Any]

# section -> (view, has a currency column, order)
SECTIONS: dict[str, tuple[str, bool, str]] = {
    "mrr": ("mrr_current", True, "account_id, livemode DESC, currency"),
    "lifetime_value": ("customer_lifetime_value", True, "account_id, livemode DESC, currency"),
    "churn": ("mrr_churn_monthly", True, "account_id, livemode DESC, currency, month"),
    "cohorts": (
        "mrr_cohorts",
        True,
        "account_id, livemode DESC, currency, cohort_month, month",
    ),
    "trials": ("trial_conversion_monthly", False, "account_id, livemode DESC, trial_month"),
    "payment_conversion": (
        "payment_conversion_monthly",
        False,
        "account_id, livemode DESC, month",
    ),
    "payment_success": (
        "payment_success_by_method",
        False,
        "account_id, livemode DESC, payment_method_type",
    ),
    "churn_by_cause": ("churn_by_cause_monthly", False, "account_id, livemode DESC, month"),
    "dunning": ("dunning_recovery_monthly", True, "account_id, livemode DESC, currency, month"),
}
# What another definition changes: the MRR-derived sections.
MRR_SECTIONS = ("mrr", "lifetime_value", "churn", "cohorts")
# The MRR projection's inputs, copied into the scratch schema to recompute from.
MRR_INPUTS = (
    "mrr_points",
    "mrr_coupons",
    "mrr_discounts",
    "mrr_customer_discounts",
    "mrr_horizon",
    "mrr_clock",
)


@dataclass(frozen=True)
class Selection:
    account: str | None = None
    livemode: bool | None = None
    currency: str | None = None


def read(
    conn: Connection,
    selection: Selection = Selection(),
    sections: tuple[str, ...] = tuple(SECTIONS),
    schema: str = READ_SCHEMA,
) -> dict[str, list[dict[str, Any]]]:
    """Each section's rows, as JSON-ready dicts."""
    found: dict[str, list[dict[str, Any]]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for section in sections:
            view, has_currency, order = SECTIONS[section]
            conditions = [
                sql.SQL("(%(account)s::text IS NULL OR account_id = %(account)s)"),
                sql.SQL("(%(livemode)s::boolean IS NULL OR livemode = %(livemode)s)"),
            ]
            if has_currency:
                conditions.append(
                    sql.SQL("(%(currency)s::text IS NULL OR currency = %(currency)s)")
                )
            query = sql.SQL("SELECT * FROM {}.{} WHERE {} ORDER BY {}").format(
                sql.Identifier(schema),
                sql.Identifier(view),
                sql.SQL(" AND ").join(conditions),
                sql.SQL(order),
            )
            params = {
                "account": selection.account,
                "livemode": selection.livemode,
                "currency": selection.currency.lower() if selection.currency else None,
            }
            found[section] = [
                {k: _json(v) for k, v in row.items()} for row in cur.execute(query, params)
            ]
    return found


def available(conn: Connection, schema: str = READ_SCHEMA) -> bool:
    """Whether `schema` has the metrics (migration 0011)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.mrr_current",)).fetchone()
    return bool(row and row[0])


def live_definition(conn: Connection, schema: str = READ_SCHEMA) -> MrrDefinition:
    return definition_of(conn.cursor(), schema)


def under_definition(
    conn: Connection, definition: MrrDefinition, selection: Selection = Selection()
) -> dict[str, list[dict[str, Any]]]:
    """The MRR sections as they would read under `definition`, recomputed from the snapshots
    (see the module docstring); the database is left as it was."""
    scratch = f"billing_metrics_{os.getpid()}"
    with conn.transaction(force_rollback=True):
        # One snapshot of every input, whatever the live projector commits meanwhile.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        migrate(conn, scratch)
        ident = sql.Identifier
        for table in MRR_INPUTS:
            conn.execute(
                sql.SQL("INSERT INTO {}.{} SELECT * FROM {}.{}").format(
                    ident(scratch), ident(table), ident(READ_SCHEMA), ident(table)
                )
            )
        record_definition(conn, scratch, definition)
        with conn.cursor() as cur:
            MrrProjection(scratch).recompute_all(cur)
        return read(conn, selection, MRR_SECTIONS, scratch)


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    return value
