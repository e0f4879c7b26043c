"""The Customer aggregate, with its tax ids as parts. Deleted customers are marked, never
dropped: deletion is terminal, for the customer and for each tax id. A customer shows its own
discount (for MRR: it applies to its subscriptions that carry none of their own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from billing_ledger.domain.identity import uuid_or_none
from billing_ledger.domain.ordering import StatusRules
from billing_ledger.domain.state import (
    AppliedDiscount,
    BillingAddress,
    CustomerPart,
    CustomerState,
    PartState,
    TaxIdPart,
)
from billing_ledger.domain.stripe_object import (
    Part,
    Snapshot,
    StripeObject,
    as_kind,
    last_change,
    of_kind,
)
from billing_ledger.domain.subscription import embedded_coupon_state
from billing_ledger.domain.upcasting import (
    customer_discount_unknown,
    snapshot_v1_to_v2,
    unchanged,
)
from billing_ledger.schemas import objects
from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

ACTIVE, DELETED = "active", "deleted"
V1_EXTRA = {"tax_id": None, "seen": True}  # v1 had no tax ids, and always the customer itself
_DELETION = StatusRules(terminal=frozenset({DELETED}), rank={ACTIVE: 0, DELETED: 1})


class Customer(StripeObject):
    PART_RULES: ClassVar[Mapping[str, StatusRules]] = {"customer": _DELETION, "tax_id": _DELETION}

    class Recorded(StripeObject.Recorded):
        """CustomerRecorded: the first snapshot of a customer (or of one of its tax ids)."""

        class_version = 4  # v3 had no discount
        upcast_v1_v2 = snapshot_v1_to_v2("customer", unchanged, V1_EXTRA)
        upcast_v3_v4 = staticmethod(customer_discount_unknown)

        if TYPE_CHECKING:  # the shape `view` writes (see StripeObject.Recorded)
            state: CustomerState

    class Revised(StripeObject.Revised):
        """CustomerRevised: a later snapshot (update, deletion, tax id change) became current."""

        class_version = 4
        upcast_v1_v2 = snapshot_v1_to_v2("customer", unchanged, V1_EXTRA)
        upcast_v3_v4 = staticmethod(customer_discount_unknown)

        if TYPE_CHECKING:
            state: CustomerState

    class Backfilled(StripeObject.Backfilled):
        """CustomerBackfilled: an older snapshot, recorded as history only."""

        class_version = 3  # v2 had no discount
        upcast_v2_v3 = staticmethod(customer_discount_unknown)

    @classmethod
    def view(cls, stripe_id: str, parts: Mapping[str, Part[PartState]]) -> CustomerState:
        # The customer's tax id: the most recently created one that is not deleted.
        tax_ids = sorted(
            (p.version.created, p.state["value"])
            for p in of_kind(parts.values(), "tax_id", TaxIdPart)
            if p.version.status != DELETED
        )
        tax_id = tax_ids[-1][1] if tax_ids else None
        main = as_kind(parts.get(stripe_id), "customer", CustomerPart)
        if main is None:  # tax ids can arrive before their customer
            return {"tax_id": tax_id, "seen": False, "updated": last_change(parts)}
        return {**main.state, "tax_id": tax_id, "seen": True, "updated": last_change(parts)}


def customer_snapshot(event: StripeEvent) -> tuple[str, Snapshot]:
    customer = objects.Customer.model_validate(event.data.object)
    deleted = customer.deleted or event.type == "customer.deleted"
    settings = customer.invoice_settings
    state: CustomerPart = {
        "email": customer.email,
        "name": customer.name,
        "user_id": uuid_or_none(customer.metadata.get("user_id")),
        "default_payment_method": expandable_id(settings.default_payment_method)
        if settings
        else None,
        "billing_address": _address(customer.address) if customer.address else None,
        "deleted_at": event.created if deleted else None,
        "created": customer.created,
        "discount": applied_discount(customer.discount) if customer.discount else None,
    }
    return customer.id, Snapshot("customer", customer.id, state, DELETED if deleted else ACTIVE)


def applied_discount(discount: objects.Discount) -> AppliedDiscount:
    return {
        "id": discount.id,
        "coupon_id": discount.coupon_id(),
        "coupon": embedded_coupon_state(discount),
        "start": discount.start,
        "end": discount.end,
    }


def tax_id_snapshot(event: StripeEvent) -> tuple[str, Snapshot] | None:
    tax_id = objects.TaxId.model_validate(event.data.object)
    customer_id = expandable_id(tax_id.customer)
    if customer_id is None:
        return None  # an account's own tax id, not a customer's
    status = DELETED if event.type == "customer.tax_id.deleted" else ACTIVE
    state: TaxIdPart = {"type": tax_id.type, "value": tax_id.value}
    return customer_id, Snapshot("tax_id", tax_id.id, state, status)


def _address(address: objects.Address) -> BillingAddress:
    return {
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
        "country": address.country,
    }
