"""From a domain event to the journal entries it implies: the one entry point of the rules.

The projector asks `sources_of(event)` which source objects' posted entries the rules need,
reads them, and calls `post(event, histories)`. Only invoices, payments and disputes move money.
"""

from __future__ import annotations

from collections.abc import Mapping

from billing_ledger.domain.dispute import Dispute
from billing_ledger.domain.invoice import Invoice
from billing_ledger.domain.payment import Payment
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.ledger.disputes import post_dispute
from billing_ledger.ledger.entries import Entry, History
from billing_ledger.ledger.invoices import post_invoice
from billing_ledger.ledger.payments import payment_sources, post_payment, post_payment_invoiced

DomainEvent = StripeObject.Recorded | StripeObject.Revised
# The domain events whose rules can post entries: every other one moves no money.
MONEY_EVENTS: tuple[type[DomainEvent], ...] = (
    Payment.Recorded,
    Payment.Revised,
    Invoice.Recorded,
    Invoice.Revised,
    Dispute.Recorded,
    Dispute.Revised,
)


def sources_of(event: object) -> list[str]:
    """The source objects whose entries the event's rules read (none if it moves no money):
    an invoice's own, and those of the payment it names (older API versions)."""
    if isinstance(event, Payment.Recorded | Payment.Revised):
        return payment_sources(event.stripe_id, event.state)
    if isinstance(event, Invoice.Recorded | Invoice.Revised):
        named = named_payment(event)
        return [event.stripe_id, named] if named else [event.stripe_id]
    if isinstance(event, Dispute.Recorded | Dispute.Revised):
        return [event.stripe_id]
    return []


def named_payment(event: Invoice.Recorded | Invoice.Revised) -> str | None:
    """The PaymentIntent an invoice names as its payment (older API versions), if any."""
    return event.state["payment_intent"]


def post(
    event: DomainEvent, histories: Mapping[str, History], named_by: str | None = None
) -> list[Entry]:
    """The entries the event's resulting state implies that `histories` do not hold yet.
    `named_by`, for a payment: the invoice that names it as its payment, if one does."""
    stripe_id, at = event.stripe_id, event.timestamp
    if isinstance(event, Invoice.Recorded | Invoice.Revised):
        posted = post_invoice(stripe_id, event.state, at, histories.get(stripe_id, {}))
        named = named_payment(event)
        if named:
            posted += post_payment_invoiced(named, stripe_id, at, histories.get(named, {}))
        return posted
    if isinstance(event, Payment.Recorded | Payment.Revised):
        return post_payment(stripe_id, event.state, at, histories, named_by)
    if isinstance(event, Dispute.Recorded | Dispute.Revised):
        return post_dispute(stripe_id, event.state, at, histories.get(stripe_id, {}))
    return []
