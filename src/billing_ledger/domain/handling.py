"""The mapping of a Stripe event onto the aggregates it changes.

`apply_stripe_event` is pure: it reads aggregates through `load`, returns those it touched (each
with pending domain events only if the event changed it), and raises `UnprocessableEvent` when a
verified event cannot be understood, so the caller can dead-letter it and carry on.
"""

from __future__ import annotations

from typing import Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from billing_ledger.domain.customer import Customer, customer_state, customer_status
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.domain.subscription import Subscription, subscription_state
from billing_ledger.errors import BillingLedgerError
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent

A = TypeVar("A", bound=StripeObject)
M = TypeVar("M", bound=BaseModel)


class Load(Protocol):
    """Looks an aggregate up by class and id; None if it has no history yet."""

    def __call__(self, cls: type[A], aggregate_id: UUID) -> A | None: ...


CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated", "customer.deleted"})
SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
        "customer.subscription.pending_update_applied",
        "customer.subscription.pending_update_expired",
    }
)
HANDLED_EVENT_TYPES = CUSTOMER_EVENTS | SUBSCRIPTION_EVENTS


class UnprocessableEvent(BillingLedgerError):
    """A verified event of a handled type whose payload we cannot read; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_handled(event_type: str) -> bool:
    return event_type in HANDLED_EVENT_TYPES


def apply_stripe_event(event: StripeEvent, load: Load) -> list[StripeObject]:
    """Apply `event` to the aggregates it concerns. Unhandled types touch nothing."""
    if event.type in CUSTOMER_EVENTS:
        customer = _read(objects.Customer, event)
        return [
            Customer.observe(
                load(Customer, _id(event, customer.id)),
                event,
                customer.id,
                customer_state(event, customer),
                customer_status(event, customer),
            )
        ]
    if event.type in SUBSCRIPTION_EVENTS:
        subscription = _read(objects.Subscription, event)
        return [
            Subscription.observe(
                load(Subscription, _id(event, subscription.id)),
                event,
                subscription.id,
                subscription_state(subscription),
                subscription.status,
            )
        ]
    return []


def _read(model: type[M], event: StripeEvent) -> M:
    try:
        return model.model_validate(event.data.object)
    except ValidationError as e:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in e.errors()})
        raise UnprocessableEvent(
            f"{event.type}: unreadable {model.__name__} ({', '.join(fields)})"
        ) from None


def _id(event: StripeEvent, stripe_id: str) -> UUID:
    return stripe_uuid(event.account_id, event.livemode, stripe_id)
