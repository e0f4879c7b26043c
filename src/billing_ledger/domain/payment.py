"""The Payment aggregate: a PaymentIntent with its charges, refunds and invoice links as parts.

One row per PaymentIntent in `payment_transactions` comes from the view below. Paths Stripe
takes: cards succeed or fail at once; bank debits (ACH, SEPA) sit in `processing` for days;
iDEAL and 3-D Secure pass through `requires_action`; bank transfers wait in `requires_action`
and may be partly funded (`amount_received` < `amount`); wallets (Apple Pay, Google Pay) are
card payment methods whose charge names the wallet.

A charge without a PaymentIntent (legacy direct charges) forms a Payment keyed by the charge id;
it has no `payment_transactions` row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import (
    ChargePart,
    IntentPart,
    InvoiceLinkPart,
    PartState,
    PaymentState,
    RefundPart,
)
from billing_ledger.domain.stripe_object import (
    Part,
    Snapshot,
    StripeObject,
    as_kind,
    last_change,
    of_kind,
)
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

INTENT, CHARGE, REFUND, INVOICE_LINK = "payment_intent", "charge", "refund", "invoice_payment"

INTENT_RULES = StatusRules(
    terminal=frozenset({"succeeded", "canceled"}),
    rank={
        "requires_payment_method": 0,
        "requires_confirmation": 1,
        "requires_action": 2,
        "processing": 3,
        "requires_capture": 4,
        "succeeded": 5,  # of two final states claimed in one second, the money moved first
        "canceled": 6,
    },
)
CHARGE_RULES = StatusRules(
    terminal=frozenset({"succeeded", "failed"}), rank={"pending": 0, "succeeded": 1, "failed": 1}
)
# A succeeded refund can still fail later (bank refunds), so only failed/canceled are final.
REFUND_RULES = StatusRules(
    terminal=frozenset({"failed", "canceled"}),
    rank={"pending": 0, "requires_action": 1, "succeeded": 2, "failed": 3, "canceled": 3},
)
REFUNDING = frozenset({"pending", "requires_action", "succeeded"})
LINK_RULES = StatusRules(
    terminal=frozenset({"paid", "canceled"}), rank={"open": 0, "paid": 1, "canceled": 1}
)


class Payment(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {
        INTENT: INTENT_RULES,
        CHARGE: CHARGE_RULES,
        REFUND: REFUND_RULES,
        INVOICE_LINK: LINK_RULES,
    }

    class Recorded(StripeObject.Recorded):
        """PaymentRecorded: the first snapshot of a payment (intent, charge, refund or link)."""

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: PaymentState

    class Revised(StripeObject.Revised):
        """PaymentRevised: a later snapshot of the intent or of one of its parts became current."""

        if TYPE_CHECKING:
            state: PaymentState

    class Backfilled(StripeObject.Backfilled):
        """PaymentBackfilled: an older snapshot, recorded as history only."""

    @classmethod
    def view(cls, stripe_id: str, parts: Mapping[str, Part[PartState]]) -> PaymentState:
        main = parts.get(stripe_id)  # a legacy charge's own part is its main part
        intent = as_kind(main, INTENT, IntentPart)
        # The latest charge last: the one made last (a later change to an earlier charge, a
        # refund say, does not make it the latest; nor does a backfill listing the earlier one
        # on a later page), then by the snapshot's time (charges made in one second).
        charges = sorted(
            of_kind(parts.values(), CHARGE, ChargePart),
            key=lambda p: (p.state.get("created") or 0, p.version.created, p.state["id"]),
        )
        refunds = of_kind(parts.values(), REFUND, RefundPart)
        links = [
            p
            for p in of_kind(parts.values(), INVOICE_LINK, InvoiceLinkPart)
            if p.version.status != "canceled"
        ]
        # What the intent says, where it says it (`i and i[key]`: None without one); else what
        # its latest charge says (`c and c[key]`).
        i = intent.state if intent is not None else None
        c = charges[-1].state if charges else None
        # Refund objects are the freshest word on refunds (a refund can fail after its charge
        # said it was refunded); without any, the charges' own amount_refunded.
        if refunds:
            refunded = sum(p.state["amount"] for p in refunds if p.version.status in REFUNDING)
        else:
            refunded = sum(p.state["amount_refunded"] for p in charges)
        return {
            "is_intent": stripe_id.startswith("pi_"),
            "customer": (i and i["customer"]) or (c and c["customer"]),
            "invoice": (i and i["invoice"]) or (c and c["invoice"]) or _linked_invoice(links),
            "amount": i["amount"] if i else (c and c["amount"]),
            "amount_received": i["amount_received"]
            if i
            else (c["amount"] if c and c["paid"] else 0),
            "amount_refunded": refunded,
            "currency": (i and i["currency"]) or (c and c["currency"]),
            "status": (i and i["status"]) or _intent_status_from_charge(c),
            "payment_method_id": (i and i["payment_method"]) or (c and c["payment_method"]),
            "payment_method_type": (c and c["payment_method_type"])
            or _only(i and i["payment_method_types"]),
            "wallet": c and c["wallet"],
            "failure_code": (i and i["failure_code"])
            if main is not None
            else (c and c["failure_code"]),
            "failure_message": (i and i["failure_message"])
            if main is not None
            else (c and c["failure_message"]),
            "decline_code": i and i["decline_code"],
            "receipt_url": _last_receipt(charges),
            "created": (i and i["created"]) or (c and c["created"]),
            "refunds": {p.state["id"]: {**p.state, "status": p.version.status} for p in refunds},
            "updated": last_change(parts),
        }


def intent_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    intent = objects.PaymentIntent.model_validate(event.data.object)
    error = intent.last_payment_error
    state: IntentPart = {
        "customer": expandable_id(intent.customer),
        "invoice": expandable_id(intent.invoice),
        "amount": intent.amount,
        "amount_received": intent.amount_received,
        "currency": intent.currency,
        "status": intent.status,
        "payment_method": expandable_id(intent.payment_method),
        "payment_method_types": intent.payment_method_types,
        "failure_code": error.code if error else None,
        "failure_message": error.message if error else None,
        "decline_code": error.decline_code if error else None,
        "created": intent.created,
    }
    return intent.id, Snapshot(INTENT, intent.id, state, intent.status)


def charge_snapshots(event: StripeEvent) -> list[tuple[str, Snapshot]]:
    """The charge, and the refunds it embeds (older API versions expand `charge.refunds`)."""
    charge = objects.Charge.model_validate(event.data.object)
    owner = expandable_id(charge.payment_intent) or charge.id
    details = charge.payment_method_details
    card = details.card if details else None
    state: ChargePart = {
        "id": charge.id,
        "customer": expandable_id(charge.customer),
        "invoice": expandable_id(charge.invoice),
        "amount": charge.amount,
        "amount_refunded": charge.amount_refunded,
        "currency": charge.currency,
        "paid": charge.paid,
        "status": charge.status,
        "payment_method": charge.payment_method,
        "payment_method_type": details.type if details else None,
        "wallet": card.wallet.type if card and card.wallet else None,
        "failure_code": charge.failure_code,
        "failure_message": charge.failure_message,
        "receipt_url": charge.receipt_url,
        "created": charge.created,
    }
    snapshots = [(owner, Snapshot(CHARGE, charge.id, state, charge.status))]
    for refund in charge.refunds.data if charge.refunds else []:
        raw = event.data.object["refunds"]["data"]
        embedded = next(r for r in raw if r.get("id") == refund.id)
        snapshots.append((owner, _refund(refund, attributes=embedded)))
    return snapshots


def refund_snapshot(event: StripeEvent) -> tuple[str, Snapshot] | None:
    refund = objects.Refund.model_validate(event.data.object)
    owner = expandable_id(refund.payment_intent) or expandable_id(refund.charge)
    return (owner, _refund(refund)) if owner else None


def invoice_link_snapshot(event: StripeEvent) -> tuple[str, Snapshot] | None:
    link = objects.InvoicePayment.model_validate(event.data.object)
    target = link.payment
    owner = expandable_id(target.payment_intent) or expandable_id(target.charge)
    if owner is None:
        return None  # paid out of band: the invoice itself says so
    state: InvoiceLinkPart = {
        "invoice": expandable_id(link.invoice),
        "amount_paid": link.amount_paid,
    }
    return owner, Snapshot(INVOICE_LINK, link.id, state, link.status)


def _refund(refund: objects.Refund, attributes: Mapping[str, Any] | None = None) -> Snapshot:
    state: RefundPart = {
        "id": refund.id,
        "charge": expandable_id(refund.charge),
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "failure_reason": refund.failure_reason,
        "created": refund.created,
    }
    return Snapshot(REFUND, refund.id, state, refund.status or "pending", attributes)


def _linked_invoice(links: list[Part[InvoiceLinkPart]]) -> str | None:
    return next((p.state["invoice"] for p in links if p.state["invoice"]), None)


def _only(values: list[str] | None) -> str | None:
    return values[0] if values is not None and len(values) == 1 else None


def _last_receipt(charges: list[Part[ChargePart]]) -> str | None:
    receipts = [p.state["receipt_url"] for p in charges if p.state["receipt_url"]]
    return receipts[-1] if receipts else None


def _intent_status_from_charge(charge: ChargePart | None) -> str | None:
    return {
        "succeeded": "succeeded",
        "pending": "processing",
        "failed": "requires_payment_method",
    }.get((charge and charge["status"]) or "")
