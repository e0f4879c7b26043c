"""Every list of the read API in one table: its path, the `billing` rows it reads, its unique
order and the filters it takes. The routes, the queries and the OpenAPI document are all built
from this table (`finance_reads.py`), so no list is served undocumented or filtered otherwise
than documented.

The SQL reads the tables finance reads with SQL (README, "For finance: SQL"), with Stripe ids
for references. Orders are ascending, oldest first, and end in the row's id (or the primary
key), which makes them unique: `(created_at, id)` for objects, `(occurred_at, id)` for journal
entries, the primary key for the MRR tables and the grouping key for balances. Indexes on each
order are in schemas/migrations/0010_read_api_orders.sql.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from billing_ledger.web import finance_models as m
from billing_ledger.web.listing import (
    Key,
    parse_account,
    parse_as_of,
    parse_currency,
    parse_livemode,
    parse_moment,
    parse_month,
    parse_statuses,
)

__all__ = ["LISTINGS", "Children", "Filter", "Listing", "Single"]


@dataclass(frozen=True)
class Filter:
    """A query parameter: how it is parsed, the SQL condition it adds (one `%s`), and its
    OpenAPI description and schema."""

    name: str
    description: str
    parse: Callable[[str], Any]
    clause: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Children:
    """Rows hanging off each row of a page (a subscription's items, an entry's lines), read in
    one query for the whole page: `query` takes the page's ids (the last key column) and
    selects `_parent` beside the child's fields."""

    field: str
    query: str


@dataclass(frozen=True)
class Single:
    """`GET {path}/{param}`: one object by its Stripe id (`clause`), in the account the
    `Stripe-Account` header names (the platform's without it), live mode first."""

    param: str
    pattern: str
    clause: str


@dataclass(frozen=True)
class Listing:
    name: str
    path: str
    summary: str
    model: type[BaseModel]
    columns: str
    source: str
    keys: tuple[Key, ...]
    filters: tuple[Filter, ...]
    group_by: str = ""
    scope: tuple[str, str, str] | None = None  # path parameter, id pattern, condition
    children: Children | None = None
    single: Single | None = None


# An ISO date or date-time: no JSON Schema format takes both, so the description says it.
MOMENT = {"type": "string"}


def scoped(t: str) -> tuple[Filter, Filter]:
    return (
        Filter(
            "account",
            "Only this Connect account (acct_…); empty (`account=`) for the platform's own",
            parse_account,
            f"{t}.account_id = %s",
            {"type": "string", "pattern": "^(acct_[A-Za-z0-9]+)?$"},
        ),
        Filter(
            "livemode",
            "true for live mode, false for test mode",
            parse_livemode,
            f"{t}.livemode = %s",
            {"type": "boolean"},
        ),
    )


