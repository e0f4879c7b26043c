"""What happens to a subscription as time passes (a test clock advancing, `clocks.py`).

In time order, each at its own moment (the clock's `frozen_time` while it happens):
- 3 days before a trial ends: `customer.subscription.trial_will_end`.
- A trial ends: with a payment method (or `missing_payment_method=create_invoice`) the first
  period starts and is invoiced and charged (`active`, or `past_due` when unpaid); without
  one, `cancel` cancels and `pause` pauses the subscription (`paused`).
- A period ends: canceled when `cancel_at_period_end`; otherwise the next period starts and is
  invoiced with the pending prorations, then charged; while collection is paused the invoice
  stays a draft (`keep_as_draft`), is marked uncollectible, or is voided.
- `cancel_at` passes: canceled. `pause_collection.resumes_at` passes: collection resumes.
- 23 hours after creation an `incomplete` subscription expires (`incomplete_expired`) and its
  open first invoice is voided.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing_ledger.stripe_api.fake import invoices
from billing_ledger.stripe_api.fake import sub_invoices as bills
from billing_ledger.stripe_api.fake.periods import days, period_after, shift
from billing_ledger.stripe_api.fake.store import Store

INCOMPLETE_HOURS = 23
Due = tuple[int, Callable[[Store, dict[str, Any]], None]]


def current_period(sub: dict[str, Any]) -> tuple[int, int]:
    first = sub["items"]["data"][0]
    return int(first["current_period_start"]), int(first["current_period_end"])


def next_period(sub: dict[str, Any]) -> tuple[int, int]:
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    _, end = current_period(sub)
    return period_after(
        int(sub["billing_cycle_anchor"]), recurring["interval"], recurring["interval_count"], end
    )


def next_due(store: Store, sub: dict[str, Any]) -> Due | None:
    """The subscription's next moment of change, and what happens then."""
    status = sub["status"]
    found: list[Due] = []
    if status == "trialing" and sub["trial_end"] is not None:
        warned = store.side.get(sub["id"], {}).get("trial_will_end") == sub["trial_end"]
        if not warned:
            found.append((int(sub["trial_end"]) - days(3), _warn_trial_end))
        found.append((int(sub["trial_end"]), end_trial))
    elif status in ("active", "past_due"):
        found.append((current_period(sub)[1], renew))
        if sub["cancel_at"] is not None:
            found.append((int(sub["cancel_at"]), _cancel_at))
        resumes = (sub["pause_collection"] or {}).get("resumes_at")
        if resumes is not None:
            found.append((int(resumes), _resume_collection))
    elif status == "incomplete":
        found.append((int(sub["created"]) + INCOMPLETE_HOURS * 3600, _expire))
    return min(found, key=lambda due: due[0]) if found else None


def renew(store: Store, sub: dict[str, Any]) -> None:
    if sub["cancel_at_period_end"]:
        cancel_now(store, sub, "cancellation_requested")
        return
    start, end = next_period(sub)
    for item in sub["items"]["data"]:
        item.update(current_period_start=start, current_period_end=end)
    _bill(store, sub, "subscription_cycle")


def end_trial(store: Store, sub: dict[str, Any]) -> None:
    now = store.now()
    customer = store.get(sub["customer"], "customer")
    method = sub["default_payment_method"] or customer["invoice_settings"]["default_payment_method"]
    missing = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
    sub["trial_end"] = now
    if method is None and missing == "cancel":
        cancel_now(store, sub, "cancellation_requested")
        return
    if method is None and missing == "pause":
        sub["status"] = "paused"
        store.event("customer.subscription.paused", sub)
        return
    restart(store, sub, "subscription_cycle")


def restart(store: Store, sub: dict[str, Any], reason: str) -> None:
    """A first (or, after a pause, new) period starts now, invoiced and charged."""
    now = store.now()
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    end = shift(now, recurring["interval"], recurring["interval_count"])
    for item in sub["items"]["data"]:
        item.update(current_period_start=now, current_period_end=end)
    sub.update(status="active", billing_cycle_anchor=now)
    _bill(store, sub, reason)


def cancel_now(store: Store, sub: dict[str, Any], reason: str) -> None:
    now = store.now()
    sub.update(status="canceled", ended_at=now, canceled_at=sub["canceled_at"] or now)
    sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}
    store.event("customer.subscription.deleted", sub)


def _bill(store: Store, sub: dict[str, Any], reason: str) -> None:
    invoice_id = store.new_id("in")
    lines = bills.pending_lines(store, sub, claim=invoice_id)
    lines += bills.period_lines(store, sub)
    sub["latest_invoice"] = invoice_id
    store.event("customer.subscription.updated", sub)
    invoice = bills.draft(store, sub, lines, reason, invoice_id=invoice_id)
    pause = (sub["pause_collection"] or {}).get("behavior")
    if pause == "keep_as_draft":
        invoice["auto_advance"] = False
        return
    if pause in ("mark_uncollectible", "void"):
        invoice["auto_advance"] = False
        invoices.finalize(store, invoice_id)
        if pause == "void":
            bills.void(store, invoice)
        else:
            bills.mark_uncollectible(store, invoice)
        return
    bills.collect(store, sub, invoice, attempt=True)


def _warn_trial_end(store: Store, sub: dict[str, Any]) -> None:
    store.side.setdefault(sub["id"], {})["trial_will_end"] = sub["trial_end"]
    store.event("customer.subscription.trial_will_end", sub)


def _cancel_at(store: Store, sub: dict[str, Any]) -> None:
    cancel_now(store, sub, "cancellation_requested")


def _resume_collection(store: Store, sub: dict[str, Any]) -> None:
    sub["pause_collection"] = None
    store.event("customer.subscription.updated", sub)


def _expire(store: Store, sub: dict[str, Any]) -> None:
    sub["status"] = "incomplete_expired"
    store.event("customer.subscription.updated", sub)
    invoice = store.objects.get(sub["latest_invoice"] or "")
    if invoice is not None and invoice["status"] == "open":
        bills.void(store, invoice)
