"""Within one second, the order of an object's snapshots follows what each one's
`previous_attributes` say the object was before it, nested changes included: Stripe sends only
the changed keys of a hash and arrays whole, so a change inside `invoice_settings` or to one
item's quantity in `items.data` tells as much as a top-level one. Event ids never decide."""

from __future__ import annotations

import copy
import json
from itertools import permutations
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.domain.ordering import MAX_EXACT
from tests.support.domain_memory import Memory
from tests.support.stripe import (
    customer,
    event,
    previous_attributes,
    subscription,
    subscription_item,
)

T = 1_767_300_000


def update(event_type: str, before: dict[str, Any], after: dict[str, Any], **kw: Any) -> Any:
    return event(event_type, after, previous_attributes=previous_attributes(before, after), **kw)


def states_in_every_order(documents: list[dict[str, Any]], stripe_id: str) -> list[Any]:
    states = []
    for order in permutations(documents):
        memory = Memory()
        for document in order:
            memory.apply(document)
        states.append(memory.state(stripe_id))
    return states


def test_a_customer_updated_in_the_second_it_was_created_keeps_the_update() -> None:
    created = customer("cus_A")
    updated = copy.deepcopy(created)
    updated["invoice_settings"]["default_payment_method"] = "pm_A"
    documents = [
        # The ids would put the update first: only the nested change tells the order.
        event("customer.created", created, created=T, event_id="evt_2"),
        update("customer.updated", created, updated, created=T, event_id="evt_1"),
    ]
    for state in states_in_every_order(documents, "cus_A"):
        assert state["default_payment_method"] == "pm_A"


def items_with(*quantities: int) -> list[dict[str, Any]]:
    return [
        subscription_item(f"si_{n}", price_id=f"price_{n}", quantity=q)
        for n, q in enumerate(quantities)
    ]


def test_quantity_changes_of_one_item_in_one_second_end_with_the_last() -> None:
    """The current API shape carries the quantity only inside `items.data[]`."""
    chain = [subscription(items=items_with(q, 1)) for q in (1, 3, 2, 5)]
    documents = (
        [event("customer.subscription.created", chain[0], created=T - 60)]
        + [
            update(
                "customer.subscription.updated",
                before,
                after,
                created=T,
                event_id=f"evt_{9 - n}",  # ids in the reverse of the true order
            )
            for n, (before, after) in enumerate(zip(chain, chain[1:], strict=False))
        ]
    )
    for state in states_in_every_order(documents, "sub_Test1"):
        assert [item["quantity"] for item in state["items"]] == [5, 1]


def test_a_change_undone_within_the_second_ends_undone() -> None:
    """1 → 2 → 1: the second snapshot says 2 before it, and so did the first say 1; what the
    object was before the second (quantity 1) tells which came first."""
    one, two = subscription(items=items_with(1)), subscription(items=items_with(2))
    documents = [
        event("customer.subscription.created", one, created=T - 60),
        update("customer.subscription.updated", one, two, created=T, event_id="evt_b"),
        update("customer.subscription.updated", two, one, created=T, event_id="evt_a"),
    ]
    for state in states_in_every_order(documents, "sub_Test1"):
        assert state["items"][0]["quantity"] == 1


def test_a_crowded_second_still_follows_its_chain() -> None:
    """Beyond MAX_EXACT snapshots in one second the order is built greedily, each next the one
    the last explains best: a chain of changes is still followed to its end."""
    chain = [subscription(items=items_with(n % 4 + 1, n // 4 + 1)) for n in range(MAX_EXACT + 3)]
    documents = [event("customer.subscription.created", chain[0], created=T - 60)] + [
        update("customer.subscription.updated", before, after, created=T, event_id=f"evt_{99 - n}")
        for n, (before, after) in enumerate(zip(chain, chain[1:], strict=False))
    ]
    memory = Memory()
    for document in reversed(documents):
        memory.apply(document)
    assert [item["quantity"] for item in memory.state("sub_Test1")["items"]] == [
        item["quantity"] for item in chain[-1]["items"]["data"]
    ]


# Property: a random chain of changes within one second, delivered in any order (with
# duplicates), ends in the chain's last state.


def _other(draw: st.DrawFn, now: Any, values: list[Any]) -> Any:
    return draw(st.sampled_from([v for v in values if v != now]))


def _subscription_change(draw: st.DrawFn, obj: dict[str, Any]) -> None:
    what = draw(st.sampled_from(["quantity", "metadata", "pause", "cancel", "trial"]))
    if what == "quantity":
        item = draw(st.sampled_from(obj["items"]["data"]))
        item["quantity"] = _other(draw, item["quantity"], [1, 2, 3, 4])
    elif what == "metadata":
        seats = _other(draw, obj["metadata"].get("seats"), ["a", "b", "c"])
        obj["metadata"] = {**obj["metadata"], "seats": seats}
    elif what == "pause":
        paused = obj["pause_collection"] is None
        obj["pause_collection"] = {"behavior": "void", "resumes_at": None} if paused else None
    elif what == "cancel":
        obj["cancel_at_period_end"] = not obj["cancel_at_period_end"]
    else:
        obj["trial_end"] = _other(draw, obj["trial_end"], [None, T + 86_400, T + 2 * 86_400])


def _customer_change(draw: st.DrawFn, obj: dict[str, Any]) -> None:
    what = draw(st.sampled_from(["payment_method", "city", "name", "metadata"]))
    if what == "payment_method":
        settings = obj["invoice_settings"]
        methods = [None, "pm_1", "pm_2", "pm_3"]
        settings["default_payment_method"] = _other(
            draw, settings["default_payment_method"], methods
        )
    elif what == "city":
        obj["address"]["city"] = _other(draw, obj["address"]["city"], [None, "Lyon", "Porto"])
    elif what == "name":
        obj["name"] = _other(draw, obj["name"], ["Ada", "Grace", "Edsger"])
    else:
        user = _other(draw, obj["metadata"].get("user_id"), [str(UUID(int=n)) for n in (1, 2)])
        obj["metadata"] = {**obj["metadata"], "user_id": user}


@st.composite
def same_second_chain(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """An object's earlier snapshot (or its creation within the second), then 1-5 updates in
    one second, each with Stripe's previous_attributes, and event ids in a random order."""
    if draw(st.booleans()):
        stripe_id, kind, change = "sub_Test1", "customer.subscription", _subscription_change
        first = subscription(
            items=items_with(*draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
        )
    else:
        stripe_id, kind, change = "cus_Test1", "customer", _customer_change
        first = customer("cus_Test1")
    created_within = draw(st.booleans())
    count = draw(st.integers(1, 5))
    ids = draw(st.permutations([f"evt_{n}" for n in range(count + 1)]))
    documents = [event(f"{kind}.created", first, created=T if created_within else T - 1)]
    documents[0]["id"] = ids[0]
    before = first
    for n in range(count):
        after = copy.deepcopy(before)
        change(draw, after)
        documents.append(update(f"{kind}.updated", before, after, created=T, event_id=ids[n + 1]))
        before = after
    return stripe_id, documents


@given(same_second_chain(), st.data())
def test_a_same_second_chain_in_any_order_ends_in_its_last_state(
    chain: tuple[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    stripe_id, documents = chain
    last = Memory()
    last.apply(documents[-1])
    extra = data.draw(st.lists(st.sampled_from(documents), max_size=3), label="duplicates")
    delivered = data.draw(st.permutations(documents + extra), label="deliveries")
    memory = Memory()
    for document in delivered:
        memory.apply(json.loads(json.dumps(document)))
    assert memory.state(stripe_id) == last.state(stripe_id)
