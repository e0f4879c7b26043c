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
from billing_ledger.projections.bulk import BulkWriter

Cursor = psycopg.Cursor[Any]
PAYMENT_EVENTS = (Payment.Recorded, Payment.Revised, Payment.Backfilled)
INVOICE_EVENTS = (Invoice.Recorded, Invoice.Revised, Invoice.Backfilled)

# Each batch folds its rows in memory by key with the rules the statements apply to a stored
# row, so one statement per table writes them (a statement may not update a row twice).
INTENT_STATUSES = "payment_intent_statuses"
INTENT_COLUMNS = ("account_id", "livemode", "stripe_payment_intent_id", "status", "first_seen")
INTENT_CONFLICT = (
    "ON CONFLICT (account_id, livemode, stripe_payment_intent_id, status) DO UPDATE SET "
    "first_seen = EXCLUDED.first_seen "
    "WHERE EXCLUDED.first_seen < payment_intent_statuses.first_seen"
)
CHARGES = "payment_charges"
CHARGE_COLUMNS = (
    "account_id",
    "livemode",
    "stripe_charge_id",
    "stripe_payment_intent_id",
    "status",
    "payment_method_type",
    "failure_code",
    "amount",
    "currency",
    "created",
)
CHARGE_CONFLICT = (
    "ON CONFLICT (account_id, livemode, stripe_charge_id) DO UPDATE SET "
    "status = EXCLUDED.status, failure_code = EXCLUDED.failure_code, "
    "payment_method_type = coalesce(EXCLUDED.payment_method_type, "
    "payment_charges.payment_method_type) "
    "WHERE payment_charges.status NOT IN ('succeeded', 'failed')"
)
FINAL_CHARGE_STATUSES = ("succeeded", "failed")
FAILURES = "invoice_payment_failures"
FAILURE_COLUMNS = ("account_id", "livemode", "stripe_invoice_id", "stripe_event_id", "created")
Key = tuple[str, bool, str]


class PaymentFacts:
    name = "payment_facts"
    reads = PAYMENT_EVENTS + INVOICE_EVENTS

    def __init__(self, schema: str) -> None:
        self._schema_name = schema
        self._bulk = BulkWriter(schema)
        # The batch's rows: (scope, intent, status) → earliest time; charge key → row; failures.
        self._statuses: dict[tuple[str, bool, str, str], int] = {}
        self._charges: dict[Key, list[Any]] = {}
        self._failures: list[tuple[str, bool, str, str, int]] = []

    def prepare(self, cur: Cursor, events: Sequence[object]) -> None:
        """Nothing to read ahead. (Forgets what a failed batch left unwritten.)"""
        self._forget_batch()

    def project(self, cur: Cursor, event: object) -> None:
        if isinstance(event, PAYMENT_EVENTS):
            self._payment(event)
        elif isinstance(event, INVOICE_EVENTS) and (
            event.stripe_event_type == "invoice.payment_failed"
        ):
            self._failures.append(
                (
                    event.account_id,
                    event.livemode,
                    event.stripe_id,
                    event.stripe_event_id,
                    event.created,
                )
            )

    def flush(self, cur: Cursor) -> None:
        """Write the batch's rows, one statement per table."""
        bulk = self._bulk
        statuses = [(*key, first_seen) for key, first_seen in self._statuses.items()]
        bulk.write(cur, INTENT_STATUSES, INTENT_COLUMNS, statuses, INTENT_CONFLICT)
        bulk.write(cur, CHARGES, CHARGE_COLUMNS, list(self._charges.values()), CHARGE_CONFLICT)
        bulk.write(cur, FAILURES, FAILURE_COLUMNS, self._failures, "ON CONFLICT DO NOTHING")
        self._forget_batch()

    def _forget_batch(self) -> None:
        self._statuses = {}
        self._charges = {}
        self._failures = []

    def _payment(
        self,
        event: StripeObject.Recorded | StripeObject.Revised | StripeObject.Backfilled,
    ) -> None:
        part: Mapping[str, Any] = event.part_state
        scope = (event.account_id, event.livemode)
        if event.part_kind == INTENT and event.status is not None:
            key = (*scope, event.stripe_id, event.status)
            known = self._statuses.get(key)
            self._statuses[key] = event.created if known is None else min(known, event.created)
        elif event.part_kind == CHARGE and part.get("status"):
            intent = event.stripe_id if event.stripe_id != part["id"] else None
            row = [
                *scope,
                part["id"],
                intent,
                part["status"],
                part.get("payment_method_type"),
                part.get("failure_code"),
                part["amount"],
                part["currency"],
                part["created"],
            ]
            charge = (*scope, part["id"])
            earlier = self._charges.get(charge)
            if earlier is None:
                self._charges[charge] = row
            elif earlier[4] not in FINAL_CHARGE_STATUSES:
                # CHARGE_CONFLICT's update, applied to the batch's earlier row.
                earlier[4], earlier[6] = row[4], row[6]
                earlier[5] = row[5] if row[5] is not None else earlier[5]
