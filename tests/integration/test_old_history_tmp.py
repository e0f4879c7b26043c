"""A realistic account: 150 customers' lives over most of a year (subscriptions
with trials, discounts, pauses and cancellations, invoices paid by card and SEPA debit, some
failing, refunds and disputes, old and new API shapes), as the stand-in's lists show it. A
backfill with pages of 100 and a few 429s gives the same current rows as the pure-webhook
history, the same journal balances, and the same MRR from the backfill's month on."""

from __future__ import annotations

import copy
import os
import time
from datetime import UTC, datetime
from typing import Any

from billing_ledger.eventlog.port import LISTED
from billing_ledger.stripe_api.backfill import Backfill
from billing_ledger.stripe_api.cursors import BackfillKey, PostgresCursors
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.paging import Lister, Pace
from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support.backfilling import (
    balances,
    current_rows,
    deliver,
    differences,
    mrr_from,
    seed,
    stand_in,
)
from tests.support.hard_histories import Shape, hard_history

# The suite's account; a larger one with, e.g. (the history starts on 2026-01-01 and must be
# over before the test runs, so months are at most those since then; two years need an earlier
# start in tests/support/hard_billing.py):
#   BACKFILL_HISTORY_CUSTOMERS=400 BACKFILL_HISTORY_MONTHS=11 \
#       ./scripts/test tests/integration/test_backfill_history.py
CUSTOMERS = int(os.environ.get("BACKFILL_HISTORY_CUSTOMERS", "150"))
MONTHS = int(os.environ.get("BACKFILL_HISTORY_MONTHS", "10"))


def still_there(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A `coupon.updated` of now that changes nothing: the webhook history goes on to now."""
    told = copy.deepcopy(next(e for e in reversed(events) if e["type"] == "coupon.created"))
    now = int(time.time())
    return {**told, "id": f"evt_still_there_{now}", "type": "coupon.updated", "created": now}


def test_a_backfill_of_a_realistic_account_equals_its_webhook_history(
    postgres_server_url: str,
) -> None:
    history = hard_history(Shape(11, customers=CUSTOMERS, months=MONTHS))
    events = [e for e in history.events if not e.get("account") and not e["livemode"]]
    assert max(e["created"] for e in events) < datetime.now(UTC).timestamp()
    with (
        stand_in() as account,
        fresh_database(postgres_server_url) as one,
        fresh_database(postgres_server_url) as two,
    ):
        seed(account, events)
        webhooks, backfilled = Pipeline(one), Pipeline(two)
        try:
            deliver(webhooks, events)
            account.fake.store.rate_limited = 3
            cursors = PostgresCursors(backfilled.pool)
            cursors.create_table()
            Backfill(
                Lister(account.stripe, pace=Pace(per_second=1000.0)),
                Appender(backfilled.log, backfilled.sealer, LISTED),
                cursors,
                BackfillKey("", False, 0),
            ).run()
            backfilled.process_all()
            assert differences(current_rows(one), current_rows(two)) == []
            assert balances(two) == balances(one)
            # MRR months run to the latest event's: the webhook history reaches the backfill's
            # month with an event of now that changes nothing (a coupon told again).
            deliver(webhooks, [still_there(events)])
            month = datetime.now(UTC).strftime("%Y-%m-01")
            assert mrr_from(one, month), "the history leaves MRR to compare"
            assert mrr_from(two, month) == mrr_from(one, month)
        finally:
            webhooks.close()
            backfilled.close()
