"""A payment method shows the mandate its SetupIntent set it up under (SEPA, ACH): from
`setup_intent.succeeded`, in whichever order that and `payment_method.attached` arrive; a
card's shows none; a SetupIntent of a method not seen yet gives no row until it is."""

from __future__ import annotations

from dataclasses import replace
from itertools import permutations
from typing import Any

import pytest

from billing_ledger.domain.identity import stripe_uuid
from tests.support.domain_memory import Memory
from tests.support.stripe import event, payment_method, setup_intent

SEPA: dict[str, Any] = {
    "type": "sepa_debit",
    "card": None,
    "sepa_debit": {"last4": "3000", "country": "DE"},
}


def history() -> list[dict[str, Any]]:
    return [
        event("payment_method.attached", payment_method("pm_Sepa", **SEPA), created=100),
        event(
            "setup_intent.succeeded",
            setup_intent("seti_1", method_id="pm_Sepa", mandate="mandate_1"),
            created=100,
        ),
        event(
            "setup_intent.succeeded",
            setup_intent("seti_2", method_id="pm_Sepa", mandate="mandate_2"),
            created=300,
        ),
    ]


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_the_newest_setups_mandate_shows_whatever_the_order(order: tuple[int, ...]) -> None:
    memory = Memory()
    for index in order:
        memory.apply(history()[index])
    memory.apply(history()[order[0]])  # a redelivery changes nothing
    state = memory.state("pm_Sepa")
    assert (state["mandate"], state["seen"], state["type"], state["updated"]) == (
        "mandate_2",
        True,
        "sepa_debit",
        300,
    )


def test_a_setup_before_its_payment_method_is_not_yet_a_row() -> None:
    memory = Memory()
    memory.apply(history()[1])
    assert memory.state("pm_Sepa") == {"mandate": "mandate_1", "seen": False, "updated": 100}


def test_a_card_shows_no_mandate_and_a_setup_without_a_method_is_skipped() -> None:
    memory = Memory()
    memory.apply(event("payment_method.attached", payment_method("pm_Card"), created=100))
    memory.apply(event("setup_intent.succeeded", setup_intent("seti_3", method_id="pm_Card")))
    assert (
        memory.apply(event("setup_intent.succeeded", setup_intent("seti_4", method_id=None))) == []
    )
    assert memory.state("pm_Card")["mandate"] is None


def test_payment_method_events_stored_before_mandates_show_none() -> None:
    memory = Memory()
    memory.apply(event("payment_method.attached", payment_method("pm_Old"), created=100))
    memory.apply(event("payment_method.attached", payment_method("pm_Old"), created=50))
    recorded, backfilled = memory.app.recorder.select_events(stripe_uuid("", False, "pm_Old"))
    transcoder = memory.app.mapper.transcoder
    for stored, version in ((recorded, 3), (backfilled, 2)):
        state = transcoder.decode(stored.state)
        if "state" in state:
            state["state"].pop("mandate")
            state["state"].pop("seen")
        state["class_version"] = version
        upcast: Any = memory.app.mapper.to_domain_event(
            replace(stored, state=transcoder.encode(state))
        )
        shown = getattr(upcast, "state", {"mandate": None, "seen": True})
        assert (shown["mandate"], shown["seen"]) == (None, True)
