"""Builders of Stripe events for tests, on Stripe's own sample objects (tests/fixtures/stripe).

We stand in for Stripe only: events are signed with the real scheme and delivered over HTTP.
"""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from billing_ledger.ingest.signature import sign

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
SECRET = "whsec_test_secret_for_billing_ledger"
API_VERSION = "2025-03-31.basil"


@cache
def _fixture(resource: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{resource}.json").read_text())
    return loaded


def stripe_object(resource: str, **fields: Any) -> dict[str, Any]:
    """A copy of Stripe's sample `resource` with `fields` replaced."""
    obj = copy.deepcopy(_fixture(resource))
    obj.update(fields)
    return obj


def customer(customer_id: str = "cus_Test1", **fields: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "id": customer_id,
        "email": f"{customer_id.lower()}@example.com",
        "name": f"Customer {customer_id}",
        "created": 1_767_225_600,
        "metadata": {},
    }
    return stripe_object("customer", **{**defaults, **fields})


def subscription(
    subscription_id: str = "sub_Test1",
    customer_id: str = "cus_Test1",
    *,
    status: str = "active",
    price_id: str = "price_Pro",
    unit_amount: int = 2000,
    quantity: int = 1,
    currency: str = "usd",
    **fields: Any,
) -> dict[str, Any]:
    item = copy.deepcopy(_fixture("subscription")["items"]["data"][0])
    item.update(
        id=f"si_{subscription_id.removeprefix('sub_')}",
        subscription=subscription_id,
        quantity=quantity,
        current_period_start=1_767_225_600,
        current_period_end=1_769_904_000,
    )
    item["price"].update(id=price_id, unit_amount=unit_amount, currency=currency)
    item["price"]["unit_amount_decimal"] = str(unit_amount)
    defaults: dict[str, Any] = {
        "id": subscription_id,
        "customer": customer_id,
        "status": status,
        "created": 1_767_225_600,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancel_at": None,
        "ended_at": None,
        "trial_end": None,
        "trial_start": None,
        "metadata": {},
        "items": {"object": "list", "data": [item], "has_more": False, "url": "/v1/x"},
    }
    return stripe_object("subscription", **{**defaults, **fields})


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int = 1_767_225_600,
    livemode: bool = False,
    account: str | None = None,
    previous_attributes: dict[str, Any] | None = None,
    api_version: str = API_VERSION,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    document: dict[str, Any] = {
        "id": event_id or f"evt_{event_type.replace('.', '_')}_{obj['id']}_{created}",
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account is not None:
        document["account"] = account
    return document


def body_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def signed_headers(
    body: bytes, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {"Stripe-Signature": sign(body, secret, stamp), "Content-Type": "application/json"}


def deliver(client: httpx.Client, base_url: str, document: dict[str, Any]) -> httpx.Response:
    """POST `document` signed with SECRET, as Stripe would."""
    body = body_of(document)
    return client.post(f"{base_url}/webhooks/stripe", content=body, headers=signed_headers(body))


def invoice(
    invoice_id: str = "in_Test1",
    customer_id: str = "cus_Test1",
    *,
    status: str = "open",
    total: int = 1200,
    tax: int = 200,
    amount_due: int | None = None,
    amount_paid: int = 0,
    currency: str = "usd",
    paid_out_of_band: bool = False,
    transitions: dict[str, int | None] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An invoice in the current API shape (tax under `total_taxes`), amounts consistent."""
    due = total if amount_due is None else amount_due
    defaults: dict[str, Any] = {
        "id": invoice_id,
        "customer": customer_id,
        "status": status,
        "currency": currency,
        "created": 1_767_225_600,
        "total": total,
        "subtotal": total - tax,
        "total_excluding_tax": total - tax,
        "total_taxes": [{"amount": tax}] if tax else [],
        "amount_due": due,
        "amount_paid": amount_paid,
        "amount_remaining": due - amount_paid,
        "paid_out_of_band": paid_out_of_band,
        "parent": None,
        "status_transitions": {
            "finalized_at": None,
            "paid_at": None,
            "voided_at": None,
            "marked_uncollectible_at": None,
            **(transitions or {}),
        },
    }
    return stripe_object("invoice", **{**defaults, **fields})


def payment_intent(
    intent_id: str = "pi_Test1",
    customer_id: str | None = "cus_Test1",
    *,
    status: str = "succeeded",
    amount: int = 1200,
    currency: str = "usd",
    **fields: Any,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "id": intent_id,
        "customer": customer_id,
        "status": status,
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency,
        "created": 1_767_225_600,
        "last_payment_error": None,
    }
    return stripe_object("payment_intent", **{**defaults, **fields})


def invoice_payment(
    link_id: str, invoice_id: str, intent_id: str, *, amount_paid: int, status: str = "paid"
) -> dict[str, Any]:
    """The current API's link between an invoice and the PaymentIntent that paid it."""
    return stripe_object(
        "invoice_payment",
        id=link_id,
        invoice=invoice_id,
        status=status,
        amount_paid=amount_paid,
        currency="usd",
        livemode=False,
        created=1_767_225_600,
        payment={"type": "payment_intent", "payment_intent": intent_id},
    )


def refund(
    refund_id: str, intent_id: str, *, amount: int, status: str = "succeeded", **fields: Any
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "id": refund_id,
        "payment_intent": intent_id,
        "amount": amount,
        "currency": "usd",
        "status": status,
        "created": 1_767_225_600,
    }
    return stripe_object("refund", **{**defaults, **fields})


def dispute(
    dispute_id: str = "dp_Test1",
    intent_id: str = "pi_Test1",
    *,
    status: str = "needs_response",
    amount: int = 1200,
    balance_transactions: list[int] | None = None,
) -> dict[str, Any]:
    """A dispute whose balance transactions have the given signed amounts (negative: withdrawn)."""
    transactions = [
        {
            "id": f"txn_{dispute_id}_{n}",
            "object": "balance_transaction",
            "amount": value,
            "currency": "usd",
            "reporting_category": "dispute" if value < 0 else "dispute_reversal",
        }
        for n, value in enumerate(balance_transactions or [])
    ]
    return stripe_object(
        "dispute",
        id=dispute_id,
        payment_intent=intent_id,
        status=status,
        amount=amount,
        currency="usd",
        created=1_767_225_600,
        balance_transactions=transactions,
    )
