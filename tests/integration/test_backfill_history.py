"""A realistic account: customers signing up over two years up to yesterday, their lives
(subscriptions with trials, discounts, pauses and cancellations, invoices paid by card and SEPA
debit, some failing, refunds and disputes, old and new API shapes), as the stand-in's lists
show it. Backfilled in pages of 100 with a few 429s and two customers changed while it runs,
a backfill alone, webhooks then a backfill, a backfill then webhooks, and a backfill
interrupted twice each give the same current rows as the pure-webhook history, the same
journal balances and the same MRR from the backfill's month on; reconciliation finds every
event withheld from webhook delivery; the journal checks and `replay --from-log --verify`
pass.

100 customers by default; CI runs the brief's full size (BACKFILL_HISTORY_CUSTOMERS=300, as
`scripts/backfill-history` does; BACKFILL_HISTORY_MONTHS sets the span)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from billing_ledger.eventlog.port import FETCHED, LISTED
from billing_ledger.projections.journal_checks import check_journal
from billing_ledger.projections.migrations import READ_SCHEMA
from billing_ledger.stripe_api.backfill import Backfill, Report, Status
from billing_ledger.stripe_api.client import StripeGateway
from billing_ledger.stripe_api.cursors import BackfillKey, PostgresCursors
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.paging import Lister, Pace
from billing_ledger.stripe_api.reconcile import RETENTION, PostgresRuns, Reconciler
from tests.conftest import fresh_database
from tests.e2e.cli import cli_env
from tests.pipeline import Pipeline
from tests.support.backfilling import (
    Account,
    Interrupted,
    InterruptingStripe,
    balances,
    current_rows,
    deliver,
    differences,
    mrr_from,
    seed,
    stand_in,
)
from tests.support.hard_billing import DAY, PERIOD
from tests.support.hard_histories import Shape, hard_history

CUSTOMERS = int(os.environ.get("BACKFILL_HISTORY_CUSTOMERS", "100"))
MONTHS = int(os.environ.get("BACKFILL_HISTORY_MONTHS", "24"))


def up_to_yesterday(customers: int, months: int) -> Shape:
    """`months` of history ending yesterday, customers signing up all along but the last
    month (so reconciliation's 30 days hold renewals, payments and refunds)."""
    today = int(time.time()) // DAY * DAY
    start = today - months * PERIOD - DAY
    return Shape(
        11,
        customers=customers,
        months=months,
        start=start,
        joining_days=max((months - 1) * 30, 10),
        scopes=(("", False),),
    )


def still_there(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A `coupon.updated` of now that changes nothing: the webhook history goes on to now."""
    told = copy.deepcopy(next(e for e in reversed(events) if e["type"] == "coupon.created"))
    now = int(time.time())
    return {**told, "id": f"evt_still_there_{now}", "type": "coupon.updated", "created": now}


class ChangesWhileRunning:
    """A backfill's progress report that renames two customers at the stand-in while it
    runs: the oldest while the customers are paged (its page, still to come, shows the name),
    and the newest once its page was fetched (only its webhook, of a later second, tells)."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self.done: set[str] = set()

    def __call__(self, status: Status) -> None:
        customers = sorted(
            self._account.fake.store.all("customer"), key=lambda c: (c["created"], c["id"])
        )
        if status.step == "customers" and "oldest" not in self.done:
            self.done.add("oldest")
            self._rename(customers[0]["id"], "Renamed while its page was still to come")
        elif status.step == "invoices" and "newest" not in self.done:
            self.done.add("newest")
            time.sleep(1.01 - time.time() % 1)  # into a second after every customer page
            self._rename(customers[-1]["id"], "Renamed after its page was fetched")

    def _rename(self, customer_id: str, name: str) -> None:
        self._account.call("customers", "update", id=customer_id, params={"name": name})


def run_backfill(
    ledger: Pipeline,
    stripe: StripeGateway | InterruptingStripe,
    report: Report = lambda status: None,
) -> int:
    cursors = PostgresCursors(ledger.pool)
    cursors.create_table()
    return (
        Backfill(
            Lister(stripe, pace=Pace(per_second=1000.0)),
            Appender(ledger.log, ledger.sealer, LISTED),
            cursors,
            BackfillKey("", False, 0),
            report,
        )
        .run()
        .appended
    )


def ledger_check(ledger: Pipeline) -> list[str]:
    with psycopg.connect(ledger.dsn) as conn:
        return check_journal(conn, READ_SCHEMA)


def replay_verify(ledger: Pipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_ledger", "replay", "--from-log", "--verify"],
        env=cli_env({"DATABASE_URL": ledger.dsn}),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )


@pytest.fixture
def scene(postgres_server_url: str) -> Iterator[tuple[Account, list[dict[str, Any]]]]:
    history = hard_history(up_to_yesterday(CUSTOMERS, MONTHS))
    assert max(e["created"] for e in history.events) < time.time() - DAY / 2
    with stand_in() as account:
        seed(account, history.events)
        yield account, history.events


def test_a_two_year_account_backfilled_any_way_equals_its_webhook_history(
    scene: tuple[Account, list[dict[str, Any]]], postgres_server_url: str
) -> None:
    account, events = scene
    stripe = account.stripe
    with (
        fresh_database(postgres_server_url) as one,
        fresh_database(postgres_server_url) as two,
        fresh_database(postgres_server_url) as three,
        fresh_database(postgres_server_url) as four,
        fresh_database(postgres_server_url) as five,
        fresh_database(postgres_server_url) as six,
    ):
        ledgers = [Pipeline(dsn) for dsn in (one, two, three, four, five, six)]
        webhooks, alone, after_half, before, interrupted, lossy = ledgers
        try:
            # A backfill alone, 429s at its start and two customers renamed while it runs;
            # their webhooks come after it, as they would.
            account.fake.store.rate_limited = 3
            changes = ChangesWhileRunning(account)
            made = len(account.fake.store.events)
            counted = InterruptingStripe(stripe, 0)  # never interrupts: counts list requests
            assert run_backfill(alone, counted, changes) > len(events) // 4
            assert changes.done == {"oldest", "newest"}
            renamed = account.events()[made:]
            assert [e["type"] for e in renamed] == ["customer.updated"] * 2
            deliver(alone, renamed)
            everything = [*events, *renamed]
            deliver(webhooks, everything)
            expected = current_rows(one)
            for ledger in (webhooks, alone):
                names = {r[0] for r in ledger.query("SELECT name FROM billing.stripe_customers")}
                assert names >= {
                    "Renamed while its page was still to come",
                    "Renamed after its page was fetched",
                }

            # Webhooks of the first half of the history, then a backfill.
            deliver(after_half, everything[: len(everything) // 2])
            run_backfill(after_half, stripe)
            after_half.process_all()

            # A backfill, then every webhook, all of them created before its fetch.
            run_backfill(before, stripe)
            deliver(before, everything)

            # A backfill interrupted twice (as by Ctrl-C), resumed by its cursor each time.
            later = counted.lists // 2  # in the middle of what is left after the first stop
            for stopping in (InterruptingStripe(stripe, 3), InterruptingStripe(stripe, later)):
                with pytest.raises(Interrupted):
                    run_backfill(interrupted, stopping)
            run_backfill(interrupted, stripe)
            interrupted.process_all()

            # Every third event of Stripe's retention window withheld from webhook delivery,
            # then reconciliation.
            since = time.time() - RETENTION.total_seconds()
            recent = [n for n, e in enumerate(everything) if e["created"] >= since]
            withheld = {n for n in recent[::3]}
            assert withheld, "the window holds events to withhold"
            deliver(lossy, [e for n, e in enumerate(everything) if n not in withheld])
            found = Reconciler(
                Lister(stripe, pace=Pace(per_second=1000.0)),
                Appender(lossy.log, lossy.sealer, FETCHED),
                lossy.log,
                runs(lossy),
                account="",
                livemode=False,
            ).run()
            assert found.missing == dict(Counter(everything[n]["type"] for n in withheld))
            lossy.process_all()

            told = {
                name: differences(expected, current_rows(ledger.dsn))
                for name, ledger in (
                    ("backfill alone", alone),
                    ("webhooks then backfill", after_half),
                    ("backfill then webhooks", before),
                    ("backfill interrupted twice", interrupted),
                    ("reconciled", lossy),
                )
            }
            assert {name: found[:10] for name, found in told.items() if found} == {}
            assert balances(one), "the history leaves balances to compare"
            for ledger in ledgers[1:]:
                assert balances(ledger.dsn) == balances(one)
            for ledger in ledgers:
                assert ledger_check(ledger) == []

            # MRR months run to the latest event's: the webhook history reaches the backfill's
            # month with an event of now that changes nothing (a coupon told again).
            deliver(webhooks, [still_there(events)])
            month = datetime.now(UTC).strftime("%Y-%m-01")
            assert mrr_from(one, month), "the history leaves MRR to compare"
            for ledger in (alone, after_half, interrupted):
                assert mrr_from(ledger.dsn, month) == mrr_from(one, month)
        finally:
            for ledger in ledgers:
                ledger.close()
        verified = replay_verify(alone)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "identical:" in verified.stdout


def runs(ledger: Pipeline) -> PostgresRuns:
    found = PostgresRuns(ledger.pool)
    found.create_table()
    return found
