"""Terminal states are final whatever a signed history claims: the first terminal state an
object reached stays, and a snapshot after it that shows another status contradicts it, so it
is refused (the processor dead-letters it) and changes nothing, in any order of delivery."""

from __future__ import annotations

import json
from itertools import permutations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.domain.errors import UnprocessableEvent
from billing_ledger.domain.identity import stripe_uuid
from tests.support.domain_memory import Memory
from tests.support.stripe import charge, event, invoice, payment_intent, refund

T = 1_767_300_000
PAID = invoice(status="paid", amount_paid=2000, transitions={"paid_at": T})


def invoice_life(*, void_at: int, delete_at: int) -> list[dict[str, Any]]:
    """Finalized, paid; then (impossible in Stripe, but signed) voided and deleted."""
    return [
        event("invoice.finalized", invoice(status="open"), created=T - 100),
        event("invoice.paid", PAID, created=T),
        event("invoice.voided", invoice(status="void"), created=void_at, event_id="evt_0void"),
        event("invoice.deleted", invoice(status="draft"), created=delete_at, event_id="evt_0del"),
    ]


def deliver(memory: Memory, document: dict[str, Any]) -> str | None:
    """Apply `document`; the reason it was refused, if it was."""
    try:
        memory.apply(document)
    except UnprocessableEvent as e:
        return e.reason
    return None


def test_a_void_after_paid_is_refused_and_paid_stays() -> None:
    memory = Memory()
    life = invoice_life(void_at=T + 100, delete_at=T + 200)
    assert [deliver(memory, d) for d in life[:3]] == [
        None,
        None,
        "invoice.voided contradicts terminal state paid of in_Test1",
    ]
    assert (memory.state("in_Test1")["status"], memory.state("in_Test1")["amount_paid"]) == (
        "paid",
        2000,
    )


def test_paid_reached_first_wins_over_a_void_delivered_first() -> None:
    memory = Memory()
    voided, paid = invoice_life(void_at=T + 100, delete_at=T + 200)[2:0:-1]
    assert (deliver(memory, voided), deliver(memory, paid)) == (None, None)
    assert memory.state("in_Test1")["status"] == "paid"


def test_paid_and_deleted_in_one_second_stay_paid_in_every_order() -> None:
    """Within the second nothing says which came first: paid (money moved) ranks first."""
    paid, deleted = invoice_life(void_at=T + 100, delete_at=T)[1::2]
    for order in permutations([paid, deleted]):
        memory = Memory()
        refused = [deliver(memory, document) for document in order]
        assert memory.state("in_Test1")["status"] == "paid"
        assert refused == (
            [None, "invoice.deleted contradicts terminal state paid of in_Test1"]
            if order[0] is paid
            else [None, None]
        )


def test_a_payment_that_succeeded_is_not_canceled_later() -> None:
    memory = Memory()
    memory.apply(event("payment_intent.succeeded", payment_intent(), created=T))
    canceled = payment_intent(status="canceled", amount_received=0)
    assert deliver(memory, event("payment_intent.canceled", canceled, created=T + 5)) == (
        "payment_intent.canceled contradicts terminal state succeeded of pi_Test1"
    )
    assert memory.state("pi_Test1")["status"] == "succeeded"


@given(st.sampled_from([T, T + 100]), st.sampled_from([T, T + 200]), st.data())
def test_any_order_of_a_contradictory_life_ends_paid(
    void_at: int, delete_at: int, data: st.DataObject
) -> None:
    life = invoice_life(void_at=void_at, delete_at=delete_at)
    extra = data.draw(st.lists(st.sampled_from(life), max_size=4), label="duplicates")
    memory = Memory()
    for document in data.draw(st.permutations(life + extra), label="deliveries"):
        deliver(memory, json.loads(json.dumps(document)))
    assert (memory.state("in_Test1")["status"], memory.state("in_Test1")["paid_at"]) == ("paid", T)


def test_a_refused_event_with_several_parts_applies_none_of_them() -> None:
    """A charge event carrying its refunds is refused whole when one part contradicts."""
    memory = Memory()
    memory.apply(event("refund.failed", refund(status="failed"), created=T))
    later = charge(amount_refunded=500, refunds={"object": "list", "data": [refund()]})
    with pytest.raises(UnprocessableEvent, match="contradicts terminal state failed of re_Test1"):
        memory.apply(event("charge.refunded", later, created=T + 10))
    payment: Any = memory.app.repository.get(stripe_uuid("", False, "pi_Test1"))
    assert "ch_Test1" not in payment.parts
