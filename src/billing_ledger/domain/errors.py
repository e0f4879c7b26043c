"""What the domain refuses: a verified event of a handled type that it cannot apply.

    UnprocessableEvent          unreadable payload, or a state that cannot be (its `reason`)
    └── ContradictsTerminalState  a snapshot after a terminal state showing another status
    WholeHistoryNeeded          not a refusal: decide from an aggregate's whole history

The processor dead-letters an UnprocessableEvent with its reason and carries on; nothing of it
is applied. On WholeHistoryNeeded it loads the aggregate from all its events and applies the
event again.
"""

from __future__ import annotations

from uuid import UUID

from billing_ledger.errors import BillingLedgerError


class UnprocessableEvent(BillingLedgerError):
    """A verified event of a handled type whose payload we cannot read; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ContradictsTerminalState(UnprocessableEvent):
    """The event shows an object after its first terminal state in another status (an invoice
    voided or deleted after it was paid): impossible in Stripe, so it is kept aside."""

    def __init__(self, event_type: str, stripe_id: str, terminal_status: str) -> None:
        super().__init__(
            f"{event_type} contradicts terminal state {terminal_status} of {stripe_id}"
        )
        self.terminal_status = terminal_status


class WholeHistoryNeeded(BillingLedgerError):
    """A snapshot older than the frontier an aggregate keeps of a part (frontier.py) arrived,
    and the snapshots it dropped are not in memory (it was loaded from a snapshot of it): load
    `aggregate_id` from all its stored events, which keeps them, and apply again. Raised before
    anything changes."""

    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(f"aggregate {aggregate_id} needs its whole history")
        self.aggregate_id = aggregate_id
