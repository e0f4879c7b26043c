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
from billing_ledger.ledger.payments import payment_sources, post_payment

DomainEvent = StripeObject.Recorded | StripeObject.Revised


def sources_of(event: object) -> list[str]:
    """The source objects whose entries the event's rules read (none if it moves no money)."""
    if isinstance(event, Payment.Recorded | Payment.Revised):
        return payment_sources(event.stripe_id, event.state)
    if isinstance(event, Invoice.Recorded | Invoice.Revised | Dispute.Recorded | Dispute.Revised):
        return [event.stripe_id]
    return []


def post(event: DomainEvent, histories: Mapping[str, History]) -> list[Entry]:
    """The entries the event's resulting state implies that `histories` do not hold yet."""
    stripe_id, at = event.stripe_id, event.timestamp
    if isinstance(event, Invoice.Recorded | Invoice.Revised):
        return post_invoice(stripe_id, event.state, at, histories.get(stripe_id, {}))
    if isinstance(event, Payment.Recorded | Payment.Revised):
        return post_payment(stripe_id, event.state, at, histories)
    if isinstance(event, Dispute.Recorded | Dispute.Revised):
        return post_dispute(stripe_id, event.state, at, histories.get(stripe_id, {}))
    return []
