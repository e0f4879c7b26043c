"""The Subscription Manager's pure rules: what it asks Stripe, and how it reads the answers.

No I/O here: each function maps a request (and the subscription Stripe holds) to Stripe's
parameters, or a Stripe object to our answer, so each rule is tested without Stripe.
"""

from __future__ import annotations

from typing import Any

from billing_ledger.errors import BillingLedgerError
from billing_ledger.stripe_api.intents import id_of
from billing_ledger.stripe_api.subscription_requests import NewSubscription, SubscriptionChange


class ChangeNotPossible(BillingLedgerError):
    """The change does not fit the subscription as Stripe holds it (the message says why)."""


def created_params(request: NewSubscription, method: str | None) -> dict[str, Any]:
    """Stripe's `subscriptions.create` parameters (the first payment is ours to confirm)."""
    params: dict[str, Any] = {
        "customer": request.customer,
        "items": [{"price": i.price, "quantity": i.quantity} for i in request.priced_items()],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
    }
    if method is not None:
        params["default_payment_method"] = method
    if request.trial_days is not None:
        params["trial_period_days"] = request.trial_days
    if request.trial_end_behavior is not None:
        params["trial_settings"] = {
            "end_behavior": {"missing_payment_method": request.trial_end_behavior}
        }
    if request.coupon is not None:
        params["discounts"] = [{"coupon": request.coupon}]
    if request.promotion_code is not None:
        params["discounts"] = [{"promotion_code": request.promotion_code}]
    if request.business_id is not None:
        params["metadata"] = {"business_id": request.business_id}
    return params


def change_items(sub: dict[str, Any], change: SubscriptionChange) -> list[dict[str, Any]]:
    """Stripe's `items` for the change: the changed item by id, new ones, `deleted` ones."""
    items = [i for i in (sub.get("items") or {}).get("data") or [] if isinstance(i, dict)]
    held = {str(i["id"]) for i in items}
    entries: list[dict[str, Any]] = []
    if change.price is not None or change.quantity is not None:
        if change.item is not None and change.item not in held:
            raise ChangeNotPossible(f"the subscription has no item {change.item}")
        if change.item is None and len(items) != 1:
            raise ChangeNotPossible(
                "the subscription has several items: name the one to change with item"
            )
        entry: dict[str, Any] = {"id": change.item or items[0]["id"]}
        if change.price is not None:
            entry["price"] = change.price
        if change.quantity is not None:
            entry["quantity"] = change.quantity
        entries.append(entry)
    for removed in change.remove:
        if removed not in held:
            raise ChangeNotPossible(f"the subscription has no item {removed}")
        entries.append({"id": removed, "deleted": True})
    entries += [{"price": i.price, "quantity": i.quantity} for i in change.add]
    return entries


def subscription_answer(sub: dict[str, Any]) -> dict[str, Any]:
    """A subscription as our commands answer it: ids, status, period, what is pending."""
    items = [i for i in (sub.get("items") or {}).get("data") or [] if isinstance(i, dict)]
    first = items[0] if items else {}
    pause = sub.get("pause_collection")
    return {
        "id": sub["id"],
        "object": "subscription",
        "status": sub.get("status"),
        "customer": id_of(sub.get("customer")),
        "items": [
            {
                "id": i.get("id"),
                "price": id_of(i.get("price")),
                "quantity": i.get("quantity"),
            }
            for i in items
        ],
        "current_period_start": first.get("current_period_start")
        or sub.get("current_period_start"),
        "current_period_end": first.get("current_period_end") or sub.get("current_period_end"),
        "trial_end": sub.get("trial_end"),
        "cancel_at_period_end": sub.get("cancel_at_period_end"),
        "cancel_at": sub.get("cancel_at"),
        "canceled_at": sub.get("canceled_at"),
        "ended_at": sub.get("ended_at"),
        "pause_collection": dict(pause) if isinstance(pause, dict) else None,
        "latest_invoice": id_of(sub.get("latest_invoice")),
    }


def preview_answer(
    sub_id: str, invoice: dict[str, Any], change: SubscriptionChange
) -> dict[str, Any]:
    """A preview invoice as our answer: its lines, totals and the proration date it used."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    proration_date = change.proration_date or details.get("subscription_proration_date")
    return {
        "object": "invoice_preview",
        "subscription": sub_id,
        "proration_behavior": change.proration_behavior,
        "proration_date": proration_date,
        "currency": invoice.get("currency"),
        "subtotal": invoice.get("subtotal"),
        "total": invoice.get("total"),
        "amount_due": invoice.get("amount_due"),
        "period_start": invoice.get("period_start"),
        "period_end": invoice.get("period_end"),
        "lines": [_line(line) for line in (invoice.get("lines") or {}).get("data") or []],
    }


def _line(line: dict[str, Any]) -> dict[str, Any]:
    parent = (line.get("parent") or {}).get("subscription_item_details") or {}
    pricing = (line.get("pricing") or {}).get("price_details") or {}
    return {
        "description": line.get("description"),
        "amount": line.get("amount"),
        "quantity": line.get("quantity"),
        "price": id_of(pricing.get("price")) or id_of(line.get("price")),
        "proration": bool(parent.get("proration") or line.get("proration")),
        "period": line.get("period"),
    }
