"""Any permutation and duplication of a billing history gives the tables of the in-order history,
end to end through the real log, processor and projectors on PostgreSQL; and identities never
mix across Connect accounts or between test and live mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support.stripe import (
    charge,
    customer,
    dispute,
    event,
    invoice,
    invoice_payment,
    payment_intent,
    payment_method,
    previous_attributes,
    refund,
    subscription,
    tax_id,
)

DAY = 86_400
T0 = 1_767_225_600
CARD = {"default_payment_method": "pm_Test1"}


def history(account: str | None = None, livemode: bool = False) -> list[dict[str, Any]]:
    """One customer's month: signup (its card set as default in the same second), trial to
    paid, an invoice paid by card, the seats changed twice in one second (1 → 3 → 2, told only
    inside `items.data`), a partial refund, a dispute, card details updated, then cancellation.
    Several events share a second; where nested changes alone tell their order, the event ids
    say the opposite."""

    def e(event_type: str, obj: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
        return event(event_type, obj, created=at, account=account, livemode=livemode, **kw)

    def changed(event_type: str, before: dict[str, Any], after: dict[str, Any], at: int) -> Any:
        return e(event_type, after, at, previous_attributes=previous_attributes(before, after))

    signed_up = customer()
    with_card = customer(invoice_settings={**signed_up["invoice_settings"], **CARD})
    one, three, two = (subscription(quantity=q) for q in (1, 3, 2))
    card_set = changed("customer.updated", signed_up, with_card, T0)
    seats = [
        changed("customer.subscription.updated", a, b, T0 + 20 * DAY)
        for a, b in ((one, three), (three, two))
    ]
    card_set["id"], seats[0]["id"], seats[1]["id"] = "evt_b_card", "evt_d_seats", "evt_c_seats"
    paid_invoice = invoice(status="paid", total=2400, tax=400, amount_paid=2400)
    return [
        e("customer.created", signed_up, T0),
        card_set,
        e("customer.tax_id.created", tax_id(), T0 + 1),
        changed("customer.updated", with_card, {**with_card, "name": "Renamed"}, T0 + 2),
        e("payment_method.attached", payment_method(), T0 + 2),
        e("customer.subscription.created", subscription(status="trialing"), T0 + 3),
        e(
            "customer.subscription.updated",
            subscription(),
            T0 + 14 * DAY,
            previous_attributes={"status": "trialing"},
        ),
        *seats,
        e("invoice.created", invoice(status="draft", total=2400, tax=400), T0 + 14 * DAY),
        e(
            "invoice.finalized",
            invoice(status="open", total=2400, tax=400),
            T0 + 14 * DAY + 3600,
            previous_attributes={"status": "draft"},
        ),
        e(
            "payment_intent.created",
            payment_intent(status="requires_payment_method", amount=2400),
            T0 + 14 * DAY + 3600,
        ),
        e("payment_intent.succeeded", payment_intent(amount=2400), T0 + 14 * DAY + 3601),
        e("charge.succeeded", charge(amount=2400), T0 + 14 * DAY + 3601),
        e("invoice_payment.paid", invoice_payment(amount_paid=2400), T0 + 14 * DAY + 3601),
        e(
            "invoice.paid",
            paid_invoice,
            T0 + 14 * DAY + 3602,
            previous_attributes={"status": "open"},
        ),
        e(
            "invoice.payment_succeeded",
            paid_invoice,
            T0 + 14 * DAY + 3602,
            previous_attributes={"status": "open"},
        ),
        e("refund.created", refund(amount=400), T0 + 20 * DAY),
        e("charge.dispute.created", dispute(amount=2000), T0 + 25 * DAY),
        e("charge.dispute.closed", dispute(amount=2000, status="lost"), T0 + 40 * DAY),
        e(
            "payment_method.updated",
            payment_method(card={**payment_method()["card"], "exp_year": 2031}),
            T0 + 41 * DAY,
        ),
        e(
            "customer.subscription.updated",
            subscription(quantity=2, cancel_at_period_end=True),
            T0 + 42 * DAY,
            previous_attributes={"cancel_at_period_end": False},
        ),
        e(
            "customer.subscription.deleted",
            subscription(quantity=2, status="canceled", canceled_at=T0 + 44 * DAY),
            T0 + 44 * DAY,
        ),
    ]


@contextmanager
def fresh_pipeline(server_url: str) -> Iterator[Pipeline]:
    with fresh_database(server_url) as url:
        pipeline = Pipeline(url)
        try:
            yield pipeline
        finally:
            pipeline.close()


def run(
    server_url: str, deliveries: list[dict[str, Any]], batches: int = 1
) -> dict[str, list[tuple[Any, ...]]]:
    with fresh_pipeline(server_url) as pipeline:
        size = max(1, len(deliveries) // batches)
        for start in range(0, len(deliveries), size):
            for document in deliveries[start : start + size]:
                pipeline.deliver(document)
            pipeline.process_all()
        return pipeline.tables()


def test_the_in_order_history_fills_every_table(postgres_server_url: str) -> None:
    tables = run(postgres_server_url, history())
    counts = {name: len(rows) for name, rows in tables.items()}
    assert counts == {
        "account_balances": 4,
        "disputes": 1,
        "invoice_payment_failures": 0,
        "invoices": 1,
        "mrr_clock": 1,
        "mrr_coupons": 0,
        "mrr_customer_discounts": 3,
        "mrr_definition": 1,
        "mrr_discounts": 0,
        "mrr_horizon": 1,
        "mrr_monthly": 2,
        "mrr_movement_totals": 2,
        "mrr_movements": 2,
        "mrr_points": 6,
        "payment_charges": 1,
        "payment_intent_statuses": 2,
        "payment_methods": 1,
        "payment_transactions": 1,
        "refunds": 1,
        "stripe_customers": 1,
        "subscription_items": 1,
        "subscriptions": 1,
        "trial_conversion_counts": 1,
        "trial_subscriptions": 1,
    }
    movements = [
        (str(month), kind, amount) for *_, month, _, _, kind, amount in tables["mrr_movements"]
    ]
    assert sorted(movements) == [("2026-01-01", "new", 4000), ("2026-02-01", "churn", -4000)]
    monthly = [
        (str(month), mrr, customers) for *_, month, _, mrr, customers in tables["mrr_monthly"]
    ]
    assert sorted(monthly) == [("2026-01-01", 4000, 1), ("2026-02-01", 0, 0)]
    # What only the nested changes of one second told: the card set at signup, two seats.
    [customer_row] = tables["stripe_customers"]
    [item_row] = tables["subscription_items"]
    assert (customer_row[7], item_row[6]) == ("pm_Test1", 2)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_order_and_duplication_converges_end_to_end(
    postgres_server_url: str, data: st.DataObject
) -> None:
    in_order = history()
    extra = data.draw(
        st.lists(st.sampled_from(in_order), max_size=len(in_order)), label="duplicates"
    )
    deliveries = data.draw(st.permutations(in_order + extra), label="deliveries")
    batches = data.draw(st.integers(1, 4), label="processing rounds")
    copies = [json.loads(json.dumps(d)) for d in deliveries]
    assert run(postgres_server_url, copies, batches) == expected_tables(postgres_server_url)


_expected: dict[str, dict[str, list[tuple[Any, ...]]]] = {}


def expected_tables(server_url: str) -> dict[str, list[tuple[Any, ...]]]:
    if server_url not in _expected:
        _expected[server_url] = run(server_url, history())
    return _expected[server_url]


def test_connect_accounts_and_modes_never_touch_each_others_rows(postgres_server_url: str) -> None:
    platform, connected, live = history(), history(account="acct_Connected"), history(livemode=True)
    everything = run(postgres_server_url, platform + connected + live)
    # The MRR definition is the schema's, one row for every scope.
    tables = {name: rows for name, rows in everything.items() if name != "mrr_definition"}
    for name, rows in tables.items():
        assert len(rows) == 3 * len(expected_tables(postgres_server_url)[name]), name
    alone = {k: v for k, v in run(postgres_server_url, connected).items() if k != "mrr_definition"}
    with_others = {
        name: [r for r in rows if "acct_Connected" in r] for name, rows in tables.items()
    }
    assert with_others == alone
