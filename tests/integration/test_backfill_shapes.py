"""The backfill's and reconciliation's requests against Stripe's own stripe-mock: every list
request (its filters, `limit`, `starting_after`, the nested lists, `Stripe-Account`) is one
Stripe's OpenAPI schema accepts, and every object it answers becomes a listed snapshot the
processor reads.

stripe-mock answers fixtures, not state: these prove the requests and the shapes, not paging
through history (the stand-in's tests do that)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from billing_ledger.domain.handling import read_snapshots
from billing_ledger.eventlog.memory import MemoryEventLog
from billing_ledger.eventlog.port import FETCHED, LISTED
from billing_ledger.schemas.envelope import StripeEvent, parse_event
from billing_ledger.stripe_api.backfill import STEPS, Backfill
from billing_ledger.stripe_api.client import StripeAnswer, StripeGateway
from billing_ledger.stripe_api.cursors import BackfillKey, MemoryCursors
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.paging import Lister, Pace
from billing_ledger.stripe_api.reconcile import MemoryRuns, Reconciler

pytestmark = pytest.mark.stripe_mock


@dataclass(frozen=True)
class Unsealed:
    facts: bytes
    sealed: bytes | None
    subject: str


class NoSealing:
    """Keeps facts as they are: stripe-mock's fixtures hold no one's personal data."""

    def seal(self, event: StripeEvent, body: bytes) -> Unsealed:
        return Unsealed(body, None, "fixture")


class FixturesInTestMode:
    """stripe-mock's generated fixtures (invoice payments) may say livemode true, which a
    test-mode key never sees from Stripe: its answers are put in test mode."""

    def __init__(self, gateway: StripeGateway) -> None:
        self._gateway = gateway
        self.livemode = False

    def call(self, resource: str, method: str, **kwargs: Any) -> StripeAnswer:
        answer = self._gateway.call(resource, method, **kwargs)
        for obj in answer.object.get("data") or []:
            obj["livemode"] = False
        return answer


def records(log: MemoryEventLog) -> list[StripeEvent]:
    return [parse_event(logged.record.body) for logged in log.read(0, 10_000)]


@pytest.mark.parametrize("account", ["", "acct_1032D82eZvKYlo2C"])
def test_every_backfill_request_is_one_stripe_accepts(stripe_mock_url: str, account: str) -> None:
    gateway = FixturesInTestMode(StripeGateway("sk_test_123", api_base=stripe_mock_url))
    lister = Lister(gateway, account, Pace(per_second=1000.0))
    log = MemoryEventLog()
    key = BackfillKey(account, False, 1_700_000_000)
    status = Backfill(lister, Appender(log, NoSealing(), LISTED), MemoryCursors(), key).run()
    listed = records(log)
    assert status.appended == len(listed) >= len(STEPS)
    assert {e.type for e in listed} >= {
        "customer.listed",
        "customer.subscription.listed",
        "invoice.listed",
        "payment_intent.listed",
        "charge.listed",
        "refund.listed",
        "charge.dispute.listed",
        "payment_method.listed",
        "coupon.listed",
        "customer.tax_id.listed",
    }
    assert {e.account_id for e in listed} == {account}
    for event in listed:
        read_snapshots(event)  # Stripe's shapes are read (raises if not)


def test_reconciliation_lists_stripes_events(stripe_mock_url: str) -> None:
    gateway = FixturesInTestMode(StripeGateway("sk_test_123", api_base=stripe_mock_url))
    log = MemoryEventLog()
    found = Reconciler(
        Lister(gateway, pace=Pace(per_second=1000.0)),
        Appender(log, NoSealing(), FETCHED),
        log,
        MemoryRuns(),
        account="",
        livemode=False,
    ).run()
    assert found.listed >= 1
    assert found.missing_total == len(records(log))
