"""How much of one part's history an aggregate keeps: its frontier, exact under ordering.py.

The rules of ordering.py choose a part's current snapshot from the *set* of its snapshots, and
a late one can reorder any earlier second (its order starts from the state before that second,
which depends on the seconds before it, and so on back), so no snapshot can be dropped if any
snapshot may still arrive anywhere. What can be dropped is what no arrival *at or after a
boundary second* `b` can reach. For every set `A` of snapshots created at `b` or later:

    current(K ∪ A) = current(F ∪ A)   where   F = {current(K before b)} ∪ (K from b on)

and likewise for `contradiction` of an arrival at `b` or later. Why: `current` and
`first_terminal` look before a second only through `second_order`, whose anchor is the current
snapshot of everything before that second, and by induction over the seconds from `b` that
anchor is the same from `F` as from `K`: before `b` both give `current(K before b)`. A first
terminal state reached before `b` stays first (arrivals come later), and the anchor then shows
its status (a part that reached a terminal state stays in it), so the anchor alone stands for
it; with none before `b`, the anchor is not terminal either, as none of what it stands for is.

So a part keeps its latest `window` seconds whole and the one snapshot that was current before
them (`PartHistory`), and an arrival older than the boundary (a late one, beyond the window)
is decided from the whole history: the dropped snapshots when they are in memory, else the
aggregate's stored events (`decisive` returns None and the caller loads them). A part's
history arriving in order thus keeps a few snapshots however long it is, and only a snapshot
later than `window` costs a reading of the whole history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from billing_ledger.domain.ordering import StatusRules, Version, current

# Seconds of `created` kept whole behind a part's latest snapshot: Stripe retries a webhook for
# up to three days, so a delivery later than that is a backfill or a replay, not a retry.
WINDOW = 3 * 24 * 60 * 60


class Versioned(Protocol):
    @property
    def version(self) -> Version: ...


V = TypeVar("V", bound=Versioned)


def choose(items: Sequence[V], rules: StatusRules) -> V:
    """The item whose snapshot `current` picks among those of `items`."""
    chosen = current([item.version for item in items], rules)
    return next(item for item in items if item.version is chosen)


@dataclass(slots=True)
class PartHistory(Generic[V]):
    """The snapshots of one part that still decide its current one, whatever arrives after
    the boundary: every one created at `boundary` or later, and the one current before it.

    `boundary` is None while nothing was dropped (the history is whole); `dropped` holds what
    was, while it is in memory (None once the aggregate was loaded from a snapshot of it)."""

    kept: list[V] = field(default_factory=list)
    boundary: int | None = None
    dropped: list[V] | None = field(default_factory=list)

    def decisive(self, created: int) -> list[V] | None:
        """What decides an arrival created at `created`: the kept snapshots if it is not older
        than the boundary, else the whole history; None if that is not in memory."""
        if self.boundary is None or created >= self.boundary:
            return self.kept
        if self.dropped is None:
            return None
        return [*self.dropped, *self.kept]

    def add(self, item: V, rules: StatusRules, window: int = WINDOW) -> None:
        """Add a new snapshot (not a duplicate), then drop what no later arrival can reach.

        Raises LookupError if `item` is older than the boundary and the whole history is not
        in memory (callers ask `decisive` first)."""
        known = self.decisive(item.version.created)
        if known is None:
            raise LookupError("the whole history of this part is not in memory")
        whole = known is not self.kept
        items = [*known, item]
        latest = max(i.version.created for i in items)
        boundary = latest - window if self.boundary is None else max(self.boundary, latest - window)
        below = [i for i in items if i.version.created < boundary]
        if len(below) < 2:  # nothing to drop (never so when `whole`: two were dropped once)
            self.kept = items
            if self.boundary is not None:  # the anchor alone is below the boundary
                self.boundary = boundary
            return
        anchor = choose(below, rules)
        self.kept = [anchor, *(i for i in items if i.version.created >= boundary)]
        self.boundary = boundary
        dropped = [i for i in below if i is not anchor]
        if whole:
            self.dropped = dropped
        elif self.dropped is not None:
            self.dropped.extend(dropped)

    def without_dropped(self) -> PartHistory[V]:
        """The same frontier with what was dropped left to the stored events (as a snapshot of
        the aggregate holds it)."""
        return PartHistory(
            list(self.kept), self.boundary, None if self.boundary is not None else []
        )
