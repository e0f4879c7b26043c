"""Listed snapshots: a Stripe object as a list endpoint showed it, as the processor reads it.

A backfill fetches objects from Stripe's list endpoints, where no event tells what changed.
What it fetched at time T is the object's state at T, so it enters the log as an event-shaped
snapshot whose `created` is T (its fetch time) and whose type is the object's `LISTED_TYPES`
entry: the ordering rules (ordering.py) then make it win over every webhook snapshot created
before T and lose to any created after, whatever the order of arrival, with no rule of its
own. Within T's second it is ordered like any snapshot that reports no change.

Its id is derived from the object's identity and T, so the same fetch appended twice (a page
fetched again after a crash within the same second) is applied once. It never poses as a
Stripe event: the record carries the source `listed` (eventlog/port.py, invariant 11), and
the id's prefix (`evt_listed_`) is one Stripe does not use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

LISTED_TYPES: Mapping[str, str] = {
    "customer": "customer.listed",
    "tax_id": "customer.tax_id.listed",
    "discount": "customer.discount.listed",
    "subscription": "customer.subscription.listed",
    "invoice": "invoice.listed",
    "invoice_payment": "invoice_payment.listed",
    "payment_intent": "payment_intent.listed",
    "charge": "charge.listed",
    "refund": "refund.listed",
    "dispute": "charge.dispute.listed",
    "payment_method": "payment_method.listed",
    "coupon": "coupon.listed",
}
"""The event type of a listed snapshot, by the object's `object` (each routed like that
object's `*.updated`)."""

ID_PREFIX = "evt_listed_"


def listed_event_id(account: str, livemode: bool, stripe_id: str, fetched_at: int) -> str:
    """The id of the snapshot of one object fetched at `fetched_at` (epoch seconds)."""
    identity = f"{account}:{str(livemode).lower()}:{stripe_id}:{fetched_at}"
    return ID_PREFIX + hashlib.blake2b(identity.encode(), digest_size=12).hexdigest()


def listed_event(
    obj: Mapping[str, Any], *, fetched_at: int, account: str, livemode: bool, api_version: str
) -> dict[str, Any]:
    """The event-shaped snapshot of `obj` as fetched at `fetched_at` with `api_version`.

    Raises ValueError for an object kind without a listed type (nothing would read it)."""
    kind = obj.get("object")
    event_type = LISTED_TYPES.get(kind) if isinstance(kind, str) else None
    if event_type is None:
        raise ValueError(f"no listed snapshot of {kind}")
    document: dict[str, Any] = {
        "id": listed_event_id(account, livemode, str(obj["id"]), fetched_at),
        "object": "event",
        "api_version": api_version,
        "created": fetched_at,
        "data": {"object": dict(obj)},
        "livemode": livemode,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account:
        document["account"] = account
    return document
