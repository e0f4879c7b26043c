"""Posting rules of a dispute (`domain/dispute.py`), one entry per balance transaction.

- `funds_withdrawn:<txn id>` (negative amount): Dr disputes / Cr stripe_balance.
- `funds_reinstated:<txn id>` (positive amount): Dr stripe_balance / Cr disputes.

A reinstatement names the withdrawal it reverses in `reversal_of`. Inquiries (no balance
transactions) move no money. Dispute fees are part of the balance transaction's fee, which is
not posted yet (fees come with balance transactions). The dispute state names no customer, so
its lines carry none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from billing_ledger.domain.state import DisputeState
from billing_ledger.ledger.accounts import Account
from billing_ledger.ledger.entries import Entry, History, transfer

WITHDRAWN, REINSTATED = "funds_withdrawn:", "funds_reinstated:"


def post_dispute(
    dispute_id: str, state: DisputeState, at: datetime, history: History
) -> list[Entry]:
    posted: list[Entry] = []
    known = dict(history)
    for txn in state["balance_transactions"]:
        amount = txn["amount"]
        if amount == 0:
            continue
        withdrawn = amount < 0
        transition = f"{WITHDRAWN if withdrawn else REINSTATED}{txn['id']}"
        if transition in known:
            continue
        entry = Entry(
            dispute_id,
            transition,
            "dispute_funds_withdrawn" if withdrawn else "dispute_funds_reinstated",
            f"dispute {dispute_id} funds {'withdrawn' if withdrawn else 'reinstated'}"
            f" ({state['reason'] or 'no reason'})",
            at,
            transfer(Account.DISPUTES, Account.STRIPE_BALANCE, -amount, txn["currency"], None),
            reversal_of=None if withdrawn else _withdrawal_to_reverse(known),
        )
        known[transition] = entry
        posted.append(entry)
    return posted


def _withdrawal_to_reverse(known: Mapping[str, Entry]) -> str | None:
    reversed_ = {e.reversal_of for e in known.values() if e.reversal_of is not None}
    open_withdrawals = sorted(t for t in known if t.startswith(WITHDRAWN) and t not in reversed_)
    return open_withdrawals[0] if open_withdrawals else None
