"""Stored domain events outlive code changes: each changed event class states its
`class_version`, and the eventsourcing library upcasts older stored events on read.

Version 1 (the walking skeleton) stored one snapshot per aggregate. Version 2 made aggregates
of parts: events name the part they revise and carry both the part's snapshot and the
aggregate's whole state (with `updated`), and subscriptions carry pricing and discounts.
Version 3 (`Recorded`, `Revised`; version 2 of `Backfilled`) adds `previous_state_digest`, the
digest of the part's state before the change the snapshot reports: unknown for the events
stored before it, which are ordered within a second by their top-level scalars as they were.
From version 3 on, `attributes` and `previous_attributes` hold what they held before.
Version 4 of the customer's `Recorded` and `Revised` (3 of its `Backfilled`) show the
customer's own discount: none is known of the events stored before. Version 4 of a payment
method's `Recorded` and `Revised` show its mandate (none known before) and whether the payment
method itself was seen (it always was: SetupIntents were not parts before).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

State = dict[str, Any]


def snapshot_v1_to_v2(kind: str, complete_part: Callable[[State], State], extra: State) -> Any:
    """An upcaster (for `upcast_v1_v2`) of a single-part aggregate's v1 snapshot events."""

    def upcast(event_state: State) -> None:
        part = complete_part(dict(event_state["state"]))
        event_state["part_kind"] = kind
        event_state["part_id"] = event_state["stripe_id"]
        event_state["part_state"] = part
        event_state["state"] = {**part, **extra, "updated": event_state["created"]}

    return staticmethod(upcast)


def unchanged(part: State) -> State:
    return part


def subscription_part_v1_to_v2(part: State) -> State:
    """v1 subscriptions had no currency, discounts, decimal or tiered pricing: all absent then."""
    items = [
        {
            "unit_amount_decimal": None,
            "billing_scheme": "per_unit",
            "tiers_mode": None,
            "tiers": None,
            **item,
        }
        for item in part.get("items", [])
    ]
    currency = items[0]["currency"] if items else None
    return {**part, "items": items, "currency": part.get("currency", currency), "discounts": []}


def previous_state_unknown(event_state: State) -> None:
    """An upcaster (v2 → v3 of `Recorded`/`Revised`, v1 → v2 of `Backfilled`): events stored
    before `previous_state_digest` existed do not know it."""
    event_state["previous_state_digest"] = None


def customer_discount_unknown(event_state: State) -> None:
    """An upcaster (v3 → v4 of a customer's `Recorded`/`Revised`, v2 → v3 of its `Backfilled`):
    customer snapshots stored before customers showed their discount show none."""
    if event_state["part_kind"] == "customer":
        event_state["part_state"] = {**event_state["part_state"], "discount": None}
    state = event_state.get("state")
    if state is not None and state.get("seen"):
        event_state["state"] = {**state, "discount": None}


def payment_method_mandate_unknown(event_state: State) -> None:
    """An upcaster (v3 → v4 of a payment method's `Recorded`/`Revised`): payment methods
    stored before they showed a mandate show none, and were seen."""
    event_state["state"] = {**event_state["state"], "mandate": None, "seen": True}
