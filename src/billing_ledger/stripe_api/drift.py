"""Drift: the ledger's objects compared with what Stripe's list endpoints show now.

Reconciliation by events finds what the log lacks within Stripe's 30 days; this deeper pass
(`reconcile --objects`) compares each kind's objects and their status with the list
endpoints, whatever their age: objects Stripe has that the ledger lacks, objects whose status
differs, and objects the ledger holds as live that Stripe no longer lists (deleted at Stripe
without the ledger hearing of it). A difference is reported, never repaired here: a backfill
appends the objects' current state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import ConnectionPool

from billing_ledger.errors import BillingLedgerError
from billing_ledger.stripe_api.paging import Lister

NO_READ_SCHEMA = (
    "the ledger's tables do not exist yet, so there is nothing to compare: run "
    "`billing-ledger up` (or `process`) first"
)


class NoReadSchema(BillingLedgerError):
    """The read schema was never created on this database."""


@dataclass(frozen=True)
class Kind:
    name: str
    resource: str
    params: Mapping[str, Any]
    table: str
    id_column: str
    status: str  # SQL of the row's status; NULL for kinds without one
    gone: str  # SQL that is true for a row Stripe no longer lists (deleted)


KINDS = (
    Kind("customers", "customers", {}, "stripe_customers", "stripe_customer_id",
         "NULL", "deleted_at IS NOT NULL"),
    Kind("subscriptions", "subscriptions", {"status": "all"}, "subscriptions",
         "stripe_subscription_id", "status", "false"),
    Kind("invoices", "invoices", {}, "invoices", "stripe_invoice_id", "status",
         "status = 'deleted'"),
    Kind("payment_intents", "payment_intents", {}, "payment_transactions",
         "stripe_payment_intent_id", "status", "false"),
)  # fmt: skip


@dataclass(frozen=True)
class KindDrift:
    kind: str
    at_stripe: int
    in_ledger: int
    missing: list[str] = field(default_factory=list)  # at Stripe, not in the ledger
    differing: list[str] = field(default_factory=list)  # another status in the ledger
    deleted: list[str] = field(default_factory=list)  # live in the ledger, gone at Stripe

    @property
    def drifted(self) -> bool:
        return bool(self.missing or self.differing or self.deleted)


def compare(
    lister: Lister,
    pool: ConnectionPool,
    account: str,
    livemode: bool,
    report: Callable[[KindDrift], None] = lambda drift: None,
) -> list[KindDrift]:
    """Each kind's drift between the ledger's tables on `pool` and Stripe's lists."""
    found = []
    for kind in KINDS:
        stripe = {
            str(obj["id"]): obj.get("status")
            for page in lister.pages(kind.resource, kind.params)
            for obj in page.objects
        }
        with pool.connection() as conn:
            if conn.execute(f"SELECT to_regclass('billing.{kind.table}')").fetchone() == (None,):
                raise NoReadSchema(NO_READ_SCHEMA)
            rows = conn.execute(
                f"SELECT {kind.id_column}, {kind.status}, {kind.gone} FROM billing.{kind.table} "
                "WHERE account_id = %s AND livemode = %s",
                (account, livemode),
            ).fetchall()
        ledger = {row[0]: (row[1], row[2]) for row in rows}
        drift = KindDrift(
            kind.name,
            len(stripe),
            len(ledger),
            missing=sorted(set(stripe) - set(ledger)),
            differing=sorted(
                i
                for i, status in stripe.items()
                if i in ledger and ledger[i][1] is not True and _differs(status, ledger[i][0])
            ),
            deleted=sorted(i for i, (_, gone) in ledger.items() if i not in stripe and not gone),
        )
        report(drift)
        found.append(drift)
    return found


def _differs(at_stripe: Any, in_ledger: Any) -> bool:
    return in_ledger is not None and at_stripe != in_ledger
