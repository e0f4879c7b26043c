"""Posting rules of a payment (a PaymentIntent with its refunds and invoice links,
`domain/payment.py`).

- refund id, `refunded` (refund pending, requires_action or succeeded): Dr refunds /
  Cr stripe_balance, the refund's amount.
- refund id, `refunded:reversal` (the refund failed or was canceled after being posted).
  Kinds: `refund_failed`, `refund_canceled`.
- intent id, `one_off_payment` (succeeded, no invoice linked): Dr stripe_balance / Cr revenue
  `amount_received`.
- intent id, `one_off_payment:reversal` (an invoice link arrived after it was posted).

A payment linked to an invoice (pre-2025 `invoice` field, `invoice_payment.paid`, or a
pre-2025 invoice naming it as its `payment_intent`) posts nothing itself: the invoice carries
it. The link may arrive after the intent succeeded; the one-off posting is then reversed (by
the payment's next event, or by the invoice naming it: `post_payment_invoiced`), so the final
balances are the same in any order. A refund that fails is reversed; one seen first as failed
posts nothing. Legacy charges without a PaymentIntent post their refunds but no sale (their
sale is not in `payment_transactions`, which the reconciliation reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from billing_ledger.domain.payment import REFUNDING
from billing_ledger.domain.state import PaymentRefund, PaymentState
from billing_ledger.ledger.accounts import Account
from billing_ledger.ledger.entries import Entry, History, Posting, Reversal, converge, transfer


def payment_sources(payment_id: str, state: PaymentState) -> list[str]:
    """The source objects whose entries the payment's rules read: itself and its refunds."""
    return [payment_id, *state["refunds"]]


def post_payment(
    payment_id: str,
    state: PaymentState,
    at: datetime,
    histories: Mapping[str, History],
    named_by: str | None = None,
) -> list[Entry]:
    """`named_by`: the invoice that names the payment as its own (older API versions), if any."""
    history = histories.get(payment_id, {})
    posted = post_one_off_payment(payment_id, state, at, history, named_by)
    for refund_id, refund in sorted(state["refunds"].items()):
        history = histories.get(refund_id, {})
        posted += post_refund(refund_id, refund, payment_id, state, at, history)
    return posted


def post_one_off_payment(
    payment_id: str,
    state: PaymentState,
    at: datetime,
    history: History,
    named_by: str | None = None,
) -> list[Entry]:
    """A succeeded PaymentIntent with no invoice is a sale of its own: Dr stripe_balance /
    Cr revenue `amount_received`. Linked to an invoice later: reversed."""
    invoice = state["invoice"] or named_by
    one_off = state["is_intent"] and state["status"] == "succeeded" and not invoice
    currency = state["currency"]  # a succeeded payment has one (its intent's or its charge's)
    wanted = (
        transfer(
            Account.STRIPE_BALANCE,
            Account.REVENUE,
            state["amount_received"] or 0,
            currency,
            state["customer"],
        )
        if one_off and currency is not None
        else ()
    )
    return converge(
        history,
        Posting(
            payment_id,
            "one_off_payment",
            "one_off_payment",
            f"payment {payment_id} without invoice succeeded",
            at,
            wanted,
        ),
        Reversal(
            "payment_linked_to_invoice", f"payment {payment_id} linked to invoice {invoice}", at
        ),
    )


def post_payment_invoiced(
    payment_id: str, invoice_id: str, at: datetime, history: History
) -> list[Entry]:
    """An invoice names `payment_id` as its payment (older API versions): a one-off posting of
    that payment (its own payload named no invoice) is reversed, as its own link would."""
    nothing = Posting(payment_id, "one_off_payment", "one_off_payment", "", at, ())
    linked = Reversal(
        "payment_linked_to_invoice", f"payment {payment_id} linked to invoice {invoice_id}", at
    )
    return converge(history, nothing, linked)


def post_refund(
    refund_id: str,
    refund: PaymentRefund,
    payment_id: str,
    payment: PaymentState,
    at: datetime,
    history: History,
) -> list[Entry]:
    """A refund, keyed by its id: Dr refunds / Cr stripe_balance. Failed or canceled after
    being posted: reversed. Partial refunds are refunds of their own, each with its amount.
    Should its lines change while it stands (its payment's customer became known after it was
    posted), it is reversed as `refund_revised` and posted again as `refunded#2`."""
    refunding = refund["status"] in REFUNDING
    wanted = (
        transfer(
            Account.REFUNDS,
            Account.STRIPE_BALANCE,
            refund["amount"],
            refund["currency"],
            payment["customer"],
        )
        if refunding
        else ()
    )
    created = refund.get("created")
    return converge(
        history,
        Posting(
            refund_id,
            "refunded",
            "refund",
            f"refund {refund_id} of payment {payment_id}",
            datetime.fromtimestamp(created, UTC) if created is not None else at,
            wanted,
        ),
        Reversal(
            "refund_revised" if refunding else f"refund_{refund['status']}",
            f"refund {refund_id} {'revised' if refunding else refund['status']}",
            at,
        ),
    )
