"""Posting rules of an invoice, from its current state (`domain/invoice.py`).

Each rule states what the journal should hold for the invoice as it is now; `post_invoice`
posts the difference. Amounts are the invoice's own, in its currency, for its customer.

- `finalized` (open, paid or uncollectible): Dr receivable `amount_due`, Dr customer_credit
  `total − amount_due − pre_payment_credit_notes_amount`, Dr credit_notes
  `pre_payment_credit_notes_amount` / Cr revenue `total − tax`, Cr tax_payable `tax`.
- `finalized:reversal` (void): the finalization, reversed. Should the amounts of a finalized
  invoice change (a pre-payment credit note), it is reversed and `finalized#2` follows.
- `written_off` (uncollectible, `amount_remaining` > 0): Dr bad_debt / Cr receivable
  `amount_remaining`.
- `written_off:reversal` (paid or void after being uncollectible): posted before the payment
  or the void that follows it.
- `partial_payment:<amount_paid>` (not paid yet, `amount_paid` grew): Dr stripe_balance /
  Cr receivable, by the growth.
- `paid` (paid): Dr stripe_balance, or other_receipts when `paid_out_of_band` / Cr receivable
  `amount_paid` less the partial payments already posted.

An invoice seen first as paid (or void) posts its finalization too, dated `finalized_at`, so the
final balances never depend on which intermediate states were delivered. Drafts and deleted
drafts post nothing. Dates come from `status_transitions`, or the event's `created`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from billing_ledger.domain.state import InvoiceState
from billing_ledger.ledger.accounts import Account
from billing_ledger.ledger.entries import (
    Entry,
    History,
    Line,
    Posting,
    Reversal,
    converge,
    lines,
    transfer,
)

FINALIZED = frozenset({"open", "paid", "uncollectible"})
PAID, VOID, UNCOLLECTIBLE = "paid", "void", "uncollectible"
PARTIAL_PAYMENT = "partial_payment:"


def post_invoice(
    invoice_id: str, state: InvoiceState, at: datetime, history: History
) -> list[Entry]:
    """The entries the invoice's current state implies that `history` does not hold yet.

    Order within the result: a first finalization, then write-off changes (a write-off is
    reversed before the payment or void that follows it), then a void or revision, then
    payments.
    """
    finalization = post_invoice_finalized(invoice_id, state, at, history)
    write_off = post_invoice_written_off(invoice_id, state, at, history)
    payments = post_invoice_paid(invoice_id, state, at, history)
    if finalization and finalization[0].reversal_of is not None:
        return write_off + finalization + payments
    return finalization + write_off + payments


def post_invoice_finalized(
    invoice_id: str, state: InvoiceState, at: datetime, history: History
) -> list[Entry]:
    """Finalized: receivable against revenue (net of discounts) and tax; voided: reversed.

    `amount_due` is what the customer is asked to pay: the total less customer credit applied
    and pre-payment credit notes. Those two go to customer_credit and credit_notes, so the
    receivable is exactly `amount_due` and revenue exactly `total − tax`.
    """
    wanted: tuple[Line, ...] = ()
    if state["status"] in FINALIZED:
        total, tax, due = state["total"], state["tax"], state["amount_due"]
        credit_notes = state.get("pre_payment_credit_notes_amount") or 0
        wanted = lines(
            (Account.ACCOUNTS_RECEIVABLE, due),
            (Account.CUSTOMER_CREDIT, total - due - credit_notes),
            (Account.CREDIT_NOTES, credit_notes),
            (Account.REVENUE, -(total - tax)),
            (Account.TAX_PAYABLE, -tax),
            currency=state["currency"],
            customer_id=state["customer"],
        )
    voided = state["status"] == VOID
    return converge(
        history,
        Posting(
            invoice_id,
            "finalized",
            "invoice_finalized",
            f"invoice {invoice_id} finalized",
            _time(state.get("finalized_at"), at),
            wanted,
        ),
        Reversal(
            "invoice_voided" if voided else "invoice_revised",
            f"invoice {invoice_id} {'voided' if voided else 'revised'}",
            _time(state.get("voided_at"), at) if voided else at,
        ),
    )


def post_invoice_written_off(
    invoice_id: str, state: InvoiceState, at: datetime, history: History
) -> list[Entry]:
    """Marked uncollectible: what remains is written off to bad debt. Paid or voided later:
    the write-off is reversed (dated when it was paid or voided)."""
    uncollectible = state["status"] == UNCOLLECTIBLE
    wanted = (
        transfer(
            Account.BAD_DEBT,
            Account.ACCOUNTS_RECEIVABLE,
            state["amount_remaining"],
            state["currency"],
            state["customer"],
        )
        if uncollectible
        else ()
    )
    settled_at = state.get("paid_at") if state["status"] == PAID else state.get("voided_at")
    return converge(
        history,
        Posting(
            invoice_id,
            "written_off",
            "invoice_written_off",
            f"invoice {invoice_id} marked uncollectible",
            _time(state.get("marked_uncollectible_at"), at),
            wanted,
        ),
        Reversal(
            "write_off_reversed",
            f"write-off of invoice {invoice_id} reversed ({state['status']})",
            _time(settled_at, at),
        ),
    )


def post_invoice_paid(
    invoice_id: str, state: InvoiceState, at: datetime, history: History
) -> list[Entry]:
    """Money received: Dr stripe_balance (other_receipts when paid out of band) / Cr receivable.

    Posted as the growth of `amount_paid` over what earlier payment entries received, so
    `invoice.paid` and `invoice.payment_succeeded` for one payment post once, and an invoice
    seen first as paid posts the whole amount. Partial payments are Stripe payments; a split
    between Stripe and out-of-band money for one invoice is not visible in its state.
    """
    status = state["status"]
    if status in ("draft", "deleted"):
        return []
    received = _received(history)
    growth = state["amount_paid"] - received
    if growth <= 0:
        return []
    if status == PAID:
        if PAID in history:
            return []
        cash = Account.OTHER_RECEIPTS if state["paid_out_of_band"] else Account.STRIPE_BALANCE
        transition, kind, how = (
            PAID,
            "invoice_paid",
            ("paid out of band" if state["paid_out_of_band"] else "paid"),
        )
        occurred_at = _time(state.get("paid_at"), at)
    else:
        cash = Account.STRIPE_BALANCE
        transition = f"{PARTIAL_PAYMENT}{state['amount_paid']}"
        kind, how, occurred_at = "invoice_partially_paid", "partially paid", at
        if transition in history:
            return []
    return [
        Entry(
            invoice_id,
            transition,
            kind,
            f"invoice {invoice_id} {how}",
            occurred_at,
            transfer(
                cash, Account.ACCOUNTS_RECEIVABLE, growth, state["currency"], state["customer"]
            ),
        )
    ]


def _received(history: History) -> int:
    return sum(
        -line.amount
        for transition, entry in history.items()
        if transition == PAID or transition.startswith(PARTIAL_PAYMENT)
        for line in entry.lines
        if line.ledger_account == Account.ACCOUNTS_RECEIVABLE
    )


def _time(epoch: int | None, default: datetime) -> datetime:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else default
