"""The base aggregate: the current state of one Stripe object, built only from Stripe's snapshots.

Stripe sends whole objects with every event, so an aggregate keeps, for each *part* it is made
of, the snapshot that is latest by the rules of `ordering.py`, and records a domain event only
when a snapshot becomes a part's current one. Most aggregates have one part, the object itself;
some gather related objects that have no life of their own (a PaymentIntent with its charges,
refunds and invoice links; a customer with its tax ids), each part ordered on its own.

Each domain event carries the part's new snapshot and the aggregate's whole resulting `state`
(what the read schema shows), so projections need nothing but the event. A (Stripe event, part)
pair is applied at most once; an older snapshot never overwrites a newer one. Domain events take
Stripe's `created` as their timestamp: no clock is read here.

Of each part's history the aggregate keeps the frontier (frontier.py): what still decides its
current snapshot whatever arrives within the window. A snapshot older than that is decided from
the whole history; when the aggregate was loaded from a snapshot of it and does not hold that
in memory, `WholeHistoryNeeded` is raised before anything changes, and the caller loads the
aggregate from all its events and applies the Stripe event again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from eventsourcing.domain import Aggregate

from billing_ledger.domain.errors import WholeHistoryNeeded
from billing_ledger.domain.frontier import PartHistory, choose
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.ordering import (
    Scalar,
    StatusRules,
    Version,
    contradiction,
    scalar_attributes,
)
from billing_ledger.domain.state import PartState
from billing_ledger.domain.upcasting import previous_state_unknown
from billing_ledger.schemas.envelope import StripeEvent

T = TypeVar("T", bound="StripeObject")
P = TypeVar("P", bound=Mapping[str, object])


@dataclass(frozen=True)
class Part(Generic[P]):
    """The current snapshot of one part of an aggregate."""

    kind: str
    version: Version
    state: P


@dataclass(frozen=True)
class Snapshot:
    """One Stripe object as an event showed it, ready to be applied to an aggregate part."""

    kind: str
    stripe_id: str
    state: PartState
    status: str | None = None
    attributes: Mapping[str, Any] | None = None  # defaults to the event's data.object
    # The digest of the part's state before the change the event reports (ordering.py).
    previous_state_digest: str | None = None


@dataclass(frozen=True)
class SnapshotFields:
    """What every snapshot event carries: the object's identity, the Stripe event, the part it
    concerns and that part's snapshot (`Recorded` and `Revised` add the aggregate's `state`)."""

    account_id: str
    livemode: bool
    stripe_id: str
    stripe_event_id: str
    stripe_event_type: str
    part_kind: str
    part_id: str
    created: int
    status: str | None
    attributes: dict[str, Scalar]
    previous_attributes: dict[str, Scalar]
    # The digest of the part's state before the change this snapshot reports, as the event's
    # previous_attributes tell it (None: no change reported, or an event stored before v3).
    previous_state_digest: str | None
    # What the snapshot reader of `part_kind` wrote (or the upcasters made of an older
    # version): the shape of that kind (state.py; see `as_kind`).
    part_state: PartState


class StripeObject(Aggregate):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {}

    class Recorded(Aggregate.Created, SnapshotFields):
        """The first snapshot of the object we hold (whatever event type carried it)."""

        # v1: one snapshot per aggregate; v2: no previous_state_digest (see upcasting.py)
        class_version = 3
        upcast_v2_v3 = staticmethod(previous_state_unknown)

        # What `view` made of the parts. Each aggregate's events declare its shape (state.py)
        # for type checkers: a stored event is decoded into the class of its topic, whose
        # aggregate's view wrote it (or into what its upcasters make of an older version).
        state: Mapping[str, object]

        def apply(self, aggregate: Any) -> None:
            # Aggregate subclasses get a generated __init__, so the first state is set here.
            aggregate.account_id = self.account_id
            aggregate.livemode = self.livemode
            aggregate.stripe_id = self.stripe_id
            aggregate.parts = {}
            aggregate.history = {}
            aggregate.applied = set()
            aggregate._record(self)
            aggregate.state = self.state

    class Revised(Aggregate.Event, SnapshotFields):
        """A later snapshot became current for one part of the object."""

        class_version = 3
        upcast_v2_v3 = staticmethod(previous_state_unknown)

        state: Mapping[str, object]

        def apply(self, aggregate: Any) -> None:
            aggregate._record(self)
            aggregate.state = self.state

    class Backfilled(Aggregate.Event, SnapshotFields):
        """An older snapshot arrived late: it changes nothing now, but it is part of the object's
        history (MRR at the end of a past month depends on it), so it is recorded once."""

        class_version = 2  # v1: no previous_state_digest
        upcast_v1_v2 = staticmethod(previous_state_unknown)

        def apply(self, aggregate: Any) -> None:
            aggregate._record(self)

    if TYPE_CHECKING:  # declared for type checkers only: annotations would become __init__ args
        account_id: str
        livemode: bool
        stripe_id: str
        parts: dict[str, Part[PartState]]
        history: dict[str, PartHistory[Part[PartState]]]
        applied: set[str]
        state: dict[str, Any]  # the latest `Recorded`/`Revised` event's `state`

    def _record(
        self, event: StripeObject.Recorded | StripeObject.Revised | StripeObject.Backfilled
    ) -> None:
        """Add the event's snapshot to its part's history; the part's current snapshot is the
        one the ordering rules pick from it (see ordering.py), which is the one they pick from
        the whole history (frontier.py)."""
        snapshot = part_of(event)
        self._decisive(event.part_id, snapshot.version.created)  # raises if it is not in memory
        history = self.history.setdefault(event.part_id, PartHistory())
        rules = self.PART_RULES.get(snapshot.kind, StatusRules())
        history.add(snapshot, rules)
        self.parts[event.part_id] = choose(history.kept, rules)
        self.applied.add(_applied_key(event.stripe_event_id, event.part_id))

    def _decisive(self, part_id: str, created: int) -> list[Part[PartState]]:
        """The snapshots of `part_id` that decide for one created at `created` as its whole
        history would. Raises WholeHistoryNeeded if that takes snapshots not in memory."""
        history = self.history.get(part_id)
        if history is None:
            return []
        decisive = history.decisive(created)
        if decisive is None:
            raise WholeHistoryNeeded(self.id)
        return decisive

    @classmethod
    def view(cls, stripe_id: str, parts: Mapping[str, Part[PartState]]) -> Mapping[str, object]:
        """The aggregate's state as the read schema shows it, from its parts' current snapshots
        (the object's own, for an aggregate of one part), with `updated`."""
        main = parts.get(stripe_id)
        state: Mapping[str, object] = main.state if main is not None else {}
        return {**state, "updated": last_change(parts)}

    @classmethod
    def contradicted(
        cls,
        existing: StripeObject | None,
        event: StripeEvent,
        snapshot: Snapshot,
        incoming: Version | None = None,
    ) -> str | None:
        """The terminal status of `existing` that `snapshot` contradicts, if it does (see
        ordering.py); a snapshot already applied contradicts nothing. `incoming` is
        `incoming_version(event, snapshot)` when the caller has it."""
        if existing is None or _applied_key(event.id, snapshot.stripe_id) in existing.applied:
            return None
        history = existing._decisive(snapshot.stripe_id, event.created)
        rules = cls.PART_RULES.get(snapshot.kind, StatusRules())
        versions = [part.version for part in history]
        version = incoming if incoming is not None else incoming_version(event, snapshot)
        return contradiction(versions, version, rules)

    @classmethod
    def observe(
        cls: type[T],
        existing: T | None,
        event: StripeEvent,
        stripe_id: str,
        snapshot: Snapshot,
        incoming: Version | None = None,
    ) -> T:
        """Apply one snapshot to `existing` (or start the aggregate); returns the aggregate.

        The aggregate gains a pending `Recorded`/`Revised` event if its current state changed
        (the part's current snapshot is chosen from its whole history, so it may be an earlier
        one that the new snapshot put in order), a `Backfilled` one if not, none for a
        duplicate. Raises WholeHistoryNeeded (changing nothing) if the snapshot is older than
        the frontier of its part and the dropped snapshots are not in memory. `incoming` is
        `incoming_version(event, snapshot)` when the caller has it.
        """
        version = incoming if incoming is not None else incoming_version(event, snapshot)
        arriving = Part(snapshot.kind, version, snapshot.state)
        fields: dict[str, Any] = {
            "account_id": event.account_id,
            "livemode": event.livemode,
            "stripe_id": stripe_id,
            "stripe_event_id": event.id,
            "stripe_event_type": event.type,
            "part_kind": snapshot.kind,
            "part_id": snapshot.stripe_id,
            "created": event.created,
            "status": snapshot.status,
            "attributes": dict(version.attributes),
            "previous_attributes": dict(version.previous_attributes),
            "previous_state_digest": snapshot.previous_state_digest,
            "part_state": snapshot.state,
        }
        timestamp = datetime.fromtimestamp(event.created, UTC)
        if existing is not None and _applied_key(event.id, snapshot.stripe_id) in existing.applied:
            return existing
        parts = dict(existing.parts) if existing is not None else {}
        history = (
            existing._decisive(snapshot.stripe_id, event.created) if existing is not None else []
        )
        winner = choose([*history, arriving], cls.PART_RULES.get(snapshot.kind, StatusRules()))
        before = parts.get(snapshot.stripe_id)
        if existing is not None and before is not None and winner.version == before.version:
            existing.trigger_event(cls.Backfilled, timestamp=timestamp, **fields)
            return existing
        parts[snapshot.stripe_id] = winner
        fields["state"] = cls.view(stripe_id, parts)
        if existing is None:
            return cls._create(
                cls.Recorded,
                id=stripe_uuid(event.account_id, event.livemode, stripe_id),
                timestamp=timestamp,
                **fields,
            )
        existing.trigger_event(cls.Revised, timestamp=timestamp, **fields)
        return existing


def last_change(parts: Mapping[str, Part[PartState]]) -> int:
    """When the object last changed: the newest `created` among its parts' current snapshots.

    Not the timestamp of the last domain event, which depends on the order of delivery.
    """
    return max(part.version.created for part in parts.values())


def part_of(event: SnapshotFields) -> Part[PartState]:
    """The part snapshot a domain event carries (what `as_kind` narrows)."""
    return Part(event.part_kind, _version(event), event.part_state)


def as_kind(part: Part[PartState] | None, kind: str, shape: type[P]) -> Part[P] | None:
    """`part`, if it is of `kind`, with its state typed as `shape` (that kind's, state.py).

    The one place a part's state is narrowed: a part's kind and state are always written
    together, by that kind's snapshot reader (stored events hold what it wrote, upcast), so
    the kind says what the state holds.
    """
    return cast("Part[P]", part) if part is not None and part.kind == kind else None


def of_kind(parts: Iterable[Part[PartState]], kind: str, shape: type[P]) -> list[Part[P]]:
    """The parts of `kind`, in order, with their state typed as `shape` (see `as_kind`)."""
    return [found for part in parts if (found := as_kind(part, kind, shape)) is not None]


def incoming_version(event: StripeEvent, snapshot: Snapshot) -> Version:
    """Where `snapshot`, as `event` carries it, sits in its part's history."""
    raw = event.data.object if snapshot.attributes is None else snapshot.attributes
    return Version(
        created=event.created,
        stripe_event_id=event.id,
        status=snapshot.status,
        attributes=scalar_attributes(raw),
        previous_attributes=scalar_attributes(event.data.previous_attributes or {})
        if snapshot.attributes is None
        else {},
        previous_state_digest=snapshot.previous_state_digest,
        state=snapshot.state,
    )


def _version(event: SnapshotFields) -> Version:
    return Version(
        created=event.created,
        stripe_event_id=event.stripe_event_id,
        status=event.status,
        attributes=event.attributes,
        previous_attributes=event.previous_attributes,
        previous_state_digest=event.previous_state_digest,
        state=event.part_state,
    )


def _applied_key(stripe_event_id: str, part_id: str) -> str:
    return f"{stripe_event_id}:{part_id}"
