"""The Customer aggregate. Deleted customers are marked, never dropped: deletion is terminal."""

from __future__ import annotations

from typing import Any, ClassVar

from billing_ledger.domain.identity import uuid_or_none
from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import Customer as StripeCustomer
from billing_ledger.schemas.objects import expandable_id

ACTIVE, DELETED = "active", "deleted"


class Customer(StripeObject):
    STATUS_RULES: ClassVar[StatusRules] = StatusRules(
        terminal=frozenset({DELETED}), rank={ACTIVE: 0, DELETED: 1}
    )

    class Recorded(StripeObject.Recorded):
        """CustomerRecorded: the first snapshot of a customer we hold."""

    class Revised(StripeObject.Revised):
        """CustomerRevised: a later snapshot (an update or the deletion) became current."""


def customer_status(event: StripeEvent, customer: StripeCustomer) -> str:
    return DELETED if customer.deleted or event.type == "customer.deleted" else ACTIVE


def customer_state(event: StripeEvent, customer: StripeCustomer) -> dict[str, Any]:
    """What the read schema shows of a customer, in plain JSON types."""
    deleted = customer_status(event, customer) == DELETED
    settings = customer.invoice_settings
    return {
        "email": customer.email,
        "name": customer.name,
        "user_id": uuid_or_none(customer.metadata.get("user_id")),
        "default_payment_method": expandable_id(settings.default_payment_method)
        if settings
        else None,
        "billing_address": customer.address.model_dump() if customer.address else None,
        "deleted_at": event.created if deleted else None,
        "created": customer.created,
    }
