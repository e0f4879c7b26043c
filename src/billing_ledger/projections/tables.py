"""Writes domain events into the `billing` tables: one upsert per event, ids from identity.

Every value written comes from the event (Stripe's timestamps, uuid5 ids), never from the clock,
so replaying the same history rebuilds the same rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from billing_ledger.domain.customer import Customer
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.domain.subscription import Subscription

Snapshot = StripeObject.Recorded | StripeObject.Revised

UPSERT_CUSTOMER = """
INSERT INTO {schema}.stripe_customers AS c (id, account_id, livemode, stripe_customer_id,
    user_id, email, name, default_payment_method, billing_address, deleted_at,
    created_at, updated_at)
VALUES (%(id)s, %(account_id)s, %(livemode)s, %(stripe_id)s, %(user_id)s, %(email)s, %(name)s,
    %(default_payment_method)s, %(billing_address)s, %(deleted_at)s, %(created_at)s,
    %(updated_at)s)
ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, email = EXCLUDED.email,
    name = EXCLUDED.name, default_payment_method = EXCLUDED.default_payment_method,
    billing_address = EXCLUDED.billing_address, deleted_at = EXCLUDED.deleted_at,
    created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
"""

UPSERT_SUBSCRIPTION = """
INSERT INTO {schema}.subscriptions AS s (id, account_id, livemode, stripe_subscription_id,
    customer_id, business_id, status, plan_id, current_period_start, current_period_end,
    trial_end, cancel_at_period_end, canceled_at, created_at, updated_at)
VALUES (%(id)s, %(account_id)s, %(livemode)s, %(stripe_id)s, %(customer_id)s, %(business_id)s,
    %(status)s, %(plan_id)s, %(current_period_start)s, %(current_period_end)s, %(trial_end)s,
    %(cancel_at_period_end)s, %(canceled_at)s, %(created_at)s, %(updated_at)s)
ON CONFLICT (id) DO UPDATE SET customer_id = EXCLUDED.customer_id,
    business_id = EXCLUDED.business_id, status = EXCLUDED.status, plan_id = EXCLUDED.plan_id,
    current_period_start = EXCLUDED.current_period_start,
    current_period_end = EXCLUDED.current_period_end, trial_end = EXCLUDED.trial_end,
    cancel_at_period_end = EXCLUDED.cancel_at_period_end, canceled_at = EXCLUDED.canceled_at,
    created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
"""

DELETE_STALE_ITEMS = """
DELETE FROM {schema}.subscription_items
WHERE subscription_id = %(subscription_id)s AND NOT (id = ANY(%(kept)s))
"""

UPSERT_ITEM = """
INSERT INTO {schema}.subscription_items (id, account_id, livemode, subscription_id,
    stripe_subscription_item_id, price_id, quantity, unit_amount, currency, interval,
    interval_count, usage_type)
VALUES (%(id)s, %(account_id)s, %(livemode)s, %(subscription_id)s, %(stripe_id)s,
    %(price_id)s, %(quantity)s, %(unit_amount)s, %(currency)s, %(interval)s,
    %(interval_count)s, %(usage_type)s)
ON CONFLICT (id) DO UPDATE SET subscription_id = EXCLUDED.subscription_id,
    price_id = EXCLUDED.price_id, quantity = EXCLUDED.quantity,
    unit_amount = EXCLUDED.unit_amount, currency = EXCLUDED.currency,
    interval = EXCLUDED.interval, interval_count = EXCLUDED.interval_count,
    usage_type = EXCLUDED.usage_type
"""


class BillingTables:
    """Projects Customer and Subscription snapshots into `{schema}` tables."""

    name = "billing_tables"

    def __init__(self, schema: str) -> None:
        self._statements = {
            key: sql.SQL(text).format(schema=sql.Identifier(schema))
            for key, text in {
                "customer": UPSERT_CUSTOMER,
                "subscription": UPSERT_SUBSCRIPTION,
                "stale_items": DELETE_STALE_ITEMS,
                "item": UPSERT_ITEM,
            }.items()
        }

    def project(self, cur: psycopg.Cursor[Any], event: object) -> None:
        if isinstance(event, Customer.Recorded | Customer.Revised):
            self._customer(cur, event)
        elif isinstance(event, Subscription.Recorded | Subscription.Revised):
            self._subscription(cur, event)

    def _customer(self, cur: psycopg.Cursor[Any], event: Snapshot) -> None:
        state = event.state
        address = state["billing_address"]
        cur.execute(
            self._statements["customer"],
            {
                **_identity(event),
                "user_id": state["user_id"],
                "email": state["email"],
                "name": state["name"],
                "default_payment_method": state["default_payment_method"],
                "billing_address": Jsonb(address) if address is not None else None,
                "deleted_at": _time(state["deleted_at"]),
                "created_at": _time(state["created"]) or event.timestamp,
                "updated_at": event.timestamp,
            },
        )

    def _subscription(self, cur: psycopg.Cursor[Any], event: Snapshot) -> None:
        state = event.state
        identity = _identity(event)
        account_id, livemode = identity["account_id"], identity["livemode"]
        cur.execute(
            self._statements["subscription"],
            {
                **identity,
                "customer_id": stripe_uuid(account_id, livemode, state["customer"]),
                "business_id": state["business_id"],
                "status": state["status"],
                "plan_id": state["plan_id"],
                "current_period_start": _time(state["current_period_start"]),
                "current_period_end": _time(state["current_period_end"]),
                "trial_end": _time(state["trial_end"]),
                "cancel_at_period_end": state["cancel_at_period_end"],
                "canceled_at": _time(state["canceled_at"]),
                "created_at": _time(state["created"]),
                "updated_at": event.timestamp,
            },
        )
        items = [
            {
                **item,
                "id": stripe_uuid(account_id, livemode, item["id"]),
                "stripe_id": item["id"],
                "account_id": account_id,
                "livemode": livemode,
                "subscription_id": identity["id"],
            }
            for item in state["items"]
        ]
        cur.execute(
            self._statements["stale_items"],
            {"subscription_id": identity["id"], "kept": [item["id"] for item in items]},
        )
        if items:
            cur.executemany(self._statements["item"], items)


def _identity(event: Snapshot) -> dict[str, Any]:
    return {
        "id": event.originator_id,
        "account_id": event.account_id,
        "livemode": event.livemode,
        "stripe_id": event.stripe_id,
    }


def _time(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None
