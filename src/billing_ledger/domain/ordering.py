"""Which of two snapshots of one Stripe object is the later one.

Stripe's `created` has one-second resolution and deliveries arrive in any order, so arrival
order means nothing. The rule, applied in this order:
1. A terminal state never regresses: once current, only another terminal snapshot that is
   later by the rules below may replace it.
2. A later `created` wins.
3. Within one second, causality: snapshot B follows A when B's `data.previous_attributes`
   describe A (every compared attribute B says it had before equals A's value), and not the
   reverse.
4. Then the state rank of the object's status (a payment cannot un-succeed within a second).
5. Finally the event id, so the choice is deterministic even when nothing else tells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Version:
    """Where one snapshot sits in its object's history."""

    created: int
    stripe_event_id: str
    status: str | None = None
    # Top-level scalar attributes of the snapshot, and the previous values Stripe reported.
    attributes: Mapping[str, Scalar] = field(default_factory=dict)
    previous_attributes: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusRules:
    """An object type's terminal statuses and the rank used to order states within a second."""

    terminal: frozenset[str] = frozenset()
    rank: Mapping[str, int] = field(default_factory=dict)

    def is_terminal(self, status: str | None) -> bool:
        return status in self.terminal


def supersedes(incoming: Version, current: Version, rules: StatusRules) -> bool:
    """True when `incoming` is a later state of the object than `current`."""
    if incoming.stripe_event_id == current.stripe_event_id:
        return False
    if rules.is_terminal(current.status) and not rules.is_terminal(incoming.status):
        return False
    if incoming.created != current.created:
        return incoming.created > current.created
    incoming_follows, current_follows = _follows(incoming, current), _follows(current, incoming)
    if incoming_follows != current_follows:
        return incoming_follows
    incoming_rank = rules.rank.get(incoming.status or "", 0)
    current_rank = rules.rank.get(current.status or "", 0)
    if incoming_rank != current_rank:
        return incoming_rank > current_rank
    return incoming.stripe_event_id > current.stripe_event_id


def _follows(later: Version, earlier: Version) -> bool:
    compared = [key for key in later.previous_attributes if key in earlier.attributes]
    return bool(compared) and all(
        earlier.attributes[key] == later.previous_attributes[key] for key in compared
    )


def scalar_attributes(obj: Mapping[str, Any]) -> dict[str, Scalar]:
    """The top-level scalar attributes of a Stripe object or of its previous_attributes."""
    return {k: v for k, v in obj.items() if v is None or isinstance(v, str | int | float | bool)}
