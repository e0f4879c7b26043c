"""Subscriptions in the stand-in: created, changed, canceled, as Stripe's state machine goes.

    create ── trial ─────────────────────────────▶ trialing ── trial ends (lifecycle.py)
           ── first invoice paid (or nothing due) ▶ active
           ── payment left to the customer (`default_incomplete`) or failed ▶ incomplete
               ── its PaymentIntent succeeds (3-D Secure passed) ▶ active
               ── 23 hours pass ▶ incomplete_expired
    active ── renewal unpaid ▶ past_due ── paid ▶ active
           ── cancel (DELETE), at period end, at `cancel_at` ▶ canceled

Updates take `items` (swap a price, change a quantity, add, `deleted`), `proration_behavior`
(`create_prorations` default, `always_invoice`, `none`) with `proration_date`,
`cancel_at_period_end`, `cancel_at` (`''` clears), `pause_collection` (`behavior`
`keep_as_draft`, `mark_uncollectible` or `void`, optional `resumes_at`; `''` resumes),
`trial_end` (a time, or `now`) and `default_payment_method`. A `paused` subscription (a
trial that ended without a payment method) is resumed by `/resume`. `expand` of
`latest_invoice` (and its `payments`, `confirmation_secret`) is honoured.
"""

from __future__ import annotations

import copy
from typing import Any

from billing_ledger.stripe_api.fake import lifecycle
from billing_ledger.stripe_api.fake import sub_invoices as bills
from billing_ledger.stripe_api.fake.customers import payment_method
from billing_ledger.stripe_api.fake.formdata import boolean, integer
from billing_ledger.stripe_api.fake.periods import days, shift
from billing_ledger.stripe_api.fake.store import Store, invalid

BEHAVIOURS = ("create_prorations", "always_invoice", "none")
PAUSES = ("keep_as_draft", "mark_uncollectible", "void")
ENDED = ("canceled", "incomplete_expired")


