"""Reconciliation lists Stripe's events and appends exactly the ones whose webhook never
arrived, marked as fetched; the ledger then equals one that got every webhook, a second run
finds nothing, and each run is counted per type and recorded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from billing_ledger.eventlog.port import FETCHED, LISTED, WEBHOOK
from billing_ledger.eventlog.postgres import LOG_NAME
from billing_ledger.infra.metrics import REGISTRY
from billing_ledger.stripe_api.drift import compare
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.paging import Lister, Pace
from billing_ledger.stripe_api.reconcile import PostgresRuns, Reconciler
from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support.backfilling import (
    Account,
    balances,
    current_rows,
    deliver,
    make_history,
    seed,
    stand_in,
)
from tests.support.hard_histories import Shape, hard_history


@pytest.fixture
def account() -> Iterator[Account]:
    with stand_in() as found:
        make_history(found, 12)
        yield found


@pytest.fixture
def ledgers(postgres_server_url: str) -> Iterator[tuple[Pipeline, Pipeline]]:
    with fresh_database(postgres_server_url) as one, fresh_database(postgres_server_url) as two:
        complete, lossy = Pipeline(one), Pipeline(two)
        try:
            yield complete, lossy
        finally:
            complete.close()
            lossy.close()


def reconciler(ledger: Pipeline, account: Account, clock: float | None = None) -> Reconciler:
    runs = PostgresRuns(ledger.pool)
    runs.create_table()
    return Reconciler(
        Lister(account.stripe, pace=Pace(per_second=1000.0), page_size=10),
        Appender(ledger.log, ledger.sealer, FETCHED),
        ledger.log,
        runs,
        account="",
        livemode=False,
        **({"clock": lambda: clock} if clock is not None else {}),
    )


def missing_metric(event_type: str) -> float:
    value = REGISTRY.get_sample_value(
        "billing_ledger_reconciled_missing_events_total", {"event_type": event_type}
    )
    return value or 0.0


def test_reconciliation_finds_exactly_the_withheld_events(
    account: Account, ledgers: tuple[Pipeline, Pipeline]
) -> None:
    complete, lossy = ledgers
    history = account.events()
    withheld = [e for n, e in enumerate(history) if n % 4 == 1]
    deliver(complete, history)
    deliver(lossy, [e for n, e in enumerate(history) if n % 4 != 1])
    assert current_rows(lossy.dsn) != current_rows(complete.dsn)
    before = {t: missing_metric(t) for t in {e["type"] for e in withheld}}

    found = reconciler(lossy, account).run()

    assert found.listed == len(history)
    assert found.missing == dict(Counter(e["type"] for e in withheld))
    head = lossy.log.head()[LOG_NAME]
    fetched = [r.record for r in lossy.log.read(0, head) if r.record.source == FETCHED]
    assert sorted(r.event_id for r in fetched) == sorted(e["id"] for e in withheld)
    assert all(r.verified_with is None for r in fetched)
    for event_type, count in found.missing.items():
        assert missing_metric(event_type) == before[event_type] + count
    lossy.process_all()
    assert current_rows(lossy.dsn) == current_rows(complete.dsn)
    assert balances(lossy.dsn) == balances(complete.dsn)

    again = reconciler(lossy, account).run()
    assert again.missing == {} and again.previous_success == found.finished_at
    assert lossy.log.head()[LOG_NAME] == head


def test_a_run_warns_when_the_last_success_nears_stripes_retention(
    account: Account, ledgers: tuple[Pipeline, Pipeline]
) -> None:
    _, ledger = ledgers
    past = datetime.now(UTC) - timedelta(days=27)
    first = reconciler(ledger, account, clock=past.timestamp()).run()
    assert first.warning is None
    warned = reconciler(ledger, account).run()
    assert warned.warning is not None and "27 days ago" in warned.warning


def test_sources_never_pose_as_webhooks() -> None:
    with pytest.raises(ValueError, match="not a source of fetched records"):
        Appender(None, None, WEBHOOK)  # type: ignore[arg-type]
    assert {LISTED, FETCHED}.isdisjoint({WEBHOOK})


def test_the_objects_pass_reports_missing_changed_and_deleted_objects(
    account: Account, ledgers: tuple[Pipeline, Pipeline]
) -> None:
    ledger, _ = ledgers
    deliver(ledger, account.events())
    store = account.fake.store
    customers = sorted(c["id"] for c in store.all("customer"))
    gone = customers[0]
    del store.objects[gone]  # deleted at Stripe; its webhook never came
    store.add({**store.objects[customers[1]], "id": "cus_NeverSent"})
    intent = next(i for i in store.all("payment_intent") if i["status"] == "succeeded")
    intent["status"] = "canceled"  # not Stripe's state machine: a status the ledger never saw

    drifts = {
        d.kind: d
        for d in compare(
            Lister(account.stripe, pace=Pace(per_second=1000.0)), ledger.pool, "", False
        )
    }

    assert drifts["customers"].missing == ["cus_NeverSent"]
    assert drifts["customers"].deleted == [gone]
    assert drifts["payment_intents"].differing == [intent["id"]]
    assert not drifts["invoices"].drifted
    assert drifts["customers"].at_stripe == drifts["customers"].in_ledger


# A kind's objects at the stand-in, by the `object` name Stripe gives them.
OBJECTS = {
    "coupons": "coupon",
    "customers": "customer",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "payment_methods": "payment_method",
}
ANOTHER_STATUS = {
    "subscriptions": "unpaid",
    "invoices": "void",
    "payment_intents": "canceled",
    "charges": "failed",
    "refunds": "canceled",
    "disputes": "warning_closed",
}


def test_the_objects_pass_covers_every_kind_the_backfill_lists(database_url: str) -> None:
    history = hard_history(Shape(7, customers=8, months=8, scopes=(("", False),)))
    ledger = Pipeline(database_url)
    try:
        with stand_in() as account:
            seed(account, history.events)
            deliver(ledger, history.events)
            lister = Lister(account.stripe, pace=Pace(per_second=1000.0))
            assert [d.kind for d in compare(lister, ledger.pool, "", False)] == list(OBJECTS)
            assert [d for d in compare(lister, ledger.pool, "", False) if d.drifted] == []

            store = account.fake.store
            expected: dict[str, tuple[list[str], list[str], list[str]]] = {}
            kept = sorted(c["id"] for c in store.all("customer"))[-1]  # its methods stay
            for kind, name in OBJECTS.items():
                held = sorted(
                    (o for o in store.all(name) if kind != "payment_methods"
                     or o.get("customer") == kept),
                    key=lambda o: o["id"],
                )  # fmt: skip
                assert len(held) >= (1 if kind in ("payment_methods", "coupons") else 2), kind
                gone = held[0]
                del store.objects[gone["id"]]  # deleted at Stripe; no webhook told
                new = store.add({**held[-1], "id": f"{held[-1]['id']}_NeverSent"})
                changed = []
                if kind in ANOTHER_STATUS:
                    held[-1]["status"] = ANOTHER_STATUS[kind]
                    changed = [held[-1]["id"]]
                expected[kind] = ([new["id"]], changed, [gone["id"]])
            # The deleted customer's methods went with it (Stripe detaches them).
            expected["payment_methods"][2].extend(
                m["id"] for m in store.all("payment_method")
                if m.get("customer") == expected["customers"][2][0]
            )  # fmt: skip
            found = {
                d.kind: (d.missing, d.differing, sorted(d.deleted))
                for d in compare(lister, ledger.pool, "", False)
            }
            assert found == {k: (m, c, sorted(g)) for k, (m, c, g) in expected.items()}
    finally:
        ledger.close()
