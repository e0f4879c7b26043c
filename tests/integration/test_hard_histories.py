"""Hard billing histories (tests/support/hard_histories.py), delivered as Stripe delivers them
(shuffled over three days, 40% twice, some much later) through the real log, processor and
projectors on PostgreSQL, give exactly the tables, MRR and journal balances of their in-order
delivery; both pass `ledger check`, and both show what the histories were built from: each
object's last state, each payment's invoice, the MRR of each month's end.

Two seeds of four customers per scope over three months run here (about 340 events each,
480 deliveries); more with, for example (seeds 0 to 39, eight customers, six months):
    HARD_HISTORY_SEEDS=40 HARD_HISTORY_CUSTOMERS=8 HARD_HISTORY_MONTHS=6 \
        ./scripts/test tests/integration/test_hard_histories.py
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from billing_ledger.domain.subscription import subscription_snapshot
from billing_ledger.projections.journal_checks import check_journal
from billing_ledger.projections.migrations import READ_SCHEMA
from billing_ledger.projections.mrr_rules import month_start, months, subscription_mrr
from billing_ledger.schemas.envelope import parse_event
from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support import stripe as se
from tests.support.hard_billing import COUPONS
from tests.support.hard_histories import History, Shape, deliveries, hard_history
from tests.support.webhooks import body_of

SEEDS = range(int(os.environ.get("HARD_HISTORY_SEEDS", "2")))
CUSTOMERS = int(os.environ.get("HARD_HISTORY_CUSTOMERS", "4"))  # per scope
MONTHS = int(os.environ.get("HARD_HISTORY_MONTHS", "3"))
BATCH = 40  # deliveries between two processing rounds: later batches must fix earlier ones

TRUTH = {
    "subscriptions": "SELECT account_id, livemode, stripe_subscription_id, status, "
    "cancel_at_period_end FROM billing.subscriptions",
    "items": "SELECT i.account_id, i.livemode, i.stripe_subscription_item_id, i.quantity "
    "FROM billing.subscription_items i",
    "customers": "SELECT account_id, livemode, stripe_customer_id, default_payment_method "
    "FROM billing.stripe_customers",
    "invoices": "SELECT account_id, livemode, stripe_invoice_id, status, amount_paid "
    "FROM billing.invoices",
    "payments": "SELECT p.account_id, p.livemode, p.stripe_payment_intent_id, p.status, "
    "i.stripe_invoice_id FROM billing.payment_transactions p "
    "LEFT JOIN billing.invoices i ON i.id = p.invoice_id",
    "mrr": "SELECT account_id, livemode, month, currency, mrr_cents FROM billing.mrr_monthly "
    "WHERE mrr_cents <> 0",
    "dead_letters": "SELECT event_type, reason FROM eventlog.dead_letters",
}


@dataclass
class Outcome:
    tables: dict[str, list[tuple[Any, ...]]]
    violations: list[str]
    truth: dict[str, set[tuple[Any, ...]]]


def run(server_url: str, documents: list[dict[str, Any]]) -> Outcome:
    with fresh_database(server_url) as url:
        pipeline = Pipeline(url)
        try:
            for start in range(0, len(documents), BATCH):
                for document in documents[start : start + BATCH]:
                    pipeline.append(body_of(document))
                pipeline.process_all()
            with psycopg.connect(url) as conn:
                violations = check_journal(conn, READ_SCHEMA)
            truth = {name: set(pipeline.query(sql)) for name, sql in TRUTH.items()}
            return Outcome(pipeline.tables(), violations, truth)
        finally:
            pipeline.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_hard_history_in_any_delivery_gives_its_in_order_tables(
    postgres_server_url: str, seed: int
) -> None:
    history = hard_history(Shape(seed, customers=CUSTOMERS, months=MONTHS))
    in_order = run(postgres_server_url, history.events)
    shuffled = run(postgres_server_url, deliveries(history.events, seed))
    assert (in_order.violations, shuffled.violations) == ([], [])
    assert shuffled.truth == in_order.truth
    assert shuffled.tables == in_order.tables
    expected = built_from(history)
    for name, rows in expected.items():
        assert in_order.truth[name] == rows, name


def built_from(history: History) -> dict[str, set[tuple[Any, ...]]]:
    """What the tables must show of the objects the history was built from."""
    found: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for (account, livemode, stripe_id), document in history.last.items():
        obj, scope = document["data"]["object"], (account, livemode)
        kind = obj["object"]
        if kind == "subscription":
            found["subscriptions"].add(
                (*scope, stripe_id, obj["status"], obj["cancel_at_period_end"])
            )
            for item in obj["items"]["data"]:
                found["items"].add((*scope, item["id"], item["quantity"]))
        elif kind == "customer":
            default = obj["invoice_settings"]["default_payment_method"]
            found["customers"].add((*scope, stripe_id, default))
        elif kind == "invoice":
            found["invoices"].add((*scope, stripe_id, obj["status"], obj["amount_paid"]))
        elif kind == "payment_intent":
            invoice = history.invoice_of.get((account, livemode, stripe_id))
            found["payments"].add((*scope, stripe_id, obj["status"], invoice))
    found["mrr"] = month_end_mrr(history)
    found["dead_letters"] = set()
    return found


def month_end_mrr(history: History) -> set[tuple[Any, ...]]:
    """MRR at each month's end from each subscription's true last state before it: the rules of
    mrr_rules.py applied to the history as it happened, not to what the pipeline concluded."""
    totals: dict[tuple[str, bool, date, str], int] = defaultdict(int)
    latest: dict[tuple[str, bool], int] = defaultdict(int)
    first: dict[tuple[str, bool], int] = {}
    for document in history.events:
        scope = (document.get("account") or "", document["livemode"])
        latest[scope] = max(latest[scope], document["created"])
        if document["type"].startswith("customer.subscription."):
            first[scope] = min(first.get(scope, document["created"]), document["created"])
    for (account, livemode, _), snapshots in history.subscriptions.items():
        scope = (account, livemode)
        for month in months(month_start(first[scope]), month_start(latest[scope])):
            before = _epoch(date(month.year + month.month // 12, month.month % 12 + 1, 1))
            known = [obj for created, obj in snapshots if created < before]
            if not known:
                continue
            event = se.event("customer.subscription.updated", known[-1])
            state: Any = subscription_snapshot(parse_event(body_of(event)))[1].state
            coupons = {d: c for (a, m, d), c in history.coupons.items() if (a, m) == scope}
            own = customer_coupon(history, (*scope, state["customer"]), before)
            if own is not None and not state["discounts"]:  # applies as if it were its own
                state = {**state, "discounts": [{"id": "customer", "coupon": own}]}
            amount = subscription_mrr(state, coupons.get)
            totals[(*scope, month, state["currency"])] += amount
    return {(*key, amount) for key, amount in totals.items() if amount}


def customer_coupon(history: History, customer: tuple[str, bool, str], before: int) -> Any:
    """The coupon of the customer's own discount in force just before `before`, if any."""
    for start, end, coupon_id in history.customer_discounts.get(customer, []):
        if start < before and (end is None or end >= before):
            return {"id": coupon_id, "currency": "usd", **COUPONS[coupon_id]}
    return None


def _epoch(month: date) -> int:
    return int(datetime(month.year, month.month, 1, tzinfo=UTC).timestamp())
