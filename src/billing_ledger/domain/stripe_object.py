"""The base aggregate: the latest state of one Stripe object, built only from Stripe's snapshots.

Stripe sends the whole object with every event, so an aggregate keeps the snapshot that is
latest by the rules of `ordering.py`, and records a domain event only when a snapshot becomes
the current one. An event id is applied at most once; an older snapshot never overwrites a newer
one. Domain events carry Stripe's `created` as their timestamp: no clock is read here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from eventsourcing.domain import Aggregate

from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.ordering import StatusRules, Version, scalar_attributes, supersedes
from billing_ledger.schemas.envelope import StripeEvent

T = TypeVar("T", bound="StripeObject")


class StripeObject(Aggregate):
    STATUS_RULES: ClassVar[StatusRules] = StatusRules()

    class Recorded(Aggregate.Created):
        """The first snapshot of the object we hold (whatever event type carried it)."""

        account_id: str
        livemode: bool
        stripe_id: str
        stripe_event_id: str
        stripe_event_type: str
        created: int
        status: str | None
        attributes: dict[str, Any]
        previous_attributes: dict[str, Any]
        state: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            # Aggregate subclasses get a generated __init__, so the first state is set here.
            aggregate.account_id = self.account_id
            aggregate.livemode = self.livemode
            aggregate.stripe_id = self.stripe_id
            aggregate.applied_event_ids = set()
            aggregate._adopt(
                self.stripe_event_id, self.stripe_event_type, _version(self), self.state
            )

    class Revised(Aggregate.Event):
        """A later snapshot became the object's current state."""

        account_id: str
        livemode: bool
        stripe_id: str
        stripe_event_id: str
        stripe_event_type: str
        created: int
        status: str | None
        attributes: dict[str, Any]
        previous_attributes: dict[str, Any]
        state: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate._adopt(
                self.stripe_event_id, self.stripe_event_type, _version(self), self.state
            )

    if TYPE_CHECKING:  # declared for type checkers only: annotations would become __init__ args
        account_id: str
        livemode: bool
        stripe_id: str
        applied_event_ids: set[str]
        current: Version
        state: dict[str, Any]
        last_event_type: str

    def _adopt(
        self, stripe_event_id: str, stripe_event_type: str, version: Version, state: dict[str, Any]
    ) -> None:
        self.current = version
        self.state = state
        self.last_event_type = stripe_event_type
        self.applied_event_ids.add(stripe_event_id)

    @classmethod
    def observe(
        cls: type[T],
        existing: T | None,
        event: StripeEvent,
        stripe_id: str,
        state: dict[str, Any],
        status: str | None = None,
    ) -> T:
        """Apply one snapshot of the object to `existing` (or start it); returns the aggregate.

        The aggregate has a pending domain event only if the snapshot became current.
        """
        attributes = scalar_attributes(event.data.object)
        previous_attributes = scalar_attributes(event.data.previous_attributes or {})
        snapshot: dict[str, Any] = {
            "account_id": event.account_id,
            "livemode": event.livemode,
            "stripe_id": stripe_id,
            "stripe_event_id": event.id,
            "stripe_event_type": event.type,
            "created": event.created,
            "status": status,
            "attributes": attributes,
            "previous_attributes": previous_attributes,
            "state": state,
        }
        timestamp = datetime.fromtimestamp(event.created, UTC)
        if existing is None:
            return cls._create(
                cls.Recorded,
                id=stripe_uuid(event.account_id, event.livemode, stripe_id),
                timestamp=timestamp,
                **snapshot,
            )
        if event.id in existing.applied_event_ids:
            return existing
        incoming = Version(
            created=event.created,
            stripe_event_id=event.id,
            status=status,
            attributes=attributes,
            previous_attributes=previous_attributes,
        )
        if supersedes(incoming, existing.current, cls.STATUS_RULES):
            existing.trigger_event(cls.Revised, timestamp=timestamp, **snapshot)
        return existing


def _version(snapshot: StripeObject.Recorded | StripeObject.Revised) -> Version:
    return Version(
        created=snapshot.created,
        stripe_event_id=snapshot.stripe_event_id,
        status=snapshot.status,
        attributes=snapshot.attributes,
        previous_attributes=snapshot.previous_attributes,
    )
