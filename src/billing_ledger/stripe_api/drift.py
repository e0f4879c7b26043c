"""Drift: the ledger's objects compared with what Stripe's list endpoints show now.

Reconciliation by events finds what the log lacks within Stripe's 30 days; this deeper pass
(`reconcile --objects`) compares each kind's objects and their status with the list
endpoints, whatever their age: objects Stripe has that the ledger lacks, objects whose status
differs, and objects the ledger holds as live that Stripe no longer lists (deleted at Stripe
without the ledger hearing of it). A difference is reported, never repaired here: a backfill
appends the objects' current state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
    """One kind the backfill lists, and where the ledger holds it (SQL over `rows`, the
    kind's table or join, whose first table is aliased `t`)."""

    name: str
    resource: str
    params: Mapping[str, Any]
    rows: str
    id_column: str
    status: str  # SQL of the row's status; NULL for kinds without one
    gone: str  # SQL that is true for a row Stripe no longer lists (deleted, detached)
    per_customer: bool = False  # listed per customer (`parent`): a customer's payment methods
    listed_status: str | None = None  # the status of every listed object, where it has none


KINDS = (
    Kind("coupons", "coupons", {}, "mrr_coupons t", "t.stripe_coupon_id",
         "CASE WHEN t.deleted THEN 'deleted' END", "t.deleted"),
    Kind("customers", "customers", {}, "stripe_customers t", "t.stripe_customer_id",
         "CASE WHEN t.deleted_at IS NOT NULL THEN 'deleted' END", "t.deleted_at IS NOT NULL"),
    Kind("subscriptions", "subscriptions", {"status": "all"}, "subscriptions t",
         "t.stripe_subscription_id", "t.status", "false"),
    Kind("invoices", "invoices", {}, "invoices t", "t.stripe_invoice_id", "t.status",
         "t.status = 'deleted'"),
    Kind("payment_intents", "payment_intents", {}, "payment_transactions t",
         "t.stripe_payment_intent_id", "t.status", "false"),
    Kind("charges", "charges", {}, "payment_charges t", "t.stripe_charge_id", "t.status",
         "false"),
    Kind("refunds", "refunds", {}, "refunds t", "t.stripe_refund_id", "t.status", "false"),
    Kind("disputes", "disputes", {}, "disputes t", "t.stripe_dispute_id", "t.status", "false"),
    # Stripe lists a customer's attached methods only: listed means attached. A deleted
    # customer's methods are detached with it, so only listed customers' methods compare.
    Kind("payment_methods", "customers.payment_methods", {},
         "payment_methods t LEFT JOIN billing.stripe_customers c ON c.id = t.customer_id "
         "AND c.deleted_at IS NULL",
         "t.stripe_payment_method_id", "t.status", "t.status = 'detached' OR c.id IS NULL",
         per_customer=True, listed_status="attached"),
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
    customers: list[str] = []
    for kind in KINDS:
        stripe = {
            str(obj["id"]): kind.listed_status or obj.get("status")
            for obj in _listed(lister, kind, customers)
        }
        if kind.name == "customers":
            customers = sorted(stripe)
        ledger = _held(pool, kind, account, livemode)
        drift = KindDrift(
            kind.name,
            len(stripe),
            sum(1 for _, gone in ledger.values() if not gone),
            missing=sorted(set(stripe) - set(ledger)),
            differing=sorted(
                i for i, status in stripe.items() if i in ledger and _differs(status, ledger[i][0])
            ),
            deleted=sorted(i for i, (_, gone) in ledger.items() if i not in stripe and not gone),
        )
        report(drift)
        found.append(drift)
    return found


def _listed(lister: Lister, kind: Kind, customers: list[str]) -> Iterator[dict[str, Any]]:
    parents: list[str | None] = list(customers) if kind.per_customer else [None]
    for parent in parents:
        for page in lister.pages(kind.resource, kind.params, parent=parent):
            yield from page.objects


def _held(
    pool: ConnectionPool, kind: Kind, account: str, livemode: bool
) -> dict[str, tuple[Any, bool]]:
    """The ledger's rows of `kind`: id → (status, gone)."""
    table = kind.rows.split()[0]
    with pool.connection() as conn:
        if conn.execute(f"SELECT to_regclass('billing.{table}')").fetchone() == (None,):
            raise NoReadSchema(NO_READ_SCHEMA)
        rows = conn.execute(
            f"SELECT {kind.id_column}, {kind.status}, {kind.gone} FROM billing.{kind.rows} "
            "WHERE t.account_id = %s AND t.livemode = %s",
            (account, livemode),
        ).fetchall()
    return {row[0]: (row[1], bool(row[2])) for row in rows}


def _differs(at_stripe: Any, in_ledger: Any) -> bool:
    return in_ledger is not None and at_stripe != in_ledger
