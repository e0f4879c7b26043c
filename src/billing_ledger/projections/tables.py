"""Writes domain events into the `billing` tables: each event carries its aggregate's whole
state, so each becomes one upsert of that aggregate's row (plus the rows hanging off it).

Within a batch only an aggregate's last state matters, so rows are kept in memory by id (the
latest replacing the earlier) and written at the batch's end, one statement per table
(bulk.py). Invoices link payment rows as they arrive: a payment row of the batch is linked in
memory, stored ones by one UPDATE at the batch's end, before the batch's rows replace them;
what payments read (an invoice's subscription, the invoice naming a payment) is read ahead for
the whole batch and kept current in memory as the batch goes. Each invoice's subscription
reaches its payments once, at the batch's end.

Every value written comes from the event (Stripe's timestamps, uuid5 ids), never from the clock,
so replaying the same history rebuilds the same rows. Personal values arrive sealed: each batch
finds the keys its tokens need and shows them decrypted, or redacted once a key is gone
(reveal.py; erasure.py lists those columns). References are resolved in both
directions, so a child that arrived before its parent is linked when the parent arrives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from billing_ledger.domain.customer import Customer
from billing_ledger.domain.dispute import Dispute
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.domain.invoice import Invoice
from billing_ledger.domain.payment import Payment
from billing_ledger.domain.payment_method import PaymentMethod
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.domain.subscription import Subscription
from billing_ledger.projections.bulk import BulkWriter
from billing_ledger.projections.reveal import KeyLookup, Revealed
from billing_ledger.projections.sqltext import in_schema

# Stored payment rows named by the batch's invoices, linked in one statement at the batch's end
# (the last invoice naming each wins, as one UPDATE per invoice event did).
LINK_PAYMENTS_TO_INVOICES = """
UPDATE {schema}.payment_transactions p SET invoice_id = l.invoice_id
FROM unnest(%s::uuid[], %s::uuid[]) AS l(id, invoice_id)
WHERE p.id = l.id AND p.invoice_id IS DISTINCT FROM l.invoice_id
"""
INVOICES_OF_PAYMENTS = "SELECT id, invoice_id FROM {schema}.payment_transactions WHERE id = ANY(%s)"
# The invoice that names each payment (older API versions): the lowest id, should two.
INVOICES_NAMING_PAYMENTS = """
SELECT DISTINCT ON (payment_transaction_id) payment_transaction_id, id FROM {schema}.invoices
WHERE payment_transaction_id = ANY(%s) ORDER BY payment_transaction_id, id
"""
SUBSCRIPTION_TO_PAYMENTS = """
UPDATE {schema}.payment_transactions p SET subscription_id = i.subscription_id
FROM unnest(%s::uuid[], %s::uuid[]) AS i(id, subscription_id)
WHERE p.invoice_id = i.id AND p.subscription_id IS DISTINCT FROM i.subscription_id
"""
SUBSCRIPTION_OF_INVOICE = "SELECT subscription_id FROM {schema}.invoices WHERE id = %s"
SUBSCRIPTIONS_OF_INVOICES = "SELECT id, subscription_id FROM {schema}.invoices WHERE id = ANY(%s)"
DELETE_DROPPED_ITEMS = """
DELETE FROM {schema}.subscription_items
WHERE subscription_id = ANY(%s) AND NOT (id = ANY(%s))
"""

Snapshot = StripeObject.Recorded | StripeObject.Revised
Cursor = psycopg.Cursor[Any]


class BillingTables:
    """Projects every aggregate's state into `{schema}` tables."""

    name = "billing_tables"
    reads = (StripeObject.Recorded, StripeObject.Revised)

    def __init__(self, schema: str, keys: KeyLookup) -> None:
        self._schema_name = schema
        self._keys = keys
        self._bulk = BulkWriter(schema)
        self._revealed = Revealed({})
        # Rows to write at the batch's end: table → row id → row (the latest state wins).
        self._pending: dict[str, dict[UUID, dict[str, Any]]] = defaultdict(dict)
        # Stored payment rows to link to the invoice naming them (payment id → invoice id).
        self._links: dict[UUID, UUID] = {}
        # Each subscription's items as of its latest state in the batch.
        self._items_of: dict[UUID, list[UUID]] = {}
        # Invoices the batch's payments name, as stored when the batch began.
        self._stored_invoice_subscription: dict[UUID, UUID | None] = {}
        # The invoice naming each payment the batch may ask about (older API versions), as
        # stored when the batch began, then as the batch's invoices name them.
        self._invoice_naming: dict[UUID, UUID] = {}
        # The invoice of each payment row the batch may ask about that exists, as stored when
        # the batch began (rows linked before invoices kept the payment they name).
        self._invoice_of_payment: dict[UUID, UUID | None] = {}

    def prepare(self, cur: Cursor, events: Sequence[object]) -> None:
        """Read what the batch's payments will ask (their invoices' subscriptions; for those
        that name none, the invoice naming them and the invoice their row has) in three
        queries. (Also forgets what a failed batch left pending: the retry starts clean.)"""
        self._forget_batch()
        self._revealed = Revealed.for_values(self._keys, cur, _personal_values(events))
        named: set[UUID] = set()
        unnamed: set[UUID] = set()
        for event in events:
            if isinstance(event, Payment.Recorded | Payment.Revised):
                invoice_id = _ref(event, event.state["invoice"])
                if invoice_id is None:
                    unnamed.add(event.originator_id)
                else:
                    named.add(invoice_id)
        if named:
            statement = in_schema(SUBSCRIPTIONS_OF_INVOICES, self._schema_name)
            self._stored_invoice_subscription = dict(
                cur.execute(statement, (list(named),)).fetchall()
            )
        if unnamed:
            statement = in_schema(INVOICES_NAMING_PAYMENTS, self._schema_name)
            self._invoice_naming = dict(cur.execute(statement, (list(unnamed),)).fetchall())
            statement = in_schema(INVOICES_OF_PAYMENTS, self._schema_name)
            self._invoice_of_payment = dict(cur.execute(statement, (list(unnamed),)).fetchall())

    def project(self, cur: Cursor, event: object) -> None:
        if not isinstance(event, StripeObject.Recorded | StripeObject.Revised):
            return
        if isinstance(event, Customer.Recorded | Customer.Revised):
            self._customer(cur, event)
        elif isinstance(event, Subscription.Recorded | Subscription.Revised):
            self._subscription(cur, event)
        elif isinstance(event, Invoice.Recorded | Invoice.Revised):
            self._invoice(cur, event)
        elif isinstance(event, Payment.Recorded | Payment.Revised):
            self._payment(cur, event)
        elif isinstance(event, Dispute.Recorded | Dispute.Revised):
            self._dispute(cur, event)
        elif isinstance(event, PaymentMethod.Recorded | PaymentMethod.Revised):
            self._payment_method(cur, event)

    def flush(self, cur: Cursor) -> None:
        """Write the batch's rows: one statement per table, one for dropped items, one for the
        subscriptions of the payments of the batch's invoices. Stored payment rows are linked
        to their invoices first, so the batch's own rows replace them after, as they would have
        had each link been written when its invoice event was projected."""
        if self._links:
            cur.execute(
                in_schema(LINK_PAYMENTS_TO_INVOICES, self._schema_name),
                (list(self._links), list(self._links.values())),
            )
        if self._items_of:
            subscriptions = list(self._items_of)
            kept = [item for items in self._items_of.values() for item in items]
            cur.execute(in_schema(DELETE_DROPPED_ITEMS, self._schema_name), (subscriptions, kept))
        for table, rows in self._pending.items():
            if not rows:
                continue
            columns = tuple(next(iter(rows.values())))
            self._bulk.write(
                cur,
                table,
                columns,
                [tuple(row[column] for column in columns) for row in rows.values()],
                _on_conflict(columns),
            )
        invoices = self._pending.get("invoices")
        if invoices:
            cur.execute(
                in_schema(SUBSCRIPTION_TO_PAYMENTS, self._schema_name),
                (list(invoices), [row["subscription_id"] for row in invoices.values()]),
            )
        self._forget_batch()

    def _forget_batch(self) -> None:
        self._pending.clear()
        self._links.clear()
        self._items_of.clear()
        self._stored_invoice_subscription = {}
        self._invoice_naming = {}
        self._invoice_of_payment = {}

    def _customer(self, cur: Cursor, event: Customer.Recorded | Customer.Revised) -> None:
        state = event.state
        if not state["seen"]:
            return  # only tax ids so far; the row comes with the customer
        shown = self._revealed
        address = shown.json(state["billing_address"])
        self._upsert(
            cur,
            "stripe_customers",
            {
                **_identity(event, "stripe_customer_id"),
                "user_id": state["user_id"],
                "email": shown.text(state["email"]),
                "name": shown.text(state["name"]),
                "default_payment_method": state["default_payment_method"],
                "tax_id": shown.text(state["tax_id"]),
                "billing_address": Jsonb(address) if address is not None else None,
                "deleted_at": _time(state["deleted_at"]),
                "created_at": _time(state["created"]) or _time(state["updated"]),
                "updated_at": _time(state["updated"]),
            },
        )

    def _subscription(
        self, cur: Cursor, event: Subscription.Recorded | Subscription.Revised
    ) -> None:
        state = event.state
        identity = _identity(event, "stripe_subscription_id")
        self._upsert(
            cur,
            "subscriptions",
            {
                **identity,
                "customer_id": _ref(event, state["customer"]),
                "business_id": state["business_id"],
                "status": state["status"],
                "plan_id": state["plan_id"],
                "current_period_start": _time(state["current_period_start"]),
                "current_period_end": _time(state["current_period_end"]),
                "trial_end": _time(state["trial_end"]),
                "cancel_at_period_end": state["cancel_at_period_end"],
                "canceled_at": _time(state["canceled_at"]),
                "created_at": _time(state["created"]),
                "updated_at": _time(state["updated"]),
            },
        )
        items = [
            {
                "id": _ref(event, item["id"]),
                "account_id": event.account_id,
                "livemode": event.livemode,
                "subscription_id": identity["id"],
                "stripe_subscription_item_id": item["id"],
                "price_id": item["price_id"],
                "quantity": item["quantity"],
                "unit_amount": item["unit_amount"],
                "currency": item["currency"],
                "interval": item["interval"],
                "interval_count": item["interval_count"],
                "usage_type": item["usage_type"],
            }
            for item in state["items"]
        ]
        pending_items = self._pending["subscription_items"]
        for item_id in self._items_of.get(identity["id"], ()):
            pending_items.pop(item_id, None)
        self._items_of[identity["id"]] = [item["id"] for item in items]
        for item in items:
            self._upsert(cur, "subscription_items", item)

    def _invoice(self, cur: Cursor, event: Invoice.Recorded | Invoice.Revised) -> None:
        state = event.state
        identity = _identity(event, "stripe_invoice_id")
        subscription_id = _ref(event, state["subscription"])
        payment_id = _ref(event, state["payment_intent"])
        self._upsert(
            cur,
            "invoices",
            {
                **identity,
                "customer_id": _ref(event, state["customer"]),
                "subscription_id": subscription_id,
                "number": state["number"],
                "amount_due": state["amount_due"],
                "amount_paid": state["amount_paid"],
                "amount_remaining": state["amount_remaining"],
                "total": state["total"],
                "tax": state["tax"],
                "currency": state["currency"],
                "status": state["status"],
                "paid_out_of_band": state["paid_out_of_band"],
                "invoice_pdf": self._revealed.text(state["invoice_pdf"]),
                "hosted_invoice_url": self._revealed.text(state["hosted_invoice_url"]),
                "due_date": _time(state["due_date"]),
                "finalized_at": _time(state["finalized_at"]),
                "paid_at": _time(state["paid_at"]),
                "payment_transaction_id": payment_id,
                "created_at": _time(state["created"]),
                "updated_at": _time(state["updated"]),
            },
        )
        # Older API versions name the intent here: a payment that arrived first is linked now,
        # one that comes later finds the invoice naming it (its row, or the batch's).
        if payment_id is not None:
            pending_payment = self._pending["payment_transactions"].get(payment_id)
            if pending_payment is not None:  # the batch's row, written at its end
                pending_payment["invoice_id"] = identity["id"]
            else:  # a stored row (if any), linked at the batch's end
                self._links[payment_id] = identity["id"]
            known = self._invoice_naming.get(payment_id)
            self._invoice_naming[payment_id] = min(identity["id"], known or identity["id"])

    def _payment(self, cur: Cursor, event: Payment.Recorded | Payment.Revised) -> None:
        state = event.state
        payment_id = event.originator_id
        for refund_id, refund in state["refunds"].items():
            self._upsert(
                cur,
                "refunds",
                {
                    "id": _ref(event, refund_id),
                    "account_id": event.account_id,
                    "livemode": event.livemode,
                    "stripe_refund_id": refund_id,
                    "payment_transaction_id": payment_id,
                    "stripe_charge_id": refund["charge"],
                    "amount": refund["amount"],
                    "currency": refund["currency"],
                    "status": refund["status"],
                    "reason": refund["reason"],
                    "failure_reason": refund["failure_reason"],
                    "created_at": _time(refund["created"]),
                    "updated_at": _time(state["updated"]),
                },
            )
        if not state["is_intent"] or state["amount"] is None or state["status"] is None:
            return  # a legacy charge, or only links and refunds so far
        invoice_id = _ref(event, state["invoice"])
        if invoice_id is None:  # an invoice that names it, or that its row was linked to
            invoice_id = self._invoice_naming.get(payment_id) or self._invoice_of_payment.get(
                payment_id
            )
        self._upsert(
            cur,
            "payment_transactions",
            {
                **_identity(event, "stripe_payment_intent_id"),
                "customer_id": _ref(event, state["customer"]),
                "subscription_id": self._subscription_of(cur, invoice_id),
                "invoice_id": invoice_id,
                "amount": state["amount"],
                "amount_received": state["amount_received"],
                "amount_refunded": state["amount_refunded"],
                "currency": state["currency"],
                "status": state["status"],
                "payment_method_id": state["payment_method_id"],
                "payment_method_type": state["payment_method_type"],
                "wallet": state["wallet"],
                "failure_code": state["failure_code"],
                "decline_code": state["decline_code"],
                "failure_message": state["failure_message"],
                "receipt_url": self._revealed.text(state["receipt_url"]),
                "created_at": _time(state["created"]) or _time(state["updated"]),
                "updated_at": _time(state["updated"]),
            },
        )

    def _dispute(self, cur: Cursor, event: Dispute.Recorded | Dispute.Revised) -> None:
        state = event.state
        self._upsert(
            cur,
            "disputes",
            {
                **_identity(event, "stripe_dispute_id"),
                "stripe_charge_id": state["charge"],
                "payment_transaction_id": _ref(event, state["payment_intent"]),
                "amount": state["amount"],
                "currency": state["currency"],
                "status": state["status"],
                "reason": state["reason"],
                "created_at": _time(state["created"]),
                "updated_at": _time(state["updated"]),
            },
        )

    def _payment_method(
        self, cur: Cursor, event: PaymentMethod.Recorded | PaymentMethod.Revised
    ) -> None:
        state = event.state
        if not state["seen"]:
            return  # only its SetupIntent so far; the row comes with the payment method
        self._upsert(
            cur,
            "payment_methods",
            {
                **_identity(event, "stripe_payment_method_id"),
                "customer_id": _ref(event, state["customer"]),
                "status": state["status"],
                "type": state["type"],
                "card_brand": state["card_brand"],
                "card_last4": state["card_last4"],
                "card_exp_month": state["card_exp_month"],
                "card_exp_year": state["card_exp_year"],
                "wallet": state["wallet"],
                "bank_name": state.get("bank_name"),
                "bank_last4": state.get("bank_last4"),
                "mandate_id": state["mandate"],
                "created_at": _time(state["created"]),
                "updated_at": _time(state["updated"]),
            },
        )

    def _subscription_of(self, cur: Cursor, invoice_id: UUID | None) -> UUID | None:
        """The invoice's subscription: from the batch's pending row, else as stored."""
        if invoice_id is None:
            return None
        pending = self._pending["invoices"].get(invoice_id)
        if pending is not None:
            subscription_id: UUID | None = pending["subscription_id"]
            return subscription_id
        if invoice_id in self._stored_invoice_subscription:
            return self._stored_invoice_subscription[invoice_id]
        row = cur.execute(
            in_schema(SUBSCRIPTION_OF_INVOICE, self._schema_name),
            (invoice_id,),
        ).fetchone()
        return row[0] if row else None

    def _upsert(self, cur: Cursor, table: str, row: dict[str, Any]) -> None:
        """Keep `row` to write at the batch's end (replacing the batch's earlier one)."""
        self._pending[table][row["id"]] = row


