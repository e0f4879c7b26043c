"""A listed snapshot (an object as a backfill fetched it at T) is the object's state at T: it
wins over every webhook snapshot created before T and loses to any created after, whatever
the order they arrive in, and it enters through the same processor path as a webhook's."""

from __future__ import annotations

from itertools import permutations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.domain.handling import is_handled
from billing_ledger.domain.listing import LISTED_TYPES, listed_event, listed_event_id
from tests.support.domain_memory import Memory
from tests.support.stripe import customer, event, invoice, payment_intent, subscription

FETCHED_AT = 1_767_300_000


def listed(obj: dict[str, Any], fetched_at: int = FETCHED_AT, **envelope: Any) -> dict[str, Any]:
    return listed_event(
        obj,
        fetched_at=fetched_at,
        account=envelope.get("account", ""),
        livemode=envelope.get("livemode", False),
        api_version="2025-03-31.basil",
    )


def test_every_listed_kind_is_routed_to_its_aggregate() -> None:
    assert all(is_handled(event_type) for event_type in LISTED_TYPES.values())


def test_a_listed_snapshot_is_an_event_of_its_fetch_time_with_a_stable_id() -> None:
    snapshot = listed(customer(), account="acct_1")
    assert snapshot["type"] == "customer.listed"
    assert snapshot["created"] == FETCHED_AT
    assert snapshot["account"] == "acct_1"
    assert snapshot["data"] == {"object": customer()}
    assert snapshot["id"] == listed_event_id("acct_1", False, "cus_Test1", FETCHED_AT)
    assert snapshot["id"] != listed_event_id("", False, "cus_Test1", FETCHED_AT)
    assert snapshot["id"] != listed_event_id("acct_1", False, "cus_Test1", FETCHED_AT + 1)


def test_an_object_kind_without_a_listed_type_is_refused() -> None:
    with pytest.raises(ValueError, match="no listed snapshot of balance_transaction"):
        listed({"id": "txn_1", "object": "balance_transaction"})


def webhook_before_and_after() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A subscription active before T (webhook), past_due at T (listed), canceled after T."""
    before = event(
        "customer.subscription.updated",
        subscription(status="active"),
        created=FETCHED_AT - 50,
    )
    at = listed(subscription(status="past_due"))
    after = event(
        "customer.subscription.deleted",
        subscription(status="canceled", canceled_at=FETCHED_AT + 50),
        created=FETCHED_AT + 50,
        previous_attributes={"status": "past_due"},
    )
    return before, at, after


def test_a_listed_snapshot_wins_over_a_webhook_created_before_its_fetch() -> None:
    before, at, _ = webhook_before_and_after()
    for order in ([before, at], [at, before]):
        memory = Memory()
        for document in order:
            memory.apply(document)
        assert memory.state("sub_Test1")["status"] == "past_due"


def test_a_listed_snapshot_loses_to_a_webhook_created_after_its_fetch() -> None:
    _, at, after = webhook_before_and_after()
    for order in ([at, after], [after, at]):
        memory = Memory()
        for document in order:
            memory.apply(document)
        assert memory.state("sub_Test1")["status"] == "canceled"


def test_a_webhook_delayed_past_the_fetch_still_wins_when_it_was_created_later() -> None:
    """The backfill fetched at T; a change made just after T was delivered late (Stripe retried
    it), after the listed snapshot was processed: it still becomes the current state."""
    at = listed(invoice(status="open"))
    paid_later = event(
        "invoice.paid",
        invoice(status="paid", amount_paid=2000),
        created=FETCHED_AT + 1,
        previous_attributes={"status": "open"},
    )
    memory = Memory()
    memory.apply(at)
    memory.apply(paid_later)
    assert memory.state("in_Test1")["status"] == "paid"


def test_a_listed_snapshot_arriving_twice_changes_nothing_the_second_time() -> None:
    memory = Memory()
    memory.apply(listed(payment_intent(status="succeeded")))
    applied = memory.domain_events
    memory.apply(listed(payment_intent(status="succeeded")))
    assert memory.domain_events == applied


def history_with_a_listed_snapshot() -> list[dict[str, Any]]:
    """Webhooks of a customer's life, and a backfill's snapshot fetched in the middle of it."""
    return [
        event("customer.created", customer(name="Ada"), created=FETCHED_AT - 100),
        event(
            "customer.updated",
            customer(name="Ada L."),
            created=FETCHED_AT - 10,
            previous_attributes={"name": "Ada"},
        ),
        listed(customer(name="Ada L.")),
        listed(customer(name="Ada Lovelace"), fetched_at=FETCHED_AT + 20),
        event(
            "customer.updated",
            customer(name="Ada Byron"),
            created=FETCHED_AT + 30,
            previous_attributes={"name": "Ada Lovelace"},
        ),
    ]


@given(st.permutations(range(5)), st.lists(st.integers(0, 4), max_size=3))
def test_any_order_with_listed_snapshots_converges_to_the_latest_state(
    order: list[int], repeats: list[int]
) -> None:
    history = history_with_a_listed_snapshot()
    memory = Memory()
    for n in [*order, *repeats]:
        memory.apply(history[n])
    assert memory.state("cus_Test1")["name"] == "Ada Byron"


def test_every_prefix_order_agrees_with_the_in_order_state() -> None:
    """Whichever snapshots have arrived so far, in any order, the state is the one the latest
    `created` among them shows (the listed ones at their fetch time)."""
    history = history_with_a_listed_snapshot()[:4]
    expected = Memory()
    for document in history:
        expected.apply(document)
    for order in permutations(history):
        memory = Memory()
        for document in order:
            memory.apply(document)
        assert memory.state("cus_Test1") == expected.state("cus_Test1")
