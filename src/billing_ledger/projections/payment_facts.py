"""What the payment metrics need that the billing tables keep only the last of: each status a
PaymentIntent passed through (3-D Secure drop-off), each charge (one attempt each, for success
rates per payment method type) and each failed payment of an invoice (dunning recovery).

Every row is a fact one snapshot states, written so that order does not matter: a status keeps
the earliest time it was seen, a charge's final status (`succeeded`, `failed`) is never
replaced, a failure is one row per Stripe event. Replaying the same history writes the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from billing_ledger.domain.invoice import Invoice
from billing_ledger.domain.payment import CHARGE, INTENT, Payment
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.projections.sqltext import in_schema

Cursor = psycopg.Cursor[Any]
PAYMENT_EVENTS = (Payment.Recorded, Payment.Revised, Payment.Backfilled)
INVOICE_EVENTS = (Invoice.Recorded, Invoice.Revised, Invoice.Backfilled)

INTENT_STATUS = """
INSERT INTO {schema}.payment_intent_statuses AS s
    (account_id, livemode, stripe_payment_intent_id, status, first_seen)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (account_id, livemode, stripe_payment_intent_id, status)
DO UPDATE SET first_seen = EXCLUDED.first_seen WHERE EXCLUDED.first_seen < s.first_seen
"""
CHARGE_ROW = """
INSERT INTO {schema}.payment_charges AS c (account_id, livemode, stripe_charge_id,
    stripe_payment_intent_id, status, payment_method_type, failure_code, amount, currency,
    created)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (account_id, livemode, stripe_charge_id) DO UPDATE SET
    status = EXCLUDED.status, failure_code = EXCLUDED.failure_code,
    payment_method_type = coalesce(EXCLUDED.payment_method_type, c.payment_method_type)
WHERE c.status NOT IN ('succeeded', 'failed')
"""
INVOICE_FAILURE = """
INSERT INTO {schema}.invoice_payment_failures
    (account_id, livemode, stripe_invoice_id, stripe_event_id, created)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""


class PaymentFacts:
    name = "payment_facts"

    def __init__(self, schema: str) -> None:
        self._schema_name = schema

    def prepare(self, cur: Cursor, events: Sequence[object]) -> None:
        """Nothing to read ahead: each event is one insert."""

    def project(self, cur: Cursor, event: object) -> None:
        if isinstance(event, PAYMENT_EVENTS):
            self._payment(cur, event)
        elif isinstance(event, INVOICE_EVENTS) and (
            event.stripe_event_type == "invoice.payment_failed"
        ):
            cur.execute(
                in_schema(INVOICE_FAILURE, self._schema_name),
                (
                    event.account_id,
                    event.livemode,
                    event.stripe_id,
                    event.stripe_event_id,
                    event.created,
                ),
            )

    def flush(self, cur: Cursor) -> None:
        """Every row is written as its event is projected."""

    def _payment(
        self,
        cur: Cursor,
        event: StripeObject.Recorded | StripeObject.Revised | StripeObject.Backfilled,
    ) -> None:
        part: Mapping[str, Any] = event.part_state
        scope = (event.account_id, event.livemode)
        if event.part_kind == INTENT and event.status is not None:
            cur.execute(
                in_schema(INTENT_STATUS, self._schema_name),
                (*scope, event.stripe_id, event.status, event.created),
            )
        elif event.part_kind == CHARGE and part.get("status"):
            intent = event.stripe_id if event.stripe_id != part["id"] else None
            cur.execute(
                in_schema(CHARGE_ROW, self._schema_name),
                (
                    *scope,
                    part["id"],
                    intent,
                    part["status"],
                    part.get("payment_method_type"),
                    part.get("failure_code"),
                    part["amount"],
                    part["currency"],
                    part["created"],
                ),
            )
