"""One-off invoices in the stand-in: items, a draft, finalization, and paying it (again).

Paying creates and confirms a PaymentIntent for `amount_remaining` with the given payment
method, else the customer's default; a paid invoice is linked to its payment by an
`invoice_payment` (as Stripe does since API version 2025-03-31).
"""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.fake import payments
from billing_ledger.stripe_api.fake.formdata import integer
from billing_ledger.stripe_api.fake.store import Store, StripeFailure, invalid


def create_item(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    customer = store.get(params.get("customer"), "customer", "customer")
    item = store.add(
        {
            "id": store.new_id("ii"),
            "object": "invoiceitem",
            "amount": integer(params.get("amount"), "amount"),
            "currency": str(params.get("currency") or "usd").lower(),
            "customer": customer["id"],
            "date": store.now(),
            "description": params.get("description"),
            "invoice": None,
            "livemode": False,
            "metadata": {},
        }
    )
    store.event("invoiceitem.created", item)
    return item


def create_invoice(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    customer = store.get(params.get("customer"), "customer", "customer")
    invoice_id = store.new_id("in")
    items = [
        i for i in store.all("invoiceitem") if i["customer"] == customer["id"] and not i["invoice"]
    ]
    for item in items:
        item["invoice"] = invoice_id
    total = sum(i["amount"] for i in items)
    invoice = store.add(
        {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": total,
            "amount_paid": 0,
            "amount_remaining": total,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": False,
            "collection_method": params.get("collection_method") or "charge_automatically",
            "created": store.now(),
            "currency": items[0]["currency"] if items else "usd",
            "customer": customer["id"],
            "default_payment_method": params.get("default_payment_method"),
            "due_date": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "lines": {"object": "list", "data": [dict(i) for i in items], "has_more": False},
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "number": None,
            "parent": None,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": total,
            "total": total,
            "total_excluding_tax": total,
            "total_taxes": [],
        }
    )
    store.event("invoice.created", invoice)
    return invoice


def finalize(store: Store, invoice_id: str) -> dict[str, Any]:
    invoice = store.get(invoice_id, "invoice")
    if invoice["status"] != "draft":
        raise invalid(f"This invoice is already {invoice['status']}.", code="invoice_not_editable")
    invoice.update(status="open", number=f"FAKE-{store.secret(6).upper()}")
    invoice["status_transitions"]["finalized_at"] = store.now()
    invoice["hosted_invoice_url"] = f"{store.public_url}/invoices/{invoice_id}"
    invoice["invoice_pdf"] = f"{store.public_url}/invoices/{invoice_id}/pdf"
    store.event("invoice.finalized", invoice, {"status": "draft"})
    return invoice


def pay(store: Store, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
    invoice = store.get(invoice_id, "invoice")
    if invoice["status"] != "open":
        raise invalid(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    customer = store.get(invoice["customer"], "customer")
    method = (
        params.get("payment_method")
        or invoice["default_payment_method"]
        or customer["invoice_settings"]["default_payment_method"]
    )
    if not method:
        raise invalid("There is no payment method to pay this invoice with.", "payment_method")
    invoice.update(attempt_count=invoice["attempt_count"] + 1, attempted=True)
    intent = payments.create_payment_intent(
        store,
        {
            "amount": invoice["amount_remaining"],
            "currency": invoice["currency"],
            "customer": customer["id"],
            "payment_method": method,
            "description": f"Payment for Invoice {invoice['number']}",
        },
    )
    try:
        intent = payments.confirm(store, intent["id"], {"off_session": "true"})
    except StripeFailure:
        store.event("invoice.payment_failed", invoice)
        raise
    if intent["status"] == "succeeded":
        _paid(store, invoice, intent)
    return invoice


def _paid(store: Store, invoice: dict[str, Any], intent: dict[str, Any]) -> None:
    link = store.add(
        {
            "id": store.new_id("inpay"),
            "object": "invoice_payment",
            "amount_paid": intent["amount"],
            "amount_requested": intent["amount"],
            "created": store.now(),
            "currency": intent["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": store.now()},
        }
    )
    previous = {"status": "open", "amount_paid": 0, "amount_remaining": invoice["amount_remaining"]}
    invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
    invoice["status_transitions"]["paid_at"] = store.now()
    store.event("invoice_payment.paid", link)
    store.event("invoice.paid", invoice, previous)


def paid(store: Store, invoice: dict[str, Any], intent: dict[str, Any]) -> None:
    """The invoice's PaymentIntent succeeded (also after a 3-D Secure challenge)."""
    _paid(store, invoice, intent)


def paid_without_payment(store: Store, invoice: dict[str, Any]) -> None:
    """A finalized invoice with nothing due is paid at once (a trial's first invoice)."""
    invoice.update(status="paid", amount_remaining=0)
    invoice["status_transitions"]["paid_at"] = store.now()
    store.event("invoice.paid", invoice, {"status": "open"})
