"""A subscription's invoices in the stand-in: on creation, renewal and proration, and previews.

- Lines: `invoice_lines.py` (items for a period, prorations, pending proration items).
- Discounts: the subscription's, in order; `once` only on its first invoice, `repeating`
  until its `end`, `forever` always; percent-off rounds half up, amount-off caps at the total.
- Collection: a finalized invoice of 0 is paid at once; otherwise a PaymentIntent is created
  for it (`confirmation_secret` when expanded), confirmed off-session when Stripe would
  charge (renewals, `always_invoice`), left for the customer when `default_incomplete` asks.
- The subscription follows its invoice's payment (`watch`): paid → `active`; a failed renewal
  → `past_due`.
"""

from __future__ import annotations

import copy
from typing import Any

from billing_ledger.stripe_api.fake import invoices, payments
from billing_ledger.stripe_api.fake.invoice_lines import (
    Line,
    keep_pending,
    pending_lines,
    period_lines,
    proration_lines,
)
from billing_ledger.stripe_api.fake.store import Store, StripeFailure

__all__ = [
    "collect",
    "draft",
    "expanded_invoice",
    "failed",
    "keep_pending",
    "mark_uncollectible",
    "pending_lines",
    "period_lines",
    "proration_lines",
    "subscription_of",
    "void",
    "watch",
]


def draft(
    store: Store,
    sub: dict[str, Any],
    lines: list[Line],
    reason: str,
    *,
    preview: bool = False,
    invoice_id: str | None = None,
) -> dict[str, Any]:
    """An invoice of `lines` for the subscription (stored and announced unless `preview`)."""
    invoice_id = invoice_id or store.new_id("upcoming_in" if preview else "in")
    subtotal = sum(line["amount"] for line in lines)
    off = _discounts(store, sub, subtotal, first=reason == "subscription_create")
    total = subtotal - sum(amount for _, amount in off)
    for line in lines:
        line["invoice"] = invoice_id
    start = min((line["period"]["start"] for line in lines), default=store.now())
    end = max((line["period"]["end"] for line in lines), default=store.now())
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": max(total, 0),
        "amount_paid": 0,
        "amount_remaining": max(total, 0),
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": not preview,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "created": store.now(),
        "currency": sub["currency"],
        "customer": sub["customer"],
        "default_payment_method": None,
        "discounts": [discount for discount, _ in off],
        "due_date": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines)},
        "livemode": False,
        "metadata": {},
        "number": None,
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
        },
        "period_end": end,
        "period_start": start,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "test_clock": sub.get("test_clock"),
        "total": max(total, 0),
        "total_discount_amounts": [{"amount": a, "discount": d} for d, a in off],
        "total_excluding_tax": max(total, 0),
        "total_taxes": [],
    }
    if not preview:
        store.add(invoice)
        store.event("invoice.created", invoice)
    return invoice


def collect(
    store: Store,
    sub: dict[str, Any],
    invoice: dict[str, Any],
    *,
    attempt: bool,
    off_session: bool = True,
) -> None:
    """Finalize, then pay what is due: at once when 0, else through a PaymentIntent
    (confirmed when `attempt`: off-session for renewals, where 3-D Secure is a failure)."""
    invoices.finalize(store, invoice["id"])
    sub["latest_invoice"] = invoice["id"]
    if invoice["amount_due"] == 0:
        invoices.paid_without_payment(store, invoice)
        return
    customer = store.get(sub["customer"], "customer")
    method = (
        sub.get("default_payment_method") or customer["invoice_settings"]["default_payment_method"]
    )
    intent = payments.create_payment_intent(
        store,
        {
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "customer": customer["id"],
            "payment_method": method,
            "description": f"Subscription {'creation' if not attempt else 'update'}",
        },
    )
    store.side.setdefault(intent["id"], {})["invoice"] = invoice["id"]
    store.side.setdefault(invoice["id"], {})["payment_intent"] = intent["id"]
    if not attempt:
        return
    if method is None:  # nothing to charge: Stripe does not attempt, the invoice stays open
        failed(store, invoice)
        return
    invoice.update(attempt_count=invoice["attempt_count"] + 1, attempted=True)
    try:
        payments.confirm(store, intent["id"], {"off_session": "true" if off_session else ""})
    except StripeFailure:
        pass  # the watcher has recorded the failure


