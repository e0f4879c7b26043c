"""Domain events stored by earlier versions decode into the current classes: what they did not
know is filled in as unknown (tests/integration/test_upcasting.py loads real v1 events)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eventsourcing.persistence import StoredEvent

from billing_ledger.domain.identity import stripe_uuid
from tests.support.domain_memory import Memory
from tests.support.stripe import customer, event


def stored_as_before(memory: Memory, stored: StoredEvent, version: int, *dropped: str) -> Any:
    """`stored` as the code of `version` wrote it (without `dropped`), decoded now."""
    transcoder = memory.app.mapper.transcoder
    state = transcoder.decode(stored.state)
    for name in dropped:
        del state[name]
    if version > 1:
        state["class_version"] = version
    else:
        state.pop("class_version", None)
    return memory.app.mapper.to_domain_event(replace(stored, state=transcoder.encode(state)))


def test_snapshots_stored_before_previous_state_digests_do_not_know_them() -> None:
    memory = Memory()
    memory.apply(event("customer.created", customer("cus_A"), created=200))
    memory.apply(event("customer.created", customer("cus_A", name="Older"), created=100))
    recorded, backfilled = memory.app.recorder.select_events(stripe_uuid("", False, "cus_A"))
    assert (
        stored_as_before(memory, recorded, 2, "previous_state_digest").previous_state_digest is None
    )
    assert (
        stored_as_before(memory, backfilled, 1, "previous_state_digest").previous_state_digest
        is None
    )


def test_customer_snapshots_stored_before_customers_showed_their_discount_show_none() -> None:
    memory = Memory()
    memory.apply(event("customer.created", customer("cus_A"), created=200))
    memory.apply(event("customer.created", customer("cus_A", name="Older"), created=100))
    recorded, backfilled = memory.app.recorder.select_events(stripe_uuid("", False, "cus_A"))
    for stored, version in ((recorded, 3), (backfilled, 2)):
        transcoder = memory.app.mapper.transcoder
        state = transcoder.decode(stored.state)
        state["part_state"].pop("discount")
        if "state" in state:
            state["state"].pop("discount")
        state["class_version"] = version
        old = replace(stored, state=transcoder.encode(state))
        upcast: Any = memory.app.mapper.to_domain_event(old)
        assert upcast.part_state["discount"] is None
        assert getattr(upcast, "state", {"discount": None})["discount"] is None
