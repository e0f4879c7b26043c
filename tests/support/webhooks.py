"""Delivering Stripe events as Stripe does: the JSON body, signed with the real scheme under the
suite's webhook secret, POSTed to `/webhooks/stripe`."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from billing_ledger.ingest.signature import sign

SECRET = "whsec_test_secret_for_billing_ledger"
# The suite's master key of personal data's keys (base64 of 32 bytes; never a real one).
MASTER_KEY = "dGVzdHMtbWFzdGVyLWtleS1mb3ItYmlsbGluZy1sZWQ="
LINK_SECRET = "tests-link-secret-for-billing-ledger-pages-0123456789"


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
