"""Invoices and customers: terminal states, both API shapes, tax ids."""

from __future__ import annotations

import pytest

from tests.stripe_events import customer, event, invoice, subscription, tax_id
from tests.support.domain_memory import Memory


@pytest.mark.parametrize("api", ["current", "old"])
def test_both_api_shapes_give_the_same_invoice_state(api: str) -> None:
    memory = Memory()
    version = "2025-03-31.basil" if api == "current" else "2024-06-20"
    memory.apply(
        event("invoice.finalized", invoice(total=2400, tax=400, api=api), api_version=version)
    )
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


@pytest.mark.parametrize(
    ("shape", "expected_end"),
    [("subscription", 1_769_904_000), ("item", 1_769_904_000)],
)
def test_subscription_periods_in_both_api_shapes(shape: str, expected_end: int) -> None:
    memory = Memory()
    sub = subscription()
    if shape == "subscription":  # before 2025-03-31: on the subscription, not on items
        for item in sub["items"]["data"]:
            item.pop("current_period_start")
            item.pop("current_period_end")
        sub.update(current_period_start=1_767_225_600, current_period_end=expected_end)
    memory.apply(event("customer.subscription.created", sub))
    assert memory.state("sub_Test1")["current_period_end"] == expected_end


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
