"""A payment is linked to the invoice it paid whatever arrives first: before API 2025-03-31 an
invoice names its PaymentIntent, whose own payload may name no invoice. The link shows in
`payment_transactions` and in the journal (the payment is the invoice's, not a sale of its own).
"""

from __future__ import annotations

from itertools import permutations
from typing import Any

import psycopg
import pytest

from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.projections.journal_checks import check_journal
from billing_ledger.projections.migrations import READ_SCHEMA
from tests.pipeline import Pipeline
from tests.support.stripe import ApiShape, event, invoice, payment_intent

T = 1_767_225_600
OLD = ApiShape.PRE_BASIL


def old_shape_payment() -> list[dict[str, Any]]:
    paid = invoice(
        "in_Old",
        status="paid",
        amount_paid=2000,
        intent_id="pi_Old",
        transitions={"finalized_at": T, "paid_at": T + 1},
        api=OLD,
    )
    return [
        event(
            "invoice.finalized", invoice("in_Old", intent_id="pi_Old", api=OLD), created=T, api=OLD
        ),
        event(
            "payment_intent.succeeded", payment_intent("pi_Old", api=OLD), created=T + 1, api=OLD
        ),
        event("invoice.paid", paid, created=T + 1, api=OLD),
    ]


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_an_old_shape_invoice_links_the_payment_it_names_in_any_order(
    pipeline: Pipeline, order: tuple[int, ...]
) -> None:
    history = old_shape_payment()
    for index in order:  # each in its own batch: what came first is stored when the next comes
        pipeline.deliver(history[index])
        pipeline.process_all()
    assert pipeline.query(
        "SELECT invoice_id, subscription_id FROM billing.payment_transactions"
    ) == [(stripe_uuid("", False, "in_Old"), stripe_uuid("", False, "sub_Test1"))]
    with psycopg.connect(pipeline.dsn) as conn:
        assert check_journal(conn, READ_SCHEMA) == []
    assert pipeline.query(
        "SELECT ledger_account, balance_cents FROM billing.account_balances "
        "WHERE balance_cents <> 0 ORDER BY 1"
    ) == [("revenue", -2000), ("stripe_balance", 2000)]
