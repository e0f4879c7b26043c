"""The Dispute aggregate. `won`, `lost` and `warning_closed` are final; money moves with the
dispute's balance transactions (funds withdrawn, funds reinstated), which inquiries never have."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import DisputePart, DisputeState
from billing_ledger.domain.stripe_object import Snapshot, StripeObject
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

RULES = StatusRules(
    terminal=frozenset({"won", "lost", "warning_closed"}),
    rank={
        "warning_needs_response": 0,
        "needs_response": 0,
        "warning_under_review": 1,
        "under_review": 1,
        "won": 2,
        "lost": 2,
        "warning_closed": 2,
    },
)


class Dispute(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {"dispute": RULES}

    class Recorded(StripeObject.Recorded):
        """DisputeRecorded: the first snapshot of a dispute we hold."""

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: DisputeState

    class Revised(StripeObject.Revised):
        """DisputeRevised: a later snapshot became current (evidence, funds moved, closed)."""

        if TYPE_CHECKING:
            state: DisputeState

    class Backfilled(StripeObject.Backfilled):
        """DisputeBackfilled: an older snapshot, recorded as history only."""


def dispute_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    dispute = objects.Dispute.model_validate(event.data.object)
    state: DisputePart = {
        "charge": expandable_id(dispute.charge),
        "payment_intent": expandable_id(dispute.payment_intent),
        "amount": dispute.amount,
        "currency": dispute.currency,
        "status": dispute.status,
        "reason": dispute.reason,
        "balance_transactions": [
            {
                "id": bt.id,
                "amount": bt.amount,
                "currency": bt.currency,
                "category": bt.reporting_category,
            }
            for bt in dispute.balance_transactions
        ],
        "created": dispute.created,
    }
    return dispute.id, Snapshot("dispute", dispute.id, state, dispute.status)