def create(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    customer = store.get(params.get("customer"), "customer", "customer")
    entries = params.get("items") or []
    if not entries:
        raise invalid("Missing required param: items.", "items")
    now = store.now()
    sub_id = store.new_id("sub")
    items = [_new_item(store, sub_id, entry, now) for entry in entries]
    currencies = {item["price"]["currency"] for item in items}
    if len(currencies) != 1:
        raise invalid("All prices on a subscription must have the same currency.", "items")
    trial_end = _trial_end(params, now)
    first = items[0]["price"]["recurring"]
    end = trial_end or shift(now, first["interval"], first["interval_count"])
    for item in items:
        item.update(current_period_start=now, current_period_end=end)
    method = params.get("default_payment_method")
    if method:
        method = payment_method(store, method, "default_payment_method")["id"]
    behaviour = (params.get("trial_settings") or {}).get("end_behavior") or {}
    sub = store.add(
        {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "automatic_tax": {"enabled": False, "liability": None, "disabled_reason": None},
            "billing_cycle_anchor": end if trial_end else now,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": currencies.pop(),
            "customer": customer["id"],
            "days_until_due": None,
            "default_payment_method": method or None,
            "description": params.get("description"),
            "discounts": [],
            "ended_at": None,
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": now,
            "status": "trialing" if trial_end else "incomplete",
            "test_clock": customer.get("test_clock"),
            "trial_end": trial_end,
            "trial_settings": {
                "end_behavior": {
                    "missing_payment_method": behaviour.get("missing_payment_method")
                    or "create_invoice"
                }
            },
            "trial_start": now if trial_end else None,
        }
    )
    _discount(store, sub, params.get("discounts") or [])
    lines = bills.period_lines(store, sub)
    if trial_end:
        for line in lines:
            line.update(amount=0, description=f"Trial period for {line['description']}")
    invoice = bills.draft(store, sub, lines, "subscription_create")
    sub["latest_invoice"] = invoice["id"]
    if invoice["total"] == 0 and not trial_end:
        sub["status"] = "active"
    store.event("customer.subscription.created", sub)
    incomplete = params.get("payment_behavior") == "default_incomplete"
    bills.collect(store, sub, invoice, attempt=not incomplete, off_session=False)
    return view(store, sub, params)


def retrieve(store: Store, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return view(store, store.get(sub_id, "subscription"), params)


def update(store: Store, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    sub = store.get(sub_id, "subscription")
    if sub["status"] in ENDED:
        raise invalid(
            f"A canceled subscription can only update its cancellation_details and metadata "
            f"(this one is {sub['status']})."
        )
    now = store.now()
    if "metadata" in params:
        sub["metadata"] = {**sub["metadata"], **dict(params["metadata"] or {})}
    if params.get("default_payment_method"):
        method = payment_method(store, params["default_payment_method"], "default_payment_method")
        sub["default_payment_method"] = method["id"]
    if "cancel_at_period_end" in params:
        ending = boolean(params["cancel_at_period_end"])
        sub.update(
            cancel_at_period_end=ending,
            cancel_at=_period_end(sub) if ending else None,
            canceled_at=now if ending else None,
        )
        _reason(sub, "cancellation_requested" if ending else None)
    if "cancel_at" in params:
        at = integer(params["cancel_at"], "cancel_at") if params["cancel_at"] != "" else None
        if at is not None and at <= now:
            raise invalid("cancel_at must be in the future.", "cancel_at")
        sub.update(cancel_at=at, cancel_at_period_end=False, canceled_at=now if at else None)
        _reason(sub, "cancellation_requested" if at else None)
    if "pause_collection" in params:
        sub["pause_collection"] = _pause(params["pause_collection"])
    changes = []
    if params.get("items"):
        changes = apply_items(store, sub, params["items"])
    trial = params.get("trial_end")
    if trial == "now":
        if sub["status"] != "trialing":
            raise invalid("This subscription is not in a trial.", "trial_end")
        lifecycle.end_trial(store, sub)
        return view(store, sub, params)
    if trial is not None:
        _extend_trial(sub, integer(trial, "trial_end"), now)
    behaviour = params.get("proration_behavior") or "create_prorations"
    if behaviour not in BEHAVIOURS:
        raise invalid(f"Invalid proration_behavior: {behaviour}", "proration_behavior")
    at = integer(params.get("proration_date") or now, "proration_date")
    prorating = changes and sub["status"] != "trialing" and behaviour != "none"
    lines = bills.proration_lines(store, sub, changes, at) if prorating else []
    store.event("customer.subscription.updated", sub)
    if lines and behaviour == "create_prorations":
        bills.keep_pending(store, sub, lines)
    elif lines:
        invoice_id = store.new_id("in")
        pending = bills.pending_lines(store, sub, claim=invoice_id)
        invoice = bills.draft(
            store, sub, pending + lines, "subscription_update", invoice_id=invoice_id
        )
        bills.collect(store, sub, invoice, attempt=True)
        store.event("customer.subscription.updated", sub)
    return view(store, sub, params)


def cancel(store: Store, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    sub = store.get(sub_id, "subscription")
    if sub["status"] in ENDED:
        raise invalid(
            f"This subscription is already {sub['status']}.", code="subscription_canceled"
        )
    lifecycle.cancel_now(store, sub, "cancellation_requested")
    return view(store, sub, params)


def resume(store: Store, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/subscriptions/{id}/resume: a `paused` subscription starts a new period now,
    invoiced and charged (`active`, or `past_due` when unpaid)."""
    sub = store.get(sub_id, "subscription")
    if sub["status"] != "paused":
        raise invalid(
            f"Only a paused subscription can be resumed (this one is {sub['status']}).",
            code="subscription_not_paused",
        )
    lifecycle.restart(store, sub, "subscription_update")
    return view(store, sub, params)


def preview(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/invoices/create_preview for a subscription and a change it would make."""
    sub = copy.deepcopy(store.get(params.get("subscription"), "subscription", "subscription"))
    details = params.get("subscription_details") or {}
    behaviour = details.get("proration_behavior") or "create_prorations"
    at = integer(details.get("proration_date") or store.now(), "proration_date")
    changes = apply_items(store, sub, details.get("items") or [], announce=False)
    prorations = (
        bills.proration_lines(store, sub, changes, at)
        if changes and behaviour != "none" and sub["status"] != "trialing"
        else []
    )
    pending = bills.pending_lines(store, sub, claim=None)
    if behaviour == "always_invoice" and prorations:
        invoice = bills.draft(store, sub, pending + prorations, "subscription_update", preview=True)
    else:
        for item in sub["items"]["data"]:
            start, end = lifecycle.next_period(sub)
            item.update(current_period_start=start, current_period_end=end)
        lines = pending + prorations + bills.period_lines(store, sub)
        invoice = bills.draft(store, sub, lines, "subscription_cycle", preview=True)
    invoice["parent"]["subscription_details"]["subscription_proration_date"] = at
    invoice["status"] = "draft"
    return invoice


def apply_items(
    store: Store, sub: dict[str, Any], entries: list[dict[str, Any]], *, announce: bool = True
) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """Change the items as `entries` say; the (old, new) pairs a proration is made of."""
    items = sub["items"]["data"]
    by_id = {item["id"]: item for item in items}
    changes: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    for entry in entries:
        if entry.get("id"):
            item = by_id.get(entry["id"])
            if item is None:
                raise invalid(f"No such subscription item: '{entry['id']}'", "items")
            old = copy.deepcopy(item)
            if boolean(entry.get("deleted")):
                items.remove(item)
                changes.append((old, None))
                continue
            if entry.get("price"):
                item["price"] = _price(store, entry["price"])
            if entry.get("quantity") is not None:
                item["quantity"] = _quantity(entry["quantity"])
            if (old["price"]["id"], old["quantity"]) != (item["price"]["id"], item["quantity"]):
                changes.append((old, item))
        else:
            item = _new_item(store, sub["id"], entry, store.now())
            start, end = lifecycle.current_period(sub)
            item.update(current_period_start=start, current_period_end=end)
            items.append(item)
            changes.append((None, item))
    if not items:
        raise invalid("A subscription must keep at least one item.", "items")
    sub["items"]["total_count"] = len(items)
    return changes


def view(store: Store, sub: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The subscription as answered: `latest_invoice` expanded when asked."""
    expand = params.get("expand") or []
    if not any(str(e).startswith("latest_invoice") for e in expand):
        return sub
    shown = copy.deepcopy(sub)
    shown["latest_invoice"] = bills.expanded_invoice(store, sub["latest_invoice"])
    return shown


def _new_item(store: Store, sub_id: str, entry: dict[str, Any], now: int) -> dict[str, Any]:
    price = _price(store, entry.get("price"))
    if price["recurring"] is None:
        raise invalid(
            "The price specified is set to `type=one_time` but this field only "
            "accepts prices with `type=recurring`.",
            "items",
        )
    return {
        "id": store.new_id("si"),
        "object": "subscription_item",
        "created": now,
        "current_period_end": None,
        "current_period_start": None,
        "discounts": [],
        "metadata": dict(entry.get("metadata") or {}),
        "price": price,
        "quantity": _quantity(entry.get("quantity", 1)),
        "subscription": sub_id,
        "tax_rates": [],
    }


def _price(store: Store, price_id: Any) -> dict[str, Any]:
    return copy.deepcopy(store.get(price_id, "price", "items[0][price]"))


def _quantity(value: Any) -> int:
    quantity = integer(value, "quantity")
    if quantity < 0:
        raise invalid("This value must be greater than or equal to 0.", "quantity")
    return quantity


def _trial_end(params: dict[str, Any], now: int) -> int | None:
    if params.get("trial_end") not in (None, "", "now"):
        return integer(params["trial_end"], "trial_end")
    if params.get("trial_period_days"):
        return now + days(integer(params["trial_period_days"], "trial_period_days"))
    return None


def _extend_trial(sub: dict[str, Any], end: int, now: int) -> None:
    if end <= now:
        raise invalid("trial_end must be in the future, or `now`.", "trial_end")
    if sub["status"] != "trialing":
        raise invalid("This subscription is not in a trial.", "trial_end")
    sub.update(trial_end=end, billing_cycle_anchor=end)
    for item in sub["items"]["data"]:
        item["current_period_end"] = end


def _period_end(sub: dict[str, Any]) -> int:
    return int(sub["items"]["data"][0]["current_period_end"])


def _reason(sub: dict[str, Any], reason: str | None) -> None:
    sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}


def _pause(given: Any) -> dict[str, Any] | None:
    if given in ("", None):
        return None
    if not isinstance(given, dict) or given.get("behavior") not in PAUSES:
        raise invalid(
            "pause_collection[behavior] must be keep_as_draft, mark_uncollectible or void.",
            "pause_collection[behavior]",
        )
    resumes = given.get("resumes_at")
    return {
        "behavior": given["behavior"],
        "resumes_at": integer(resumes, "pause_collection[resumes_at]") if resumes else None,
    }


def _discount(store: Store, sub: dict[str, Any], asked: list[dict[str, Any]]) -> None:
    for entry in asked:
        promotion = None
        if entry.get("promotion_code"):
            promotion = store.get(entry["promotion_code"], "promotion_code", "promotion_code")
            coupon = store.get(promotion["coupon"]["id"], "coupon")
        else:
            coupon = store.get(entry.get("coupon"), "coupon", "discounts[0][coupon]")
        start = store.now()
        months = coupon.get("duration_in_months")
        discount = store.add(
            {
                "id": store.new_id("di"),
                "object": "discount",
                "checkout_session": None,
                "customer": sub["customer"],
                "end": shift(start, "month", int(months or 0))
                if coupon["duration"] == "repeating"
                else None,
                "invoice": None,
                "invoice_item": None,
                "promotion_code": promotion["id"] if promotion else None,
                "source": {"type": "coupon", "coupon": coupon["id"]},
                "start": start,
                "subscription": sub["id"],
                "subscription_item": None,
            }
        )
        sub["discounts"].append(discount["id"])
        store.event("customer.discount.created", discount)
