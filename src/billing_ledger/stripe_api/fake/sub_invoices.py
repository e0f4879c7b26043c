"""A subscription's invoices in the stand-in: on creation, renewal and proration, and previews.

- Lines: one per licensed item for its period (`unit_amount × quantity`), plus the proration
  invoice items a change left pending (`create_prorations`), which the next invoice collects.
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
from billing_ledger.stripe_api.fake.periods import day_text, prorate
from billing_ledger.stripe_api.fake.store import Store, StripeFailure

Line = dict[str, Any]


def period_lines(store: Store, sub: dict[str, Any]) -> list[Line]:
    found = []
    for item in sub["items"]["data"]:
        price = item["price"]
        if (price.get("recurring") or {}).get("usage_type") == "metered":
            continue
        amount = int(price["unit_amount"]) * int(item["quantity"])
        name = _product_name(store, price)
        found.append(
            _line(
                store,
                sub,
                item,
                amount,
                f"{item['quantity']} × {name} (at {_money(price)} / {_every(price)})",
                (item["current_period_start"], item["current_period_end"]),
                proration=False,
            )
        )
    return found


def proration_lines(
    store: Store,
    sub: dict[str, Any],
    changes: list[tuple[dict[str, Any] | None, dict[str, Any] | None]],
    at: int,
) -> list[Line]:
    """Credit for the unused time of each old item, charge for the rest of the period of each
    new one (`(old, new)` pairs; None where an item is added or removed)."""
    start, end = _period(sub)
    found = []
    for old, new in changes:
        if old is not None:
            amount = -int(old["price"]["unit_amount"]) * int(old["quantity"])
            name = _product_name(store, old["price"])
            found.append(
                _line(
                    store,
                    sub,
                    old,
                    prorate(amount, start, end, at),
                    f"Unused time on {old['quantity']} × {name} after {day_text(at)}",
                    (at, end),
                    proration=True,
                )
            )
        if new is not None:
            amount = int(new["price"]["unit_amount"]) * int(new["quantity"])
            name = _product_name(store, new["price"])
            found.append(
                _line(
                    store,
                    sub,
                    new,
                    prorate(amount, start, end, at),
                    f"Remaining time on {new['quantity']} × {name} after {day_text(at)}",
                    (at, end),
                    proration=True,
                )
            )
    return found


def keep_pending(store: Store, sub: dict[str, Any], lines: list[Line]) -> None:
    """Proration lines become invoice items for the next invoice (`create_prorations`)."""
    for line in lines:
        details = line["parent"]["subscription_item_details"]
        item = store.add(
            {
                "id": store.new_id("ii"),
                "object": "invoiceitem",
                "amount": line["amount"],
                "currency": line["currency"],
                "customer": sub["customer"],
                "date": store.now(),
                "description": line["description"],
                "discountable": True,
                "discounts": [],
                "invoice": None,
                "livemode": False,
                "metadata": {},
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": sub["id"],
                        "subscription_item": details["subscription_item"],
                    },
                },
                "period": dict(line["period"]),
                "pricing": copy.deepcopy(line["pricing"]),
                "proration": True,
                "quantity": line["quantity"],
            }
        )
        store.event("invoiceitem.created", item)


def pending_lines(store: Store, sub: dict[str, Any], *, claim: str | None) -> list[Line]:
    """The subscription's pending invoice items as lines; `claim` marks them invoiced."""
    found = []
    for item in store.all("invoiceitem"):
        parent = (item.get("parent") or {}).get("subscription_details") or {}
        if item["invoice"] or parent.get("subscription") != sub["id"]:
            continue
        if claim is not None:
            item["invoice"] = claim
        line = _line(
            store,
            sub,
            {"id": parent.get("subscription_item"), "price": None, "quantity": item["quantity"]},
            item["amount"],
            item["description"],
            (item["period"]["start"], item["period"]["end"]),
            proration=True,
        )
        line["pricing"] = copy.deepcopy(item["pricing"])
        line["parent"]["subscription_item_details"]["invoice_item"] = item["id"]
        found.append(line)
    return found


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


def _period(sub: dict[str, Any]) -> tuple[int, int]:
    first = sub["items"]["data"][0]
    return int(first["current_period_start"]), int(first["current_period_end"])


def _line(
    store: Store,
    sub: dict[str, Any],
    item: dict[str, Any],
    amount: int,
    description: str,
    period: tuple[int, int],
    *,
    proration: bool,
) -> Line:
    price = item.get("price") or {}
    return {
        "id": store.new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": sub["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item.get("id"),
            },
        },
        "period": {"start": period[0], "end": period[1]},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price.get("id"), "product": price.get("product")},
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        },
        "quantity": item.get("quantity"),
        "taxes": [],
    }


def _product_name(store: Store, price: dict[str, Any]) -> str:
    product = store.objects.get(price.get("product") or "")
    return str(product["name"]) if product else str(price.get("id"))


def _money(price: dict[str, Any]) -> str:
    return f"{price['unit_amount']} {price['currency']}"


def _every(price: dict[str, Any]) -> str:
    recurring = price.get("recurring") or {}
    count = recurring.get("interval_count") or 1
    return str(recurring.get("interval")) if count == 1 else f"{count} {recurring['interval']}s"
