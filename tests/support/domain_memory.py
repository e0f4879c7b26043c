"""The aggregates of one test, stored as the real application stores them (in memory)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from billing_ledger.domain.handling import A, apply_stripe_event
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.schemas.envelope import StripeEvent, parse_event
from tests.support.webhooks import body_of


class Memory:
    """Applies Stripe events through the real domain code to in-memory aggregates."""

    def __init__(self) -> None:
        self.app: Application[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.domain_events = 0

    def load(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate: object = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, cls)
        return aggregate

    def apply(self, document: dict[str, Any]) -> list[StripeObject]:
        touched = apply_stripe_event(parse(document), self.load)
        self.domain_events += sum(len(a.pending_events) for a in touched)
        self.app.save(*touched)
        return touched

    def state(self, stripe_id: str) -> dict[str, Any]:
        aggregate: object = self.app.repository.get(stripe_uuid("", False, stripe_id))
        assert isinstance(aggregate, StripeObject)
        return aggregate.state


def parse(document: dict[str, Any]) -> StripeEvent:
    return parse_event(body_of(document))