def void(store: Store, invoice: dict[str, Any]) -> None:
    invoice.update(status="void", amount_remaining=0)
    invoice["status_transitions"]["voided_at"] = store.now()
    store.event("invoice.voided", invoice)


def mark_uncollectible(store: Store, invoice: dict[str, Any]) -> None:
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = store.now()
    store.event("invoice.marked_uncollectible", invoice)


def failed(store: Store, invoice: dict[str, Any]) -> None:
    store.event("invoice.payment_failed", invoice)
    sub = store.objects.get(subscription_of(invoice) or "")
    if sub is not None and sub["status"] in ("active", "trialing"):
        sub["status"] = "past_due"
        store.event("customer.subscription.updated", sub)


def expanded_invoice(store: Store, invoice_id: str | None) -> dict[str, Any] | None:
    """The invoice with what `expand` adds: `confirmation_secret` and `payments`."""
    if invoice_id is None:
        return None
    invoice = copy.deepcopy(store.get(invoice_id, "invoice"))
    intent_id = store.side.get(invoice_id, {}).get("payment_intent")
    intent = store.objects.get(intent_id or "")
    invoice["confirmation_secret"] = (
        {"client_secret": intent["client_secret"], "type": "payment_intent"}
        if intent is not None and invoice["status"] == "open"
        else None
    )
    invoice["payments"] = {
        "object": "list",
        "data": [
            {
                "object": "invoice_payment",
                "invoice": invoice_id,
                "is_default": True,
                "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
                "status": "paid" if intent["status"] == "succeeded" else "open",
            }
        ]
        if intent is not None
        else [],
        "has_more": False,
    }
    return invoice


def watch(store: Store) -> None:
    """The subscription follows its invoices' payments (see the module doc)."""

    def follow(event_type: str, obj: dict[str, Any]) -> None:
        invoice_id = store.side.get(obj.get("id") or "", {}).get("invoice")
        if event_type == "payment_intent.succeeded" and invoice_id:
            invoice = store.get(invoice_id, "invoice")
            if invoice["status"] == "open":
                invoices.paid(store, invoice, obj)
        elif event_type == "payment_intent.payment_failed" and invoice_id:
            invoice = store.get(invoice_id, "invoice")
            invoice.update(attempted=True, attempt_count=max(invoice["attempt_count"], 1))
            failed(store, invoice)
        elif event_type == "invoice.paid":
            sub = store.objects.get(subscription_of(obj) or "")
            if sub is not None and sub["status"] in ("incomplete", "past_due"):
                sub["status"] = "active"
                store.event("customer.subscription.updated", sub)

    store.watchers.append(follow)


def subscription_of(invoice: dict[str, Any]) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    found = details.get("subscription")
    return found if isinstance(found, str) else None


def _discounts(
    store: Store, sub: dict[str, Any], subtotal: int, *, first: bool
) -> list[tuple[str, int]]:
    left, found = subtotal, []
    for discount_id in sub.get("discounts") or []:
        discount = store.objects.get(discount_id)
        if discount is None or left <= 0:
            continue
        coupon = store.get(discount["source"]["coupon"], "coupon")
        if coupon["duration"] == "once" and not first:
            continue
        if discount.get("end") is not None and store.now() >= discount["end"]:
            continue
        if coupon["percent_off"] is not None:
            amount = int(left * coupon["percent_off"] * 2 + 100) // 200
        else:
            amount = min(int(coupon["amount_off"]), left)
        left -= amount
        found.append((discount_id, amount))
    return found
