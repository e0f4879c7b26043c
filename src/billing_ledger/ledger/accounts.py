"""The chart of accounts. Balances are debits minus credits, per currency, in minor units."""

from __future__ import annotations

from enum import StrEnum


class Account(StrEnum):
    """Where a journal line lands; the value is what `journal_lines.ledger_account` holds."""

    ACCOUNTS_RECEIVABLE = "accounts_receivable"
    """Asset: what customers owe on finalized invoices (equals their `amount_remaining`)."""
    REVENUE = "revenue"
    """Income, net of discounts and tax: finalized invoices, and payments without an invoice."""
    TAX_PAYABLE = "tax_payable"
    """Liability: tax collected on finalized invoices."""
    STRIPE_BALANCE = "stripe_balance"
    """Asset: money held by Stripe for us (gross: fees, payouts and FX are not posted yet)."""
    OTHER_RECEIPTS = "other_receipts"
    """Asset: money received outside Stripe (invoices marked `paid_out_of_band`)."""
    REFUNDS = "refunds"
    """Contra-revenue: money given back by refund, keyed by refund id."""
    DISPUTES = "disputes"
    """Contra-revenue: funds withdrawn by disputes and not (yet) reinstated."""
    BAD_DEBT = "bad_debt"
    """Expense: receivables written off when an invoice is marked uncollectible."""
    CUSTOMER_CREDIT = "customer_credit"
    """Liability: the customer's credit balance. Debited when an invoice's `amount_due` is less
    than its total because credit was applied; credited when a negative invoice adds credit."""
    CREDIT_NOTES = "credit_notes"
    """Contra-revenue: pre-payment credit notes that reduced what a finalized invoice asks for."""
