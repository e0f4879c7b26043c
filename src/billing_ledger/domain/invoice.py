"""The Invoice aggregate.

`paid`, `void` and `deleted` (a deleted draft) are terminal, and the first reached stays: a
void or a deletion after payment contradicts it; `uncollectible` is not terminal: such an
invoice can still be paid or voided. Both API shapes are read: before 2025-03-31 an invoice
names its `subscription`, `tax` and `payment_intent`; since, the subscription sits under
`parent.subscription_details` and tax under `total_taxes`, and payments link through
`invoice_payment` objects (see payment.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import InvoicePart, InvoiceState
from billing_ledger.domain.stripe_object import Snapshot, StripeObject
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

DELETED = "deleted"
# Paid, void and deleted are final: the first reached stays (ordering.py). Stripe never reaches
# two of them; a signed history claiming two within one second gets the one with more behind it
# first: money received, then a finalized invoice voided, then a draft deleted.
RULES = StatusRules(
    terminal=frozenset({"paid", "void", DELETED}),
    rank={"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 4, DELETED: 5},
)


class Invoice(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {"invoice": RULES}

    class Recorded(StripeObject.Recorded):
        """InvoiceRecorded: the first snapshot of an invoice we hold."""

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: InvoiceState

    class Revised(StripeObject.Revised):
        """InvoiceRevised: a later snapshot became current (finalized, paid, voided...)."""

        if TYPE_CHECKING:
            state: InvoiceState

    class Backfilled(StripeObject.Backfilled):
        """InvoiceBackfilled: an older snapshot, recorded as history only."""


def invoice_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    invoice = objects.Invoice.model_validate(event.data.object)
    status = DELETED if event.type == "invoice.deleted" else (invoice.status or "draft")
    state: InvoicePart = {
        "customer": expandable_id(invoice.customer),
        "subscription": _subscription(invoice),
        "status": status,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "amount_remaining": invoice.amount_remaining,
        "total": invoice.total,
        "tax": _tax(invoice),
        "currency": invoice.currency,
        "number": invoice.number,
        "invoice_pdf": invoice.invoice_pdf,
        "hosted_invoice_url": invoice.hosted_invoice_url,
        "due_date": invoice.due_date,
        "paid_at": invoice.status_transitions.paid_at,
        "finalized_at": invoice.status_transitions.finalized_at,
        "voided_at": invoice.status_transitions.voided_at,
        "marked_uncollectible_at": invoice.status_transitions.marked_uncollectible_at,
        "pre_payment_credit_notes_amount": invoice.pre_payment_credit_notes_amount,
        "paid_out_of_band": invoice.paid_out_of_band,
        "payment_intent": expandable_id(invoice.payment_intent),
        "created": invoice.created,
    }
    return invoice.id, Snapshot("invoice", invoice.id, state, status)


def _subscription(invoice: objects.Invoice) -> str | None:
    if invoice.parent is not None and invoice.parent.subscription_details is not None:
        return expandable_id(invoice.parent.subscription_details.subscription)
    return expandable_id(invoice.subscription)


def _tax(invoice: objects.Invoice) -> int:
    if invoice.total_taxes is not None:
        return sum(tax.amount for tax in invoice.total_taxes)
    return invoice.tax or 0
