"""The pure parts of backfill and reconciliation: the staleness warning near Stripe's 30-day
retention, a scheduled run that fails without stopping anything, the progress line's ETA,
and a subscription's expanded discounts listed apart."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing_ledger.cli.backfill import BackfillProgress
from billing_ledger.errors import ConfigurationError
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.backfill import Status, _discounts_apart
from billing_ledger.stripe_api.errors import StripeUnavailable
from billing_ledger.stripe_api.reconcile import Reconciled, staleness_warning
from billing_ledger.stripe_api.schedule import ReconcileSchedule, audit_detail

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def test_no_warning_for_a_recent_run_or_a_first_one() -> None:
    assert staleness_warning(None, NOW) is None
    assert staleness_warning(NOW - timedelta(days=24), NOW) is None


def test_a_warning_from_25_days_and_a_louder_one_past_30() -> None:
    near = staleness_warning(NOW - timedelta(days=26), NOW)
    assert near is not None and "26 days ago" in near and "30 days" in near
    past = staleness_warning(NOW - timedelta(days=31), NOW)
    assert past is not None and "may be lost" in past and "backfill" in past


class Failing:
    def __init__(self, account: str) -> None:
        self.account = account

    def run(self) -> Reconciled:
        raise StripeUnavailable("Stripe cannot be reached")


class Succeeding(Failing):
    def run(self) -> Reconciled:
        return Reconciled(NOW - timedelta(days=30), 1, {}, None, NOW)


class NoPool:
    def connection(self) -> Any:
        raise OSError("no database")


def test_a_failing_scheduled_run_is_told_and_tried_again_later() -> None:
    schedule = ReconcileSchedule(lambda: [""], Failing, NoPool(), 3600)  # type: ignore[arg-type]
    assert schedule.run_once() == {"": None}
    assert schedule.runs == 0


def test_one_accounts_failure_leaves_the_others_reconciled() -> None:
    def reconciler(account: str) -> Failing:
        return Failing(account) if account == "acct_1Down" else Succeeding(account)

    accounts = ["", "acct_1Down", "acct_1Up"]
    schedule = ReconcileSchedule(lambda: accounts, reconciler, NoPool(), 3600)  # type: ignore[arg-type]
    found = schedule.run_once()
    assert [a for a, run in found.items() if run is None] == ["acct_1Down"]
    assert list(found) == accounts and schedule.runs == 2


def test_unknown_accounts_still_reconcile_the_platform() -> None:
    def unknown() -> list[str]:
        raise OSError("no database")

    schedule = ReconcileSchedule(unknown, Succeeding, NoPool(), 3600)  # type: ignore[arg-type]
    assert list(schedule.run_once()) == [""]


def test_connect_accounts_are_named_by_their_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_CONNECT_ACCOUNTS", " acct_1One, acct_2Two ")
    assert Settings.from_env().STRIPE_CONNECT_ACCOUNTS == ["acct_1One", "acct_2Two"]
    monkeypatch.setenv("STRIPE_CONNECT_ACCOUNTS", "acct_1One,cus_123")
    with pytest.raises(ConfigurationError, match="STRIPE_CONNECT_ACCOUNTS.*cus_123"):
        Settings.from_env()


def test_the_audit_detail_holds_counts_only() -> None:
    run = Reconciled(NOW - timedelta(days=30), 10, {"invoice.paid": 2}, None, NOW)
    assert audit_detail(run) == {
        "listed": 10,
        "missing": {"invoice.paid": 2},
        "missing_total": 2,
        "window_start": (NOW - timedelta(days=30)).isoformat(),
    }


def test_progress_shows_snapshots_rate_and_an_eta_towards_since() -> None:
    stream = io.StringIO()
    since = int((NOW - timedelta(days=100)).timestamp())
    progress = BackfillProgress(stream, since)
    halfway = int((NOW - timedelta(days=50)).timestamp())
    status = Status("invoices", 4, 1234, False, since, last_created=halfway)
    progress(status)
    progress.finish(status)
    assert "backfill: invoices (4/9) 1,234 snapshots" in stream.getvalue()
    assert progress.eta(status).endswith("s for invoices")
    unknown = Status("customers", 2, 10, False, 0, last_created=1)
    assert BackfillProgress(io.StringIO(), 0).eta(unknown) == "unknown"


def test_a_subscriptions_expanded_discounts_are_listed_apart() -> None:
    discount = {"id": "di_1", "object": "discount", "customer": "cus_1"}
    subscription = {"id": "sub_1", "object": "subscription", "discounts": [discount, "di_2"]}
    named, found = _discounts_apart(subscription)
    assert named["discounts"] == ["di_1", "di_2"]
    assert found == [discount]
    assert _discounts_apart({"id": "sub_2"}) == ({"id": "sub_2"}, [])
