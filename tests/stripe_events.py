"""Builders of Stripe events for tests, on Stripe's own sample objects (tests/fixtures/stripe)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
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


def invoice(
    invoice_id: str = "in_Test1",
    customer_id: str = "cus_Test1",
    *,
    subscription_id: str | None = "sub_Test1",
    status: str = "open",
    total: int = 2000,
    tax: int = 0,
    amount_paid: int = 0,
    currency: str = "usd",
    api: str = "current",
    **fields: Any,
) -> dict[str, Any]:
    """An invoice in the current API shape (`parent`, `total_taxes`) or the pre-2025-03-31 one."""
    defaults: dict[str, Any] = {
        "id": invoice_id,
        "customer": customer_id,
        "status": status,
        "currency": currency,
        "created": 1_767_225_600,
        "total": total,
        "subtotal": total - tax,
        "amount_due": total,
        "amount_paid": amount_paid,
        "amount_remaining": total - amount_paid,
        "due_date": None,
        "status_transitions": {
            "finalized_at": None if status == "draft" else 1_767_225_600,
            "paid_at": 1_767_225_700 if status == "paid" else None,
            "voided_at": None,
            "marked_uncollectible_at": None,
        },
    }
    obj = stripe_object("invoice", **defaults)
    if api == "current":
        obj["parent"] = (
            {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription_id, "metadata": {}},
            }
            if subscription_id
            else None
        )
        obj["total_taxes"] = [{"amount": tax, "tax_behavior": "exclusive"}] if tax else []
        obj.pop("subscription", None)
    else:
        obj.pop("parent", None)
        obj.pop("total_taxes", None)
        obj["subscription"] = subscription_id
        obj["tax"] = tax
        obj.setdefault("payment_intent", None)
        obj["paid_out_of_band"] = False
    obj.update(fields)
    return obj


def payment_intent(
    intent_id: str = "pi_Test1",
    customer_id: str = "cus_Test1",
    *,
    status: str = "succeeded",
    amount: int = 2000,
    amount_received: int | None = None,
    currency: str = "usd",
    error: dict[str, Any] | None = None,
    methods: tuple[str, ...] = ("card",),
    **fields: Any,
) -> dict[str, Any]:
    received = amount if status == "succeeded" and amount_received is None else amount_received or 0
    defaults: dict[str, Any] = {
        "id": intent_id,
        "customer": customer_id,
        "status": status,
        "amount": amount,
        "amount_received": received,
        "currency": currency,
        "created": 1_767_225_600,
        "last_payment_error": error,
        "payment_method": f"pm_{intent_id.removeprefix('pi_')}",
        "payment_method_types": list(methods),
        "latest_charge": None,
    }
    return stripe_object("payment_intent", **{**defaults, **fields})


def charge(
    charge_id: str = "ch_Test1",
    intent_id: str | None = "pi_Test1",
    *,
    status: str = "succeeded",
    amount: int = 2000,
    amount_refunded: int = 0,
    currency: str = "usd",
    method_type: str = "card",
    wallet: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    obj = stripe_object(
        "charge",
        id=charge_id,
        payment_intent=intent_id,
        status=status,
        paid=status == "succeeded",
        amount=amount,
        amount_refunded=amount_refunded,
        refunded=amount_refunded == amount,
        currency=currency,
        created=1_767_225_600,
        customer="cus_Test1",
        failure_code=None if status != "failed" else "card_declined",
        failure_message=None if status != "failed" else "Your card was declined.",
        receipt_url=f"https://pay.stripe.com/receipts/{charge_id}",
    )
    details = obj["payment_method_details"]
    details["type"] = method_type
    if method_type == "card":
        details["card"]["wallet"] = {"type": wallet, "dynamic_last4": None} if wallet else None
    else:
        details.pop("card", None)
        details[method_type] = {}
    obj.update(fields)
    return obj


def refund(
    refund_id: str = "re_Test1",
    intent_id: str = "pi_Test1",
    *,
    amount: int = 500,
    status: str = "succeeded",
    currency: str = "usd",
    **fields: Any,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "id": refund_id,
        "payment_intent": intent_id,
        "charge": "ch_Test1",
        "amount": amount,
        "status": status,
        "currency": currency,
        "created": 1_767_225_600,
    }
    return stripe_object("refund", **{**defaults, **fields})


def invoice_payment(
    link_id: str = "inpay_Test1",
    invoice_id: str = "in_Test1",
    intent_id: str = "pi_Test1",
    **fields: Any,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "id": link_id,
        "invoice": invoice_id,
        "payment": {"type": "payment_intent", "payment_intent": intent_id},
        "status": "paid",
        "amount_paid": 2000,
        "currency": "usd",
        "created": 1_767_225_600,
    }
    return stripe_object("invoice_payment", **{**defaults, **fields})


def dispute(
    dispute_id: str = "dp_Test1",
    intent_id: str = "pi_Test1",
    *,
    status: str = "needs_response",
    **fields: Any,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "id": dispute_id,
        "payment_intent": intent_id,
        "charge": "ch_Test1",
        "amount": 2000,
        "currency": "usd",
        "status": status,
        "reason": "fraudulent",
        "created": 1_767_225_600,
        "balance_transactions": [],
    }
    return stripe_object("dispute", **{**defaults, **fields})


def tax_id(
    tax_id_id: str = "txi_Test1", customer_id: str = "cus_Test1", value: str = "DE123456789"
) -> dict[str, Any]:
    return stripe_object(
        "tax_id",
        id=tax_id_id,
        customer=customer_id,
        type="eu_vat",
        value=value,
        created=1_767_225_600,
    )


def payment_method(
    method_id: str = "pm_Test1", customer_id: str | None = "cus_Test1", **fields: Any
) -> dict[str, Any]:
    return stripe_object(
        "payment_method",
        **{"id": method_id, "customer": customer_id, "created": 1_767_225_600, **fields},
    )
