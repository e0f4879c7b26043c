"""End to end on real Postgres: a generated history delivered in Stripe's order and the same
history in any order with duplicates give the same balances, and `ledger check` passes.

Each example uses Connect accounts of its own (identity is per account), so examples share one
database without seeing each other's rows."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_ledger.projections.journal_checks import check_journal
from billing_ledger.projections.migrations import READ_SCHEMA
from tests.integration.test_journal import balances
from tests.pipeline import Pipeline
from tests.support.ledger_histories import Docs, any_delivery, billing_history
from tests.support.webhooks import body_of

ACCOUNTS = itertools.count()


def as_account(docs: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    return [{**doc, "account": account, "id": f"{doc['id']}_{account}"} for doc in docs]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_order_with_duplicates_gives_the_same_journal_balances(
    pipeline: Pipeline, data: st.DataObject
) -> None:
    docs = data.draw(billing_history(), label="history")
    delivered = data.draw(any_delivery(docs), label="delivered")
    n = next(ACCOUNTS)
    in_order, shuffled = f"acct_inorder{n}", f"acct_shuffled{n}"
    for doc in as_account(docs, in_order) + as_account(Docs(delivered), shuffled):
        pipeline.append(body_of(doc))
    pipeline.process_all()
    assert balances(pipeline, shuffled) == balances(pipeline, in_order)
    with psycopg.connect(pipeline.dsn) as conn:
        assert check_journal(conn, READ_SCHEMA) == []
