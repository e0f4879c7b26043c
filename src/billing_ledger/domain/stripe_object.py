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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from eventsourcing.domain import Aggregate

from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.ordering import Scalar, StatusRules, Version, current, scalar_attributes
from billing_ledger.domain.state import PartState
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
    # What the snapshot reader of `part_kind` wrote (or the upcasters made of an older
    # version): the shape of that kind (state.py; see `as_kind`).
    part_state: PartState


class StripeObject(Aggregate):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {}

    class Recorded(Aggregate.Created, SnapshotFields):
        """The first snapshot of the object we hold (whatever event type carried it)."""

        class_version = 2  # v1: one snapshot per aggregate (see upcasting.py)

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

        class_version = 2

        state: Mapping[str, object]

        def apply(self, aggregate: Any) -> None:
            aggregate._record(self)
            aggregate.state = self.state

    class Backfilled(Aggregate.Event, SnapshotFields):
        """An older snapshot arrived late: it changes nothing now, but it is part of the object's
        history (MRR at the end of a past month depends on it), so it is recorded once."""

        def apply(self, aggregate: Any) -> None:
            aggregate._record(self)

    if TYPE_CHECKING:  # declared for type checkers only: annotations would become __init__ args
        account_id: str
        livemode: bool
        stripe_id: str
        parts: dict[str, Part[PartState]]
        history: dict[str, list[Part[PartState]]]
        applied: set[str]
        state: dict[str, Any]  # the latest `Recorded`/`Revised` event's `state`

    def _record(
        self, event: StripeObject.Recorded | StripeObject.Revised | StripeObject.Backfilled
    ) -> None:
        """Add the event's snapshot to its part's history; the part's current snapshot is the
        one the ordering rules pick from the whole history (see ordering.py).

        Only the history's frontier is kept (`_frontier`): the snapshots the rules could still
        pick, whatever arrives later. The choice is the same as from the whole history, and an
        aggregate's memory and the cost of each event no longer grow with its age."""
        snapshot = Part(event.part_kind, _version(event), event.part_state)
        history = _frontier(
            [*self.history.get(event.part_id, ()), snapshot],
            self.PART_RULES.get(snapshot.kind, StatusRules()),
        )
        self.history[event.part_id] = history
        self.parts[event.part_id] = _current(history, self.PART_RULES)
        self.applied.add(_applied_key(event.stripe_event_id, event.part_id))

    @classmethod
    def view(cls, stripe_id: str, parts: Mapping[str, Part[PartState]]) -> Mapping[str, object]:
        """The aggregate's state as the read schema shows it, from its parts' current snapshots
        (the object's own, for an aggregate of one part), with `updated`."""
        main = parts.get(stripe_id)
        state: Mapping[str, object] = main.state if main is not None else {}
        return {**state, "updated": last_change(parts)}

    @classmethod
    def observe(
        cls: type[T], existing: T | None, event: StripeEvent, stripe_id: str, snapshot: Snapshot
    ) -> T:
        """Apply one snapshot to `existing` (or start the aggregate); returns the aggregate.

        The aggregate gains a pending `Recorded`/`Revised` event if its current state changed
        (the part's current snapshot is chosen from its whole history, so it may be an earlier
        one that the new snapshot put in order), a `Backfilled` one if not, none for a
        duplicate.
        """
        raw = event.data.object if snapshot.attributes is None else snapshot.attributes
        version = Version(
            created=event.created,
            stripe_event_id=event.id,
            status=snapshot.status,
            attributes=scalar_attributes(raw),
            previous_attributes=scalar_attributes(event.data.previous_attributes or {})
            if snapshot.attributes is None
            else {},
        )
        incoming = Part(snapshot.kind, version, snapshot.state)
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
            "part_state": snapshot.state,
        }
        timestamp = datetime.fromtimestamp(event.created, UTC)
        if existing is not None and _applied_key(event.id, snapshot.stripe_id) in existing.applied:
            return existing
        parts = dict(existing.parts) if existing is not None else {}
        history = existing.history.get(snapshot.stripe_id, []) if existing is not None else []
        winner = _current([*history, incoming], cls.PART_RULES)
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


def _frontier(history: list[Part[PartState]], rules: StatusRules) -> list[Part[PartState]]:
    """The snapshots of `history` that `current` could pick, now or once more arrive: those
    of its latest second, and the terminal ones of the latest second that has any.

    `current` picks among the terminal snapshots of their latest second if there are any, else
    among all the snapshots of the latest second; a later snapshot can only join or replace
    those seconds, so the others can never be picked again (nor decide a tie)."""
    latest = max(p.version.created for p in history)
    terminal = [p for p in history if rules.is_terminal(p.version.status)]
    latest_terminal = max((p.version.created for p in terminal), default=None)
    return [
        p
        for p in history
        if p.version.created == latest
        or (p.version.created == latest_terminal and rules.is_terminal(p.version.status))
    ]


def _current(history: list[Part[PartState]], rules: Mapping[str, StatusRules]) -> Part[PartState]:
    chosen = current([p.version for p in history], rules.get(history[0].kind, StatusRules()))
    return next(p for p in history if p.version is chosen)


def _version(event: SnapshotFields) -> Version:
    return Version(
        created=event.created,
        stripe_event_id=event.stripe_event_id,
        status=event.status,
        attributes=event.attributes,
        previous_attributes=event.previous_attributes,
    )


def _applied_key(stripe_event_id: str, part_id: str) -> str:
    return f"{stripe_event_id}:{part_id}"
