"""A backfill through the stand-in gives the ledger the same current rows as a pure-webhook
history of the same account (apart from when and by which event a row last changed), and the
same journal balances: alone, interrupted twice (Ctrl-C) and resumed by its durable cursor,
through 429s, and mixed with webhooks before and after it, an object changing meanwhile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing_ledger.eventlog.port import LISTED, WEBHOOK
from billing_ledger.eventlog.postgres import LOG_NAME
from billing_ledger.stripe_api.backfill import STEP_NAMES, Status
from billing_ledger.stripe_api.cursors import BackfillKey, PostgresCursors
from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support.backfilling import (
    Account,
    Interrupted,
    InterruptingStripe,
    backfill,
    balances,
    current_rows,
    deliver,
    make_history,
    stand_in,
)

CUSTOMERS = 24


@pytest.fixture
def account() -> Iterator[Account]:
    with stand_in() as found:
        make_history(found, CUSTOMERS)
        yield found


@pytest.fixture
def ledgers(postgres_server_url: str) -> Iterator[tuple[Pipeline, Pipeline]]:
    """Two empty ledgers: one for the webhooks, one for the backfill."""
    with fresh_database(postgres_server_url) as one, fresh_database(postgres_server_url) as two:
        webhooks, backfilled = Pipeline(one), Pipeline(two)
        try:
            yield webhooks, backfilled
        finally:
            webhooks.close()
            backfilled.close()


def cursors_of(ledger: Pipeline) -> PostgresCursors:
    cursors = PostgresCursors(ledger.pool)
    cursors.create_table()
    return cursors


def sources(ledger: Pipeline) -> set[str]:
    head = ledger.log.head().get(LOG_NAME, 0)
    return {logged.record.source for logged in ledger.log.read(0, head)}


def test_a_backfill_into_an_empty_ledger_equals_the_webhook_history(
    account: Account, ledgers: tuple[Pipeline, Pipeline]
) -> None:
    webhooks, backfilled = ledgers
    deliver(webhooks, account.events())
    account.fake.store.rate_limited = 3  # a few 429s on the way
    seen: list[Status] = []
    appended = backfill(backfilled, account.stripe, cursors_of(backfilled), report=seen.append)
    backfilled.process_all()
    assert appended > CUSTOMERS * 2
    assert {status.step for status in seen} >= {"customers", "invoices", "payment_intents"}
    assert sources(backfilled) == {LISTED}
    expected = current_rows(webhooks.dsn)
    assert expected["stripe_customers"] and expected["invoices"]
    assert current_rows(backfilled.dsn) == expected
    assert balances(backfilled.dsn) == balances(webhooks.dsn)
    lines = backfilled.query("SELECT count(*) FROM billing.stripe_customers")
    assert lines == [(CUSTOMERS,)]


def test_a_backfill_interrupted_twice_resumes_by_its_cursor(
    account: Account, ledgers: tuple[Pipeline, Pipeline]
) -> None:
    webhooks, backfilled = ledgers
    deliver(webhooks, account.events())
    cursors = cursors_of(backfilled)
    stored = []
    for after in (20, 25):  # a customers' page costs 15 requests (its tax ids, its methods)
        with pytest.raises(Interrupted):
            backfill(backfilled, InterruptingStripe(account.stripe, after), cursors)
        cursor = cursors.load(BackfillKey("", False, 0))
        assert cursor is not None and not cursor.finished and cursor.step == "customers"
        stored.append(cursor.appended)
        assert backfilled.log.head().get(LOG_NAME, 0) == cursor.appended
    assert 0 < stored[0] < stored[1]  # each run went on where the one before stopped
    backfill(backfilled, account.stripe, cursors)
    finished = cursors.load(BackfillKey("", False, 0))
    assert finished is not None and finished.finished
    assert finished.step == STEP_NAMES[-1]
    assert backfilled.log.head().get(LOG_NAME, 0) == finished.appended  # no page twice
    backfilled.process_all()
    assert current_rows(backfilled.dsn) == current_rows(webhooks.dsn)
    assert balances(backfilled.dsn) == balances(webhooks.dsn)


def test_webhooks_before_and_after_a_backfill_with_a_change_meanwhile(
    account: Account, ledgers: tuple[Pipeline, Pipeline]
) -> None:
    """The ledger got the first half of the webhooks, then was backfilled (during which a
    customer changed), then got the rest, the change's webhook among them, late."""
    webhooks, mixed = ledgers
    history = account.events()
    half = len(history) // 2
    deliver(mixed, history[:half])
    cursors = cursors_of(mixed)
    with pytest.raises(Interrupted):
        backfill(mixed, InterruptingStripe(account.stripe, 4), cursors)
    changed = history[0]["data"]["object"]["id"]
    account.call("customers", "update", id=changed, params={"name": "Renamed Meanwhile"})
    backfill(mixed, account.stripe, cursors)
    deliver(mixed, account.events()[half:])
    deliver(webhooks, account.events())
    assert sources(mixed) == {LISTED, WEBHOOK}
    rows = current_rows(mixed.dsn)
    assert rows == current_rows(webhooks.dsn)
    names = mixed.query(
        "SELECT name FROM billing.stripe_customers WHERE stripe_customer_id = %s", (changed,)
    )
    assert names == [("Renamed Meanwhile",)]
    assert balances(mixed.dsn) == balances(webhooks.dsn)
