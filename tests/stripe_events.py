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
