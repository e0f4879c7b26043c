"""Builders of the invoices, payments, refunds and disputes the journal tests post, on Stripe's
sample objects, with amounts kept consistent the way Stripe keeps them (`amount_remaining` =
`amount_due` − `amount_paid`; tax in `total_taxes`)."""

from __future__ import annotations

from typing import Any

from tests.stripe_events import stripe_object


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
