"""Which snapshot of one Stripe object is its current state.

Stripe's `created` has one-second resolution and deliveries arrive in any order, so arrival
order means nothing. The current snapshot is a function of the *set* of snapshots seen, never
of the order they came in (a rule applied pairwise on arrival is not, when three snapshots share
a second), chosen thus:
1. A terminal state never regresses: if any snapshot is terminal, only terminal ones compete.
2. A later `created` wins.
3. Within that second, causality: snapshot B follows A when B's `data.previous_attributes`
   describe A (every compared attribute B says it had before equals A's value), and not the
   reverse. The snapshots of the second are put in causal order (a topological order).
4. Where causality does not tell, the state rank of the object's status (a payment cannot
   un-succeed within a second), then the event id, so the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def current(versions: Iterable[Version], rules: StatusRules) -> Version:
    """The current one among the known snapshots of an object (or of one part of it)."""
    known = list(versions)
    terminal = [v for v in known if rules.is_terminal(v.status)]
    candidates = terminal or known
    latest = max(v.created for v in candidates)
    tied = [v for v in candidates if v.created == latest]
    # Usually one snapshot per second: nothing to order (this runs twice per Stripe event).
    return tied[0] if len(tied) == 1 else causal_order(tied, rules)[-1]


def causal_order(versions: list[Version], rules: StatusRules) -> list[Version]:
    """Snapshots of one second, earliest first: each after those it follows; where nothing
    says, lower rank first, then event id (Kahn's algorithm with a deterministic pick)."""
    remaining = sorted(
        versions, key=lambda v: (rules.rank.get(v.status or "", 0), v.stripe_event_id)
    )
    ordered: list[Version] = []
    while remaining:
        ready = [
            v for v in remaining if not any(_before(u, v) for u in remaining if u is not v)
        ] or remaining  # a cycle in what the payloads claim: fall back to rank and id
        ordered.append(ready[0])
        remaining.remove(ready[0])
    return ordered


def _before(earlier: Version, later: Version) -> bool:
    return _follows(later, earlier) and not _follows(earlier, later)


def _follows(later: Version, earlier: Version) -> bool:
    compared = [key for key in later.previous_attributes if key in earlier.attributes]
    return bool(compared) and all(
        earlier.attributes[key] == later.previous_attributes[key] for key in compared
    )


_SCALAR_TYPES = (str, int, float, bool)  # a tuple: isinstance with `str | int | ...` is slower


def scalar_attributes(obj: Mapping[str, Any]) -> dict[str, Scalar]:
    """The top-level scalar attributes of a Stripe object or of its previous_attributes."""
    return {k: v for k, v in obj.items() if v is None or isinstance(v, _SCALAR_TYPES)}
