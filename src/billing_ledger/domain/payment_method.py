"""The PaymentMethod aggregate, with the SetupIntents that saved it as parts. Only the type,
card brand, last4, expiry and wallet are kept: never card numbers, CVCs or track data (we
never receive them, and we never store them). A debit saved with a SetupIntent shows the
mandate it is under: the newest SetupIntent's that has one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import (
    PartState,
    PaymentMethodPart,
    PaymentMethodState,
    SetupPart,
)
from billing_ledger.domain.stripe_object import (
    Part,
    Snapshot,
    StripeObject,
    as_kind,
    last_change,
    of_kind,
)
from billing_ledger.domain.upcasting import payment_method_mandate_unknown
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

ATTACHED, DETACHED = "attached", "detached"
SUCCEEDED = "succeeded"


class PaymentMethod(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {
        "payment_method": StatusRules(rank={ATTACHED: 0, DETACHED: 1}),
        "setup_intent": StatusRules(terminal=frozenset({SUCCEEDED})),
    }

    class Recorded(StripeObject.Recorded):
        """PaymentMethodRecorded: the first snapshot of a payment method (or of a SetupIntent
        that saved it) we hold."""

        class_version = 4  # v3 showed no mandate
        upcast_v3_v4 = staticmethod(payment_method_mandate_unknown)

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: PaymentMethodState

    class Revised(StripeObject.Revised):
        """PaymentMethodRevised: attached, detached, updated (a new expiry), or saved by a
        SetupIntent."""

        class_version = 4
        upcast_v3_v4 = staticmethod(payment_method_mandate_unknown)

        if TYPE_CHECKING:
            state: PaymentMethodState

    class Backfilled(StripeObject.Backfilled):
        """PaymentMethodBackfilled: an older snapshot, recorded as history only."""

    @classmethod
    def view(cls, stripe_id: str, parts: Mapping[str, Part[PartState]]) -> PaymentMethodState:
        mandates = sorted(
            (p.version.created, p.state["mandate"])
            for p in of_kind(parts.values(), "setup_intent", SetupPart)
            if p.state["mandate"] is not None
        )
        mandate = mandates[-1][1] if mandates else None
        main = as_kind(parts.get(stripe_id), "payment_method", PaymentMethodPart)
        if main is None:  # its SetupIntent can arrive first
            return {"mandate": mandate, "seen": False, "updated": last_change(parts)}
        return {**main.state, "mandate": mandate, "seen": True, "updated": last_change(parts)}


def payment_method_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    method = objects.PaymentMethod.model_validate(event.data.object)
    card = method.card
    bank = method.sepa_debit or method.us_bank_account
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
        "bank_name": bank.bank_name if bank else None,
        "bank_last4": bank.last4 if bank else None,
        "created": method.created,
    }
    return method.id, Snapshot("payment_method", method.id, state, status)


def setup_snapshot(event: StripeEvent) -> tuple[str, Snapshot] | None:
    """The SetupIntent as a part of the payment method it saved (None: it names none)."""
    setup = objects.SetupIntent.model_validate(event.data.object)
    method_id = expandable_id(setup.payment_method)
    if method_id is None:
        return None
    state: SetupPart = {"mandate": expandable_id(setup.mandate)}
    return method_id, Snapshot("setup_intent", setup.id, state, setup.status)


def _previous_customer(event: StripeEvent) -> str | None:
    previous = (event.data.previous_attributes or {}).get("customer")
    return previous if isinstance(previous, str) else None
