"""Connect accounts at the stand-in have state of their own, as at Stripe: what is made with
`Stripe-Account` is listed and retrieved in that account only. A backfill `--account` lists
that account's objects only and stamps them with it; two accounts and the platform backfilled
into one ledger never mix, and each equals its own webhook history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billing_ledger.stripe_api.cursors import PostgresCursors
from billing_ledger.stripe_api.errors import StripeApiError
from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support.backfilling import (
    Account,
    backfill,
    balances,
    current_rows,
    deliver,
    differences,
    make_history,
    stand_in,
)

ACCOUNTS = ("acct_1Alpha", "acct_1Beta")


@pytest.fixture
def account() -> Iterator[Account]:
    with stand_in() as found:
        make_history(found, 3)
        make_history(found, 5, connect=ACCOUNTS[0])
        make_history(found, 4, connect=ACCOUNTS[1])
        yield found


def customers(account: Account, connect: str | None) -> list[str]:
    listed = account.call("customers", "list", params={"limit": 100}, account=connect)
    return sorted(c["id"] for c in listed["data"])


def test_each_account_lists_and_retrieves_only_its_own_objects(account: Account) -> None:
    store = account.fake.store
    mine = {
        connect: sorted(c["id"] for c in store.of(connect).all("customer"))
        for connect in ("", *ACCOUNTS)
    }
    assert [len(mine[c]) for c in ("", *ACCOUNTS)] == [3, 5, 4]
    for connect, ids in mine.items():
        assert customers(account, connect or None) == ids
    with pytest.raises(StripeApiError):
        account.call("customers", "retrieve", id=mine[ACCOUNTS[1]][0], account=ACCOUNTS[0])
    with pytest.raises(StripeApiError):
        account.call("customers", "retrieve", id=mine[ACCOUNTS[0]][0])
    alpha = store.of(ACCOUNTS[0]).events
    assert alpha and {e.get("account") for e in alpha} == {ACCOUNTS[0]}
    assert all("account" not in e for e in store.events)
    listed = account.call("events", "list", params={"limit": 100}, account=ACCOUNTS[1])
    assert {e["id"] for e in listed["data"]} == {e["id"] for e in store.of(ACCOUNTS[1]).events}


def rows_by_account(ledger: Pipeline) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    for table, column in (
        ("stripe_customers", "stripe_customer_id"),
        ("invoices", "stripe_invoice_id"),
        ("payment_transactions", "stripe_payment_intent_id"),
        ("payment_methods", "stripe_payment_method_id"),
    ):
        for account_id, stripe_id in ledger.query(
            f"SELECT account_id, {column} FROM billing.{table} ORDER BY 1, 2"
        ):
            found.setdefault(account_id, []).append((table, stripe_id))
    return found


def test_a_backfill_of_one_account_lists_and_stamps_only_that_account(
    account: Account, postgres_server_url: str
) -> None:
    store = account.fake.store
    with fresh_database(postgres_server_url) as one, fresh_database(postgres_server_url) as two:
        backfilled, webhooks = Pipeline(one), Pipeline(two)
        try:
            cursors = PostgresCursors(backfilled.pool)
            cursors.create_table()
            backfill(backfilled, account.stripe, cursors, connect=ACCOUNTS[0])
            backfilled.process_all()
            only = rows_by_account(backfilled)
            assert set(only) == {ACCOUNTS[0]}
            assert sorted(i for t, i in only[ACCOUNTS[0]] if t == "stripe_customers") == sorted(
                c["id"] for c in store.of(ACCOUNTS[0]).all("customer")
            )

            backfill(backfilled, account.stripe, cursors, connect=ACCOUNTS[1])
            backfill(backfilled, account.stripe, cursors)
            backfilled.process_all()
            for connect in ("", *ACCOUNTS):
                deliver(webhooks, [dict(e) for e in store.of(connect).events])
            assert set(rows_by_account(backfilled)) == {"", *ACCOUNTS}
            assert rows_by_account(backfilled) == rows_by_account(webhooks)
            assert differences(current_rows(two), current_rows(one)) == []
            assert balances(one) == balances(two)
        finally:
            backfilled.close()
            webhooks.close()
