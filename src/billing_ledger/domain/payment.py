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

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import ChargePart, IntentPart, InvoiceLinkPart, RefundPart
from billing_ledger.domain.stripe_object import Part, Snapshot, StripeObject
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
        "succeeded": 5,
        "canceled": 5,
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

    class Revised(StripeObject.Revised):
        """PaymentRevised: a later snapshot of the intent or of one of its parts became current."""

    class Backfilled(StripeObject.Backfilled):
        """PaymentBackfilled: an older snapshot, recorded as history only."""

    @classmethod
    def view(cls, stripe_id: str, parts: Mapping[str, Part]) -> dict[str, Any]:
        intent = parts.get(stripe_id)
        charges = sorted(_of_kind(parts, CHARGE), key=lambda p: (p.version.created, p.state["id"]))
        refunds = list(_of_kind(parts, REFUND))
        links = [p for p in _of_kind(parts, INVOICE_LINK) if p.version.status != "canceled"]
        latest = charges[-1].state if charges else {}
        i: Mapping[str, Any] = intent.state if intent is not None and intent.kind == INTENT else {}
        # Refund objects are the freshest word on refunds (a refund can fail after its charge
        # said it was refunded); without any, the charges' own amount_refunded.
        if refunds:
            refunded = sum(p.state["amount"] for p in refunds if p.version.status in REFUNDING)
        else:
            refunded = sum(p.state["amount_refunded"] for p in charges)
        return {
            "is_intent": stripe_id.startswith("pi_"),
            "customer": i.get("customer") or latest.get("customer"),
            "invoice": i.get("invoice") or latest.get("invoice") or _first(links, "invoice"),
            "amount": i.get("amount", latest.get("amount")),
            "amount_received": i.get(
                "amount_received", latest.get("amount") if latest.get("paid") else 0
            ),
            "amount_refunded": refunded,
            "currency": i.get("currency") or latest.get("currency"),
            "status": i.get("status") or _intent_status_from_charge(latest),
            "payment_method_id": i.get("payment_method") or latest.get("payment_method"),
            "payment_method_type": latest.get("payment_method_type")
            or _only(i.get("payment_method_types")),
            "wallet": latest.get("wallet"),
            "failure_code": i.get("failure_code")
            if intent is not None
            else latest.get("failure_code"),
            "failure_message": i.get("failure_message")
            if intent is not None
            else latest.get("failure_message"),
            "decline_code": i.get("decline_code"),
            "receipt_url": _last_receipt(charges),
            "created": i.get("created") or latest.get("created"),
            "refunds": {p.state["id"]: {**p.state, "status": p.version.status} for p in refunds},
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


def _of_kind(parts: Mapping[str, Part], kind: str) -> Iterator[Part]:
    return (p for p in parts.values() if p.kind == kind)


def _first(parts: list[Part], key: str) -> Any:
    return next((p.state[key] for p in parts if p.state.get(key)), None)


def _only(values: Any) -> str | None:
    return values[0] if isinstance(values, list) and len(values) == 1 else None


def _last_receipt(charges: list[Part]) -> str | None:
    receipts = [p.state["receipt_url"] for p in charges if p.state.get("receipt_url")]
    return receipts[-1] if receipts else None


def _intent_status_from_charge(charge: Mapping[str, Any]) -> str | None:
    return {
        "succeeded": "succeeded",
        "pending": "processing",
        "failed": "requires_payment_method",
    }.get(charge.get("status") or "")