def currency(clause: str) -> Filter:
    return Filter(
        "currency",
        "Only this ISO currency (e.g. eur)",
        parse_currency,
        clause,
        {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    )


def statuses(column: str) -> Filter:
    return Filter(
        "status",
        "Only these statuses, comma-separated (e.g. active,past_due)",
        parse_statuses,
        f"{column} = ANY(%s)",
    )


def period(column: str) -> tuple[Filter, Filter]:
    return (
        Filter(
            "since",
            f"Only rows whose `{column.split('.')[-1]}` is at or after this ISO date or "
            "date-time (UTC unless it names a zone)",
            lambda text: parse_moment(text, "since"),
            f"{column} >= %s",
            MOMENT,
        ),
        Filter(
            "until",
            f"Only rows whose `{column.split('.')[-1]}` is before this ISO date or date-time",
            lambda text: parse_moment(text, "until"),
            f"{column} < %s",
            MOMENT,
        ),
    )


def months(column: str) -> tuple[Filter, Filter]:
    schema = {"type": "string", "pattern": r"^\d{4}-\d{2}$"}
    return (
        Filter(
            "from",
            "From this month on (YYYY-MM, inclusive)",
            lambda text: parse_month(text, "from"),
            f"{column} >= %s",
            schema,
        ),
        Filter(
            "to",
            "Up to this month (YYYY-MM, inclusive)",
            lambda text: parse_month(text, "to"),
            f"{column} <= %s",
            schema,
        ),
    )


def by_time(t: str, column: str = "created_at") -> tuple[Key, Key]:
    return Key(f"{t}.{column}", "timestamp"), Key(f"{t}.id", "uuid")


def stripe_id_of(table: str, alias: str, ref: str) -> str:
    return f"LEFT JOIN billing.{table} {alias} ON {alias}.id = {ref}"


CUSTOMERS = Listing(
    "customers",
    "/customers",
    "Customers (billing.stripe_customers), oldest first",
    m.Customer,
    "t.stripe_customer_id AS id, t.account_id, t.livemode, t.email, t.name, "
    "t.user_id::text AS user_id, t.default_payment_method, t.tax_id, t.billing_address, "
    "t.deleted_at, t.created_at, t.updated_at",
    "billing.stripe_customers t",
    by_time("t"),
    (*scoped("t"), *period("t.created_at")),
)
SUBSCRIPTIONS = Listing(
    "subscriptions",
    "/subscriptions",
    "Subscriptions with their items (billing.subscriptions, billing.subscription_items)",
    m.Subscription,
    "t.stripe_subscription_id AS id, t.account_id, t.livemode, c.stripe_customer_id AS customer, "
    "t.business_id::text AS business_id, t.status, t.plan_id, t.current_period_start, "
    "t.current_period_end, t.trial_end, t.cancel_at_period_end, t.canceled_at, t.created_at, "
    "t.updated_at",
    "billing.subscriptions t " + stripe_id_of("stripe_customers", "c", "t.customer_id"),
    by_time("t"),
    (
        *scoped("t"),
        currency(
            "EXISTS (SELECT 1 FROM billing.subscription_items i "
            "WHERE i.subscription_id = t.id AND i.currency = %s)"
        ),
        statuses("t.status"),
        *period("t.created_at"),
    ),
    children=Children(
        "items",
        "SELECT subscription_id AS _parent, stripe_subscription_item_id AS id, price_id, "
        "quantity, unit_amount, currency, interval, interval_count, usage_type "
        "FROM billing.subscription_items WHERE subscription_id = ANY(%s) "
        "ORDER BY subscription_id, stripe_subscription_item_id",
    ),
    single=Single("subscription", r"^sub_[A-Za-z0-9_]+$", "t.stripe_subscription_id = %s"),
)
INVOICES = Listing(
    "invoices",
    "/invoices",
    "Invoices (billing.invoices), oldest first",
    m.Invoice,
    "t.stripe_invoice_id AS id, t.account_id, t.livemode, c.stripe_customer_id AS customer, "
    "s.stripe_subscription_id AS subscription, p.stripe_payment_intent_id AS payment_intent, "
    "t.number, t.amount_due, t.amount_paid, t.amount_remaining, t.total, t.tax, t.currency, "
    "t.status, t.paid_out_of_band, t.invoice_pdf, t.hosted_invoice_url, t.due_date, "
    "t.finalized_at, t.paid_at, t.created_at, t.updated_at",
    "billing.invoices t "
    + stripe_id_of("stripe_customers", "c", "t.customer_id")
    + " "
    + stripe_id_of("subscriptions", "s", "t.subscription_id")
    + " "
    + stripe_id_of("payment_transactions", "p", "t.payment_transaction_id"),
    by_time("t"),
    (*scoped("t"), currency("t.currency = %s"), statuses("t.status"), *period("t.created_at")),
    single=Single("invoice", r"^in_[A-Za-z0-9_]+$", "t.stripe_invoice_id = %s"),
)
PAYMENTS = Listing(
    "payments",
    "/payments",
    "Payment transactions, one per PaymentIntent (billing.payment_transactions)",
    m.Payment,
    "t.stripe_payment_intent_id AS id, t.account_id, t.livemode, "
    "c.stripe_customer_id AS customer, s.stripe_subscription_id AS subscription, "
    "i.stripe_invoice_id AS invoice, t.amount, t.amount_received, t.amount_refunded, "
    "t.currency, t.status, t.payment_method_id, t.payment_method_type, t.wallet, "
    "t.failure_code, t.decline_code, t.failure_message, t.receipt_url, t.created_at, "
    "t.updated_at",
    "billing.payment_transactions t "
    + stripe_id_of("stripe_customers", "c", "t.customer_id")
    + " "
    + stripe_id_of("subscriptions", "s", "t.subscription_id")
    + " "
    + stripe_id_of("invoices", "i", "t.invoice_id"),
    by_time("t"),
    (*scoped("t"), currency("t.currency = %s"), statuses("t.status"), *period("t.created_at")),
)
# A refund first seen without its creation time sorts at the epoch until it is known.
REFUND_CREATED = "coalesce(t.created_at, 'epoch'::timestamptz)"
REFUNDS = Listing(
    "refunds",
    "/refunds",
    "Refunds (billing.refunds), oldest first",
    m.Refund,
    "t.stripe_refund_id AS id, t.account_id, t.livemode, "
    "p.stripe_payment_intent_id AS payment_intent, t.stripe_charge_id AS charge, t.amount, "
    "t.currency, t.status, t.reason, t.failure_reason, t.created_at, t.updated_at",
    "billing.refunds t " + stripe_id_of("payment_transactions", "p", "t.payment_transaction_id"),
    (Key(REFUND_CREATED, "timestamp"), Key("t.id", "uuid")),
    (*scoped("t"), currency("t.currency = %s"), statuses("t.status"), *period("t.created_at")),
    single=Single("refund", r"^(re|pyr)_[A-Za-z0-9_]+$", "t.stripe_refund_id = %s"),
)
DISPUTES = Listing(
    "disputes",
    "/disputes",
    "Disputes (billing.disputes), oldest first",
    m.Dispute,
    "t.stripe_dispute_id AS id, t.account_id, t.livemode, "
    "p.stripe_payment_intent_id AS payment_intent, t.stripe_charge_id AS charge, t.amount, "
    "t.currency, t.status, t.reason, t.created_at, t.updated_at",
    "billing.disputes t " + stripe_id_of("payment_transactions", "p", "t.payment_transaction_id"),
    by_time("t"),
    (*scoped("t"), currency("t.currency = %s"), statuses("t.status"), *period("t.created_at")),
    single=Single("dispute", r"^(dp|du)_[A-Za-z0-9_]+$", "t.stripe_dispute_id = %s"),
)
MRR_KEYS = (
    Key("t.account_id", "text"),
    Key("t.livemode", "bool"),
    Key("t.currency", "text"),
    Key("t.month", "date"),
)
MOVEMENT_SUMS = ", ".join(
    f"coalesce(sum(v.amount_cents) FILTER (WHERE v.kind = '{kind}'), 0)::bigint AS {kind}"
    for kind in ("new", "expansion", "contraction", "churn", "reactivation")
)
MRR = Listing(
    "mrr",
    "/mrr",
    "MRR at the end of each month per account, mode and currency (billing.mrr_monthly), "
    "with the sums of that month's movements",
    m.MrrMonth,
    "t.account_id, t.livemode, to_char(t.month, 'YYYY-MM') AS month, t.currency, t.mrr_cents, "
    f"t.customers, {MOVEMENT_SUMS}",
    "billing.mrr_monthly t LEFT JOIN billing.mrr_movements v ON v.account_id = t.account_id "
    "AND v.livemode = t.livemode AND v.currency = t.currency AND v.month = t.month",
    MRR_KEYS,
    (*scoped("t"), currency("t.currency = %s"), *months("t.month")),
    group_by="t.account_id, t.livemode, t.currency, t.month, t.mrr_cents, t.customers",
)
MOVEMENTS = Listing(
    "mrr_movements",
    "/mrr/movements",
    "Each customer's MRR movement per month (billing.mrr_movements)",
    m.MrrMovement,
    "t.account_id, t.livemode, to_char(t.month, 'YYYY-MM') AS month, t.currency, "
    "t.customer_id AS customer, t.kind, t.amount_cents",
    "billing.mrr_movements t",
    (*MRR_KEYS, Key("t.customer_id", "text")),
    (*scoped("t"), currency("t.currency = %s"), *months("t.month")),
)
BALANCES = Listing(
    "balances",
    "/journal/balances",
    "Each ledger account's balance (billing.account_balances), or with `as_of` the trial "
    "balance at that moment (billing.trial_balance): rows sum to 0 per account, mode and "
    "currency",
    m.Balance,
    "t.account_id, t.livemode, t.ledger_account, t.currency, "
    "sum(t.debit_cents - t.credit_cents)::bigint AS balance_cents",
    "billing.journal_lines t",
    (
        Key("t.account_id", "text"),
        Key("t.livemode", "bool"),
        Key("t.currency", "text"),
        Key("t.ledger_account", "text"),
    ),
    (
        *scoped("t"),
        currency("t.currency = %s"),
        Filter(
            "as_of",
            "The trial balance at this ISO date-time (entries up to and including it; a "
            "date means the end of that day, UTC)",
            parse_as_of,
            "t.entry_id IN (SELECT id FROM billing.journal_entries WHERE occurred_at <= %s)",
            MOMENT,
        ),
    ),
    group_by="t.account_id, t.livemode, t.currency, t.ledger_account",
)
CUSTOMER_ENTRIES = Listing(
    "customer_journal_entries",
    "/customers/{customer}/journal_entries",
    "Every journal entry with a line for this customer, oldest first, with all its lines",
    m.JournalEntry,
    "t.id::text AS id, t.account_id, t.livemode, t.occurred_at, t.kind, t.description, "
    "t.source_object, t.transition, t.stripe_event_id, t.reversal_of::text AS reversal_of",
    "billing.journal_entries t",
    by_time("t", "occurred_at"),
    (*scoped("t"), *period("t.occurred_at")),
    scope=(
        "customer",
        r"^cus_[A-Za-z0-9_]+$",
        "t.id IN (SELECT entry_id FROM billing.journal_lines WHERE customer_id = %s)",
    ),
    children=Children(
        "lines",
        "SELECT entry_id AS _parent, ledger_account, customer_id AS customer, debit_cents, "
        "credit_cents, currency FROM billing.journal_lines WHERE entry_id = ANY(%s) "
        "ORDER BY entry_id, debit_cents DESC, ledger_account, id",
    ),
)

LISTINGS: tuple[Listing, ...] = (
    CUSTOMERS,
    SUBSCRIPTIONS,
    INVOICES,
    PAYMENTS,
    REFUNDS,
    DISPUTES,
    MRR,
    MOVEMENTS,
    BALANCES,
    CUSTOMER_ENTRIES,
)
