"""Invoices and customers: terminal states, both API shapes, tax ids."""

from __future__ import annotations

import pytest

from billing_ledger.domain.errors import ContradictsTerminalState
from tests.support.domain_memory import Memory
from tests.support.stripe import (
    ApiShape,
    customer,
    event,
    invoice,
    stripe_object,
    subscription,
    tax_id,
)


@pytest.mark.parametrize("api", list(ApiShape))
def test_both_api_shapes_give_the_same_invoice_state(api: ApiShape) -> None:
    memory = Memory()
    memory.apply(event("invoice.finalized", invoice(total=2400, tax=400, api=api), api=api))
    state = memory.state("in_Test1")
    assert (state["subscription"], state["tax"], state["total"], state["status"]) == (
        "sub_Test1",
        400,
        2400,
        "open",
    )


def test_paid_is_terminal_whatever_arrives_later() -> None:
    memory = Memory()
    memory.apply(event("invoice.paid", invoice(status="paid", amount_paid=2000), created=300))
    memory.apply(event("invoice.finalized", invoice(status="open"), created=100))
    with pytest.raises(ContradictsTerminalState, match="terminal state paid of in_Test1"):
        memory.apply(event("invoice.updated", invoice(status="open"), created=400))
    assert memory.state("in_Test1")["status"] == "paid"


def test_uncollectible_is_not_terminal() -> None:
    memory = Memory()
    memory.apply(
        event("invoice.marked_uncollectible", invoice(status="uncollectible"), created=100)
    )
    memory.apply(event("invoice.paid", invoice(status="paid", amount_paid=2000), created=200))
    assert (memory.state("in_Test1")["status"], memory.state("in_Test1")["amount_remaining"]) == (
        "paid",
        0,
    )


def test_a_deleted_draft_is_marked_deleted() -> None:
    memory = Memory()
    memory.apply(event("invoice.created", invoice(status="draft"), created=100))
    memory.apply(event("invoice.deleted", invoice(status="draft"), created=200))
    assert memory.state("in_Test1")["status"] == "deleted"


@pytest.mark.parametrize("api", list(ApiShape))
def test_subscription_periods_in_both_api_shapes(api: ApiShape) -> None:
    memory = Memory()
    sub = subscription(period=(1_767_225_600, 1_769_904_000), api=api)
    memory.apply(event("customer.subscription.created", sub, api=api))
    assert memory.state("sub_Test1")["current_period_end"] == 1_769_904_000


def test_tax_ids_arrive_in_any_order_and_deletion_removes_them() -> None:
    memory = Memory()
    memory.apply(event("customer.tax_id.created", tax_id("txi_1", value="DE1"), created=100))
    assert memory.state("cus_Test1")["seen"] is False  # the customer itself has not arrived yet
    memory.apply(event("customer.created", customer("cus_Test1"), created=50))
    assert (memory.state("cus_Test1")["seen"], memory.state("cus_Test1")["tax_id"]) == (True, "DE1")
    memory.apply(event("customer.tax_id.created", tax_id("txi_2", value="DE2"), created=200))
    assert memory.state("cus_Test1")["tax_id"] == "DE2"
    memory.apply(event("customer.tax_id.deleted", tax_id("txi_2", value="DE2"), created=300))
    assert memory.state("cus_Test1")["tax_id"] == "DE1"


def test_metadata_ids_that_are_not_uuids_become_null() -> None:
    memory = Memory()
    memory.apply(event("customer.created", customer("cus_Test1", metadata={"user_id": "42"})))
    assert memory.state("cus_Test1")["user_id"] is None


@pytest.mark.parametrize("api", list(ApiShape))
def test_a_customer_shows_its_own_discount_in_both_api_shapes(api: ApiShape) -> None:
    """Current API versions name the coupon under `source.coupon`; earlier ones embed it."""
    terms = stripe_object("coupon", id="SAVE20", duration="forever", percent_off=20)
    discount = stripe_object(
        "discount", id="di_C", customer="cus_Test1", start=1_767_225_600, end=None
    )
    if api is ApiShape.BASIL:
        discount["source"] = {"type": "coupon", "coupon": "SAVE20"}
    else:
        discount.pop("source")
        discount["coupon"] = terms
    memory = Memory()
    memory.apply(event("customer.updated", customer("cus_Test1", discount=discount), api=api))
    shown = memory.state("cus_Test1")["discount"]
    assert (shown["id"], shown["coupon_id"], shown["start"]) == ("di_C", "SAVE20", 1_767_225_600)
    embedded = shown["coupon"]
    assert embedded is None if api is ApiShape.BASIL else embedded["percent_off"] == "20"
