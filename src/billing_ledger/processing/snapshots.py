"""Snapshots of aggregates, so that loading one does not replay its whole history.

An aggregate the processor's cache no longer holds is loaded from the store: without a
snapshot, every one of its events is read, decoded and applied again, so a load cost grew with
the aggregate's age (a subscription gains events every billing period). The processor writes a
snapshot of an aggregate each time its version passes a multiple of `EVERY`, and a load reads
the latest snapshot and only the events after it.

Snapshots are a cache of what the events say, never a source: they live in their own table
(`eventstore.billing_snapshots`), written after the events they summarise are committed, and
dropping the table (or any row) is always safe. A snapshot is plain JSON of the aggregate's
attributes (`FORMAT`); one of another format is ignored and the aggregate is loaded from its
events. Change `FORMAT` whenever the attributes of `StripeObject` change shape.

Of each part's history a snapshot holds the frontier (domain/frontier.py), not what it dropped:
an aggregate loaded from one decides every snapshot within the window as its whole history
would, and asks for its events (WholeHistoryNeeded) for one older than that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from eventsourcing.domain import Snapshot
from eventsourcing.utils import get_topic, resolve_topic

from billing_ledger.domain.frontier import PartHistory
from billing_ledger.domain.ordering import Version
from billing_ledger.domain.state import PartState
from billing_ledger.domain.stripe_object import Part, StripeObject

EVERY = 8  # domain events between two snapshots of an aggregate
FORMAT = 3  # 1: before the ordering rules compared states by digest; 2: every part's whole history


class StaleSnapshot(Exception):
    """A snapshot of another format: load the aggregate from its events instead."""


class AggregateSnapshot(Snapshot):
    """The attributes of a `StripeObject` at one version, as JSON."""

    @classmethod
    def of(cls, aggregate: StripeObject) -> AggregateSnapshot:
        state = {
            "format": FORMAT,
            "created_on": aggregate.created_on,
            "modified_on": aggregate.modified_on,
            "account_id": aggregate.account_id,
            "livemode": aggregate.livemode,
            "stripe_id": aggregate.stripe_id,
            "parts": {part_id: _part(part) for part_id, part in aggregate.parts.items()},
            "history": {
                part_id: {
                    "kept": [_part(part) for part in history.kept],
                    "boundary": history.boundary,
                }
                for part_id, history in aggregate.history.items()
            },
            "applied": sorted(aggregate.applied),
            "state": aggregate.state,
        }
        # The aggregate's own time, not the clock's: nothing read from a clock reaches the store.
        return cls(
            originator_id=aggregate.id,
            originator_version=aggregate.version,
            timestamp=aggregate.modified_on,
            topic=get_topic(type(aggregate)),
            state=state,
        )

    def mutate(self, _: object) -> StripeObject:
        state = self.state
        if state.get("format") != FORMAT:
            raise StaleSnapshot(self.topic)
        cls = cast("type[StripeObject]", resolve_topic(self.topic))
        aggregate = object.__new__(cls)
        object.__setattr__(
            aggregate,
            "__dict__",
            {
                "_id": self.originator_id,
                "_version": self.originator_version,
                "_pending_events": [],
                "_created_on": state["created_on"],
                "_modified_on": state["modified_on"],
                "account_id": state["account_id"],
                "livemode": state["livemode"],
                "stripe_id": state["stripe_id"],
                "parts": {k: _unpart(v) for k, v in state["parts"].items()},
                "history": {k: _unhistory(v) for k, v in state["history"].items()},
                "applied": set(state["applied"]),
                "state": state["state"],
            },
        )
        return aggregate


def due(aggregate: StripeObject, events_committed: int) -> bool:
    """Whether committing `events_committed` events took `aggregate` past a multiple of EVERY."""
    return aggregate.version // EVERY > (aggregate.version - events_committed) // EVERY


def _part(part: Part[PartState]) -> dict[str, Any]:
    version = part.version
    return {
        "kind": part.kind,
        "created": version.created,
        "stripe_event_id": version.stripe_event_id,
        "status": version.status,
        "attributes": dict(version.attributes),
        "previous_attributes": dict(version.previous_attributes),
        "previous_state_digest": version.previous_state_digest,
        "state": part.state,
    }


def _unhistory(data: Mapping[str, Any]) -> PartHistory[Part[PartState]]:
    """A part's frontier; what it dropped stays in the store (None: not in memory)."""
    boundary = data["boundary"]
    kept = [_unpart(p) for p in data["kept"]]
    return PartHistory(kept, boundary, None if boundary is not None else [])


def _unpart(data: Mapping[str, Any]) -> Part[PartState]:
    state = cast("PartState", data["state"])
    version = Version(
        created=data["created"],
        stripe_event_id=data["stripe_event_id"],
        status=data["status"],
        attributes=data["attributes"],
        previous_attributes=data["previous_attributes"],
        previous_state_digest=data["previous_state_digest"],
        state=state,
    )
    return Part(data["kind"], version, state)
