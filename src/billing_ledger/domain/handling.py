"""The mapping of a Stripe event onto the aggregates it changes.

`apply_stripe_event` is pure: it reads aggregates through `load`, returns those it touched (each
with pending domain events only if the event changed it), and raises `UnprocessableEvent` when a
verified event of a handled type cannot be read, or `ContradictsTerminalState` when it shows an
object after its first terminal state in another status (before changing anything), so the
caller can dead-letter it and carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar
from uuid import UUID

from pydantic import ValidationError

from billing_ledger.domain.customer import Customer, customer_snapshot, tax_id_snapshot
from billing_ledger.domain.discount import Coupon, Discount, coupon_snapshot, discount_snapshot
from billing_ledger.domain.dispute import Dispute, dispute_snapshot
from billing_ledger.domain.errors import ContradictsTerminalState, UnprocessableEvent
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.invoice import Invoice, invoice_snapshot
from billing_ledger.domain.ordering import previous_object, state_digest
from billing_ledger.domain.payment import (
    Payment,
    charge_snapshots,
    intent_snapshot,
    invoice_link_snapshot,
    refund_snapshot,
)
from billing_ledger.domain.payment_method import (
    PaymentMethod,
    payment_method_snapshot,
    setup_snapshot,
)
from billing_ledger.domain.stripe_object import Snapshot, StripeObject, incoming_version
from billing_ledger.domain.subscription import Subscription, subscription_snapshot
from billing_ledger.schemas.envelope import StripeEvent

A = TypeVar("A", bound=StripeObject)
Owned = tuple[str, Snapshot]  # (the owning aggregate's Stripe id, the snapshot of one part)


class Load(Protocol):
    """Looks an aggregate up by class and id; None if it has no history yet."""

    def __call__(self, cls: type[A], aggregate_id: UUID) -> A | None: ...


@dataclass(frozen=True)
class Route:
    aggregate: type[StripeObject]
    snapshots: Callable[[StripeEvent], Sequence[Owned]]


def _one(read: Callable[[StripeEvent], Owned | None]) -> Callable[[StripeEvent], Sequence[Owned]]:
    def snapshots(event: StripeEvent) -> Sequence[Owned]:
        owned = read(event)
        return [owned] if owned is not None else []

    return snapshots


def _routes(
    aggregate: type[StripeObject], read: Callable[[StripeEvent], Sequence[Owned]], *types: str
) -> dict[str, Route]:
    return {event_type: Route(aggregate, read) for event_type in types}


ROUTES: dict[str, Route] = {
    **_routes(
        Customer,
        _one(customer_snapshot),
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "customer.listed",
    ),
    **_routes(
        Customer,
        _one(tax_id_snapshot),
        "customer.tax_id.created",
        "customer.tax_id.updated",
        "customer.tax_id.deleted",
        "customer.tax_id.listed",
    ),
    **_routes(
        Subscription,
        _one(subscription_snapshot),
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
        "customer.subscription.pending_update_applied",
        "customer.subscription.pending_update_expired",
        "customer.subscription.listed",
    ),
    **_routes(
        Invoice,
        _one(invoice_snapshot),
        "invoice.created",
        "invoice.finalized",
        "invoice.updated",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.payment_action_required",
        "invoice.voided",
        "invoice.marked_uncollectible",
        "invoice.deleted",
        "invoice.sent",
        "invoice.overdue",
        "invoice.overpaid",
        "invoice.will_be_due",
        "invoice.listed",
    ),
    **_routes(
        Payment, _one(invoice_link_snapshot), "invoice_payment.paid", "invoice_payment.listed"
    ),
    **_routes(
        Payment,
        _one(intent_snapshot),
        "payment_intent.created",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.amount_capturable_updated",
        "payment_intent.partially_funded",
        "payment_intent.listed",
    ),
    **_routes(
        Payment,
        charge_snapshots,
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "charge.captured",
        "charge.pending",
        "charge.updated",
        "charge.expired",
        "charge.listed",
    ),
    **_routes(
        Payment,
        _one(refund_snapshot),
        "refund.created",
        "refund.updated",
        "refund.failed",
        "charge.refund.updated",
        "refund.listed",
    ),
    **_routes(
        Dispute,
        _one(dispute_snapshot),
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "charge.dispute.listed",
    ),
    **_routes(
        PaymentMethod,
        _one(payment_method_snapshot),
        "payment_method.attached",
        "payment_method.detached",
        "payment_method.updated",
        "payment_method.automatically_updated",
        "payment_method.listed",
    ),
    **_routes(
        Coupon,
        _one(coupon_snapshot),
        "coupon.created",
        "coupon.updated",
        "coupon.deleted",
        "coupon.listed",
    ),
    **_routes(PaymentMethod, _one(setup_snapshot), "setup_intent.succeeded"),
    **_routes(
        Discount,
        _one(discount_snapshot),
        "customer.discount.created",
        "customer.discount.updated",
        "customer.discount.deleted",
        "customer.discount.listed",
    ),
}
# Each `*.listed` type is a backfill's snapshot of an object (listing.py): read like the
# object's other events, ordered by its fetch time.

# Kept in the log, deliberately projected nowhere: `invoice.upcoming` previews an invoice that
# does not exist yet (it has no id).
IGNORED_EVENT_TYPES = frozenset({"invoice.upcoming"})


def is_handled(event_type: str) -> bool:
    return event_type in ROUTES


def read_snapshots(event: StripeEvent) -> Sequence[Owned]:
    """The snapshots `event` carries, each with the Stripe id of the aggregate it belongs to
    (none for a type we do not handle). Raises UnprocessableEvent if they cannot be read."""
    route = ROUTES.get(event.type)
    if route is None:
        return []
    try:
        owned = route.snapshots(event)
    except ValidationError as e:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in e.errors()})
        raise UnprocessableEvent(
            f"{event.type}: unreadable {e.title} ({', '.join(fields)})"
        ) from None
    previous = event.data.previous_attributes
    return _with_previous_states(event, route, owned) if previous else owned


def _with_previous_states(event: StripeEvent, route: Route, owned: Sequence[Owned]) -> list[Owned]:
    """`owned`, each snapshot of the event's own object with the digest of the state it
    changed from: the same reader applied to the object as `previous_attributes` say it was
    (ordering.py). Where that earlier object cannot be read, the digest stays unknown."""
    data = event.data
    assert data.previous_attributes is not None
    before = data.model_copy(
        update={
            "object": previous_object(data.object, data.previous_attributes),
            "previous_attributes": None,
        }
    )
    try:
        earlier = route.snapshots(event.model_copy(update={"data": before}))
    except ValidationError:
        return list(owned)
    digests = {
        (s.kind, s.stripe_id): state_digest(s.state) for _, s in earlier if s.attributes is None
    }
    return [
        (owner, replace(s, previous_state_digest=digests.get((s.kind, s.stripe_id))))
        if s.attributes is None
        else (owner, s)
        for owner, s in owned
    ]


def aggregate_ids(event: StripeEvent, owned: Sequence[Owned]) -> list[UUID]:
    """The aggregates `apply_stripe_event` will load for `event`, given its `read_snapshots`,
    so that a batch can ask the store about all of them at once."""
    return [stripe_uuid(event.account_id, event.livemode, owner) for owner, _ in owned]


def apply_stripe_event(
    event: StripeEvent, load: Load, owned: Sequence[Owned] | None = None
) -> list[StripeObject]:
    """Apply `event` to the aggregates it concerns. Unhandled types touch nothing. `owned` is
    `read_snapshots(event)` when the caller has read them already (they are read once)."""
    route = ROUTES.get(event.type)
    if route is None:
        return []
    if owned is None:
        owned = read_snapshots(event)
    touched: dict[UUID, StripeObject | None] = {}
    # Each snapshot's place in its part's history, read once for both passes.
    placed = [
        (stripe_uuid(event.account_id, event.livemode, owner), owner, snapshot)
        for owner, snapshot in owned
    ]
    incoming = [incoming_version(event, snapshot) for _, _, snapshot in placed]
    for (aggregate_id, _, snapshot), version in zip(placed, incoming, strict=True):
        # Nothing is applied if any part is refused.
        if aggregate_id not in touched:
            touched[aggregate_id] = load(route.aggregate, aggregate_id)
        terminal = route.aggregate.contradicted(touched[aggregate_id], event, snapshot, version)
        if terminal is not None:
            raise ContradictsTerminalState(event.type, snapshot.stripe_id, terminal)
    for (aggregate_id, owner, snapshot), version in zip(placed, incoming, strict=True):
        existing = touched[aggregate_id]
        touched[aggregate_id] = route.aggregate.observe(existing, event, owner, snapshot, version)
    return [aggregate for aggregate in touched.values() if aggregate is not None]
