"""The PaymentMethod aggregate. Only the type, card brand, last4, expiry and wallet are kept:
never card numbers, CVCs or track data (we never receive them, and we never store them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import PaymentMethodPart, PaymentMethodState
from billing_ledger.domain.stripe_object import Snapshot, StripeObject
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

ATTACHED, DETACHED = "attached", "detached"


class PaymentMethod(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {
        "payment_method": StatusRules(rank={ATTACHED: 0, DETACHED: 1})
    }

    class Recorded(StripeObject.Recorded):
        """PaymentMethodRecorded: the first snapshot of a payment method we hold."""

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: PaymentMethodState

    class Revised(StripeObject.Revised):
        """PaymentMethodRevised: attached, detached or updated (for example a new expiry)."""

        if TYPE_CHECKING:
            state: PaymentMethodState

    class Backfilled(StripeObject.Backfilled):
        """PaymentMethodBackfilled: an older snapshot, recorded as history only."""


def payment_method_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    method = objects.PaymentMethod.model_validate(event.data.object)
    card = method.card
    customer = expandable_id(method.customer)
    status = DETACHED if event.type == "payment_method.detached" or customer is None else ATTACHED
    state: PaymentMethodPart = {
        # Stripe clears `customer` on detach; the event's previous_attributes keep who it was.
        "customer": customer or _previous_customer(event),
        "status": status,
        "type": method.type,
        "card_brand": card.brand if card else None,
        "card_last4": card.last4 if card else None,
        "card_exp_month": card.exp_month if card else None,
        "card_exp_year": card.exp_year if card else None,
        "wallet": card.wallet.type if card and card.wallet else None,
        "created": method.created,
    }
    return method.id, Snapshot("payment_method", method.id, state, status)


def _previous_customer(event: StripeEvent) -> str | None:
    previous = (event.data.previous_attributes or {}).get("customer")
    return previous if isinstance(previous, str) else None
