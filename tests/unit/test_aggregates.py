"""Aggregate rules: at most once per event id, never older over newer, terminal never regresses,
and any permutation with duplicates of one history converges to the in-order state."""

from __future__ import annotations

import json
from itertools import permutations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.domain.errors import ContradictsTerminalState
from tests.support.domain_memory import Memory
from tests.support.stripe import (
    charge,
    customer,
    event,
    invoice,
    invoice_payment,
    payment_intent,
    refund,
    subscription,
)


def subscription_history() -> list[dict[str, Any]]:
    """A subscription's life: trial, active, quantity up twice in one second, then canceled."""
    return [
        event("customer.subscription.created", subscription(status="trialing"), created=100),
        event(
            "customer.subscription.updated",
            subscription(status="active"),
            created=200,
            previous_attributes={"status": "trialing"},
        ),
        event(
            "customer.subscription.updated",
            subscription(status="active", quantity=2, cancel_at_period_end=True),
            created=300,
            previous_attributes={"cancel_at_period_end": False},
            event_id="evt_same_second_1",
        ),
        event(
            "customer.subscription.updated",
            subscription(status="past_due", quantity=2, cancel_at_period_end=True),
            created=300,
            previous_attributes={"status": "active"},
            event_id="evt_same_second_0",
        ),
        event(
            "customer.subscription.deleted",
            subscription(status="canceled", canceled_at=400, cancel_at_period_end=True),
            created=400,
            previous_attributes={"status": "past_due"},
        ),
    ]


def test_redelivering_an_event_five_times_changes_the_aggregate_once() -> None:
    memory = Memory()
    document = event("customer.created", customer("cus_A"))
    for _ in range(5):
        memory.apply(document)
    assert memory.domain_events == 1


def test_an_older_snapshot_never_overwrites_a_newer_one() -> None:
    memory = Memory()
    memory.apply(event("customer.updated", customer("cus_A", email="new@example.com"), created=200))
    older = event("customer.created", customer("cus_A", email="old@example.com"), created=100)
    memory.apply(older)
    assert memory.state("cus_A")["email"] == "new@example.com"
    # ... but it is history: recorded once (as backfill), never again.
    memory.apply(older)
    assert memory.domain_events == 2


def test_a_deleted_customer_stays_deleted() -> None:
    memory = Memory()
    memory.apply(event("customer.deleted", customer("cus_A"), created=200))
    with pytest.raises(ContradictsTerminalState, match="terminal state deleted of cus_A"):
        memory.apply(event("customer.updated", customer("cus_A", name="Later"), created=300))
    assert memory.state("cus_A")["deleted_at"] == 200


def test_within_one_second_previous_attributes_tell_the_order() -> None:
    history = subscription_history()
    forward, backward = Memory(), Memory()
    for document in history[:4]:
        forward.apply(document)
    for document in [history[0], history[1], history[3], history[2]]:
        backward.apply(document)
    # evt_same_second_0 says the status was `active` before it: it came after the other.
    assert forward.state("sub_Test1")["status"] == "past_due"
    assert backward.state("sub_Test1")["status"] == "past_due"


def test_identity_separates_accounts_and_modes() -> None:
    memory = Memory()
    a = memory.apply(event("customer.created", customer("cus_A"), account="acct_1"))[0]
    b = memory.apply(event("customer.created", customer("cus_A"), livemode=True))[0]
    c = memory.apply(event("customer.created", customer("cus_A")))[0]
    assert len({a.id, b.id, c.id}) == 3


def payment_history() -> list[dict[str, Any]]:
    """A SEPA debit that fails after processing, a card retry that succeeds, a partial refund
    that fails and one that succeeds; the intent, its charges and refunds interleave."""
    sepa, card = ("sepa_debit",), ("card",)
    failed = payment_intent(
        status="requires_payment_method", methods=sepa, error={"code": "insufficient_funds"}
    )
    return [
        event(
            "payment_intent.created", payment_intent(status="requires_payment_method"), created=100
        ),
        event(
            "payment_intent.processing",
            payment_intent(status="processing", methods=sepa),
            created=110,
        ),
        event(
            "charge.pending",
            charge("ch_1", status="pending", method_type="sepa_debit"),
            created=110,
        ),
        event(
            "charge.failed", charge("ch_1", status="failed", method_type="sepa_debit"), created=400
        ),
        event(
            "payment_intent.payment_failed",
            failed,
            created=400,
            previous_attributes={"status": "processing"},
        ),
        event("payment_intent.succeeded", payment_intent(methods=card), created=500),
        event("charge.succeeded", charge("ch_2", wallet="apple_pay"), created=500),
        event("refund.created", refund("re_1", amount=300, charge="ch_2"), created=600),
        event(
            "refund.failed", refund("re_1", amount=300, charge="ch_2", status="failed"), created=700
        ),
        event("refund.created", refund("re_2", amount=200, charge="ch_2"), created=700),
        event("invoice_payment.paid", invoice_payment(), created=500),
    ]


def invoice_history() -> list[dict[str, Any]]:
    """Draft, finalized, a failed attempt, written off, then paid after all (twice notified)."""
    paid = invoice(status="paid", amount_paid=2000)
    return [
        event("invoice.created", invoice(status="draft"), created=100),
        event(
            "invoice.finalized",
            invoice(status="open"),
            created=200,
            previous_attributes={"status": "draft"},
        ),
        event("invoice.payment_failed", invoice(status="open"), created=300),
        event("invoice.marked_uncollectible", invoice(status="uncollectible"), created=900),
        event("invoice.paid", paid, created=1000, previous_attributes={"status": "uncollectible"}),
        event("invoice.payment_succeeded", paid, created=1000),
    ]


HISTORIES = {
    "sub_Test1": subscription_history,
    "pi_Test1": payment_history,
    "in_Test1": invoice_history,
}


@given(st.sampled_from(sorted(HISTORIES)), st.data())
def test_any_order_with_duplicates_converges_to_the_in_order_state(
    stripe_id: str, data: st.DataObject
) -> None:
    history = HISTORIES[stripe_id]()
    in_order = Memory()
    for document in history:
        in_order.apply(document)
    extra = data.draw(st.lists(st.sampled_from(history), max_size=2 * len(history)))
    deliveries = data.draw(st.permutations(history + extra))
    shuffled = Memory()
    for document in deliveries:
        shuffled.apply(json.loads(json.dumps(document)))
    assert shuffled.state(stripe_id) == in_order.state(stripe_id)


def test_three_snapshots_in_one_second_give_one_state_in_every_order() -> None:
    """Pairwise comparison on arrival is not transitive here (A before B by causality, B before
    C by event id, C before A by rank); choosing from the whole set is."""
    same_second = [
        event(
            "customer.subscription.updated",
            subscription(status="past_due"),
            created=500,
            event_id="evt_a",
            previous_attributes={"status": "trialing"},
        ),
        event(
            "customer.subscription.updated",
            subscription(status="active"),
            created=500,
            event_id="evt_b",
            previous_attributes={"status": "past_due"},
        ),
        event(
            "customer.subscription.updated",
            subscription(status="active", quantity=5),
            created=500,
            event_id="evt_c",
            previous_attributes={"items": {"data": []}},
        ),
    ]
    states = []
    for order in permutations(same_second):
        memory = Memory()
        for document in order:
            memory.apply(document)
        states.append(memory.state("sub_Test1"))
    assert all(state == states[0] for state in states)