@cache
def _on_conflict(columns: tuple[str, ...]) -> str:
    """Each row replaces the stored one of its id (every column but the id)."""
    names = [sql.Identifier(column).as_string() for column in columns[1:]]
    return "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{n} = EXCLUDED.{n}" for n in names)


def _personal_values(events: Sequence[object]) -> list[object]:
    """The values of the batch's events that may be sealed (erasure.PERSONAL_COLUMNS)."""
    values: list[object] = []
    for event in events:
        if isinstance(event, Customer.Recorded | Customer.Revised) and event.state["seen"]:
            state = event.state
            values += [state["email"], state["name"], state["tax_id"], state["billing_address"]]
        elif isinstance(event, Invoice.Recorded | Invoice.Revised):
            values += [event.state["invoice_pdf"], event.state["hosted_invoice_url"]]
        elif isinstance(event, Payment.Recorded | Payment.Revised):
            values.append(event.state["receipt_url"])
    return values


def _identity(event: Snapshot, stripe_id_column: str) -> dict[str, Any]:
    return {
        "id": event.originator_id,
        "account_id": event.account_id,
        "livemode": event.livemode,
        stripe_id_column: event.stripe_id,
    }


def _ref(event: Snapshot, stripe_id: str | None) -> UUID | None:
    """The row id of another object of the same account and mode."""
    return stripe_uuid(event.account_id, event.livemode, stripe_id) if stripe_id else None


def _time(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None
