"""A stateful stand-in for Stripe, for development and tests: `billing-ledger fake-stripe`.

It keeps the objects it is asked to create, follows Stripe's state machines with Stripe's
test payment methods (`catalog.py`), honours idempotency keys, serves a test 3-D Secure
challenge, and delivers signed webhooks of the current API shapes to the ingest endpoint, so
the whole path — a command, Stripe, a webhook, the log, the tables — runs without a Stripe
account. It is not Stripe: only the endpoints and behaviours listed in `app.py` exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.applications import Starlette

from billing_ledger.stripe_api.fake.app import create_fake_stripe
from billing_ledger.stripe_api.fake.store import Store
from billing_ledger.stripe_api.fake.webhooks import WebhookSender

__all__ = ["FakeStripe", "Store", "create_fake_stripe", "fake_stripe"]


@dataclass
class FakeStripe:
    app: Starlette
    store: Store
    webhooks: WebhookSender | None


@contextmanager
def fake_stripe(
    public_url: str,
    webhook_url: str | None,
    webhook_secret: str | None,
    *,
    settle_seconds: float = 2.0,
) -> Iterator[FakeStripe]:
    """The stand-in's app and state, delivering to `webhook_url` while in use."""
    sender = WebhookSender(webhook_url, webhook_secret) if webhook_url and webhook_secret else None
    store = Store(
        public_url.rstrip("/"),
        emit=sender.send if sender else lambda event: None,
        settle_seconds=settle_seconds,
    )
    if sender:
        sender.start()
    try:
        yield FakeStripe(create_fake_stripe(store), store, sender)
    finally:
        store.stop()
        if sender:
            sender.stop()
