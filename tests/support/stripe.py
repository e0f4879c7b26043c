"""Builders of the Stripe objects and events tests deliver, on Stripe's own sample objects
(tests/fixtures/stripe), with amounts consistent the way Stripe keeps them (`amount_remaining`
= `amount_due` − `amount_paid`; `subtotal` = `total` − tax).

The defaults are one customer's month: `cus_Test1` pays 2,000 usd for January 2026 of
`sub_Test1`; invoice `in_Test1` (no tax) is paid by `pi_Test1` through charge `ch_Test1` and
linked to it by `inpay_Test1`. Everything is created at 2026-01-01T00:00:00Z unless told.

Builders of what Stripe reshaped in API version 2025-03-31 ("basil") take `api`, BASIL unless
told; as far as we read them:
- invoice: BASIL names its subscription under `parent.subscription_details` and its tax in
  `total_taxes`; PRE_BASIL has `subscription`, `tax`, `payment_intent`, `paid_out_of_band`.
- subscription: BASIL has `current_period_*` on each item, PRE_BASIL on the subscription.
- payment intent and charge: only PRE_BASIL name their `invoice`; BASIL links a payment to its
  invoice with an `invoice_payment` object (which only BASIL has).
- event: `api_version` is the shape's.
The other objects look alike in both shapes, as far as we read them, and take no `api`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "stripe"
CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z
JANUARY_2026 = (CREATED, 1_769_904_000)


class ApiShape(Enum):
    """A shape of Stripe's payloads, valued by the `api_version` its events carry."""

    BASIL = "2025-03-31.basil"
    PRE_BASIL = "2024-06-20"


@cache
def _fixture(resource: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{resource}.json").read_text())
    return loaded


def stripe_object(resource: str, **fields: Any) -> dict[str, Any]:
    """A copy of Stripe's sample `resource` with `fields` replaced."""
    obj = copy.deepcopy(_fixture(resource))
    obj.update(fields)
    return obj


def _before_basil(api: ApiShape, **fields: Any) -> dict[str, Any]:
    """`fields` to write in the PRE_BASIL shape; BASIL has none of them, so a value given for
    BASIL is a mistake in the test and refused."""
    if api is ApiShape.PRE_BASIL:
        return fields
    if given := sorted(name for name, value in fields.items() if value is not None):
        raise ValueError(f"the basil shape has no {', '.join(given)}: link with invoice_payment")
    return {}


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int = CREATED,
    livemode: bool = False,
    account: str | None = None,
    previous_attributes: dict[str, Any] | None = None,
    api: ApiShape = ApiShape.BASIL,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    document: dict[str, Any] = {
        "id": event_id or f"evt_{event_type.replace('.', '_')}_{obj['id']}_{created}",
        "object": "event",
        "api_version": api.value,
        "created": created,
        "data": data,
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account is not None:
        document["account"] = account
    return document


def previous_attributes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What Stripe's `data.previous_attributes` says of a change from `before` to `after`: each
    changed key with its earlier value; of a hash only the keys that changed (one that was not
    there, as null), arrays whole."""
    changed: dict[str, Any] = {}
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed[key] = previous_attributes(old, new)
        else:
            changed[key] = copy.deepcopy(old)
    return changed


def customer(customer_id: str = "cus_Test1", **fields: Any) -> dict[str, Any]:
    """A customer without a discount of its own unless `discount` is given."""
    defaults: dict[str, Any] = {
        "id": customer_id,
        "email": f"{customer_id.lower()}@example.com",
        "name": f"Customer {customer_id}",
        "created": CREATED,
        "metadata": {},
        "discount": None,
    }
    return stripe_object("customer", **{**defaults, **fields})


def subscription_item(
    item_id: str = "si_Test1",
    subscription_id: str = "sub_Test1",
    *,
    price_id: str = "price_Pro",
    unit_amount: int | None = 2000,
    quantity: int = 1,
    currency: str = "usd",
    interval: str = "month",
    interval_count: int = 1,
    usage_type: str = "licensed",
    tiers: Sequence[Mapping[str, Any]] | None = None,
    tiers_mode: str = "graduated",
    period: tuple[int, int] = JANUARY_2026,
) -> dict[str, Any]:
    """One item of a subscription: a per-unit price, or a tiered one when `tiers` are given
    (Stripe's tier objects: `up_to`, `unit_amount`, `flat_amount`; expanded, as MRR needs)."""
    start, end = period
    item: dict[str, Any] = copy.deepcopy(_fixture("subscription")["items"]["data"][0])
    item.update(
        id=item_id,
        subscription=subscription_id,
        quantity=quantity,
        current_period_start=start,
        current_period_end=end,
    )
    price = item["price"]
    price.update(id=price_id, unit_amount=unit_amount, currency=currency)
    price["unit_amount_decimal"] = None if unit_amount is None else str(unit_amount)
    price["recurring"].update(
        interval=interval, interval_count=interval_count, usage_type=usage_type
    )
    if tiers is not None:
        price.update(
            billing_scheme="tiered",
            tiers_mode=tiers_mode,
            tiers=[
                {
                    "up_to": tier.get("up_to"),
                    "unit_amount": tier.get("unit_amount"),
                    "unit_amount_decimal": None,
                    "flat_amount": tier.get("flat_amount"),
                    "flat_amount_decimal": None,
                }
                for tier in tiers
            ],
        )
    return item


def subscription(
    subscription_id: str = "sub_Test1",
    customer_id: str = "cus_Test1",
    *,
    status: str = "active",
    price_id: str = "price_Pro",
    unit_amount: int = 2000,
    quantity: int = 1,
    currency: str = "usd",
    period: tuple[int, int] = JANUARY_2026,
    items: Sequence[dict[str, Any]] | None = None,
    api: ApiShape = ApiShape.BASIL,
    **fields: Any,
) -> dict[str, Any]:
    """A subscription of one licensed item, billed monthly, for `period` (start, end); or of
    `items` (see `subscription_item`) when given."""
    start, end = period
    if items is None:
        items = [
            subscription_item(
                f"si_{subscription_id.removeprefix('sub_')}",
                subscription_id,
                price_id=price_id,
                unit_amount=unit_amount,
                quantity=quantity,
                currency=currency,
                period=period,
            )
        ]
    defaults: dict[str, Any] = {
        "id": subscription_id,
        "customer": customer_id,
        "status": status,
        "created": CREATED,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancel_at": None,
        "ended_at": None,
        "trial_end": None,
        "trial_start": None,
        "metadata": {},
        "items": {
            "object": "list",
            "data": [copy.deepcopy(item) for item in items],
            "has_more": False,
            "url": "/v1/x",
        },
    }
    obj = stripe_object("subscription", **{**defaults, **fields})
    if api is ApiShape.PRE_BASIL:
        for data in obj["items"]["data"]:
            data.pop("current_period_start", None)
            data.pop("current_period_end", None)
        obj.update(current_period_start=start, current_period_end=end)
    return obj


def invoice(
    invoice_id: str = "in_Test1",
    customer_id: str = "cus_Test1",
    *,
    subscription_id: str | None = "sub_Test1",
    status: str = "open",
    total: int = 2000,
    tax: int = 0,
    amount_due: int | None = None,
    amount_paid: int = 0,
    currency: str = "usd",
    paid_out_of_band: bool = False,
    transitions: Mapping[str, int | None] | None = None,
    intent_id: str | None = None,
    api: ApiShape = ApiShape.BASIL,
    **fields: Any,
) -> dict[str, Any]:
    """An invoice whose `total` includes `tax`; `amount_due` is `total` unless customer credit
    lowers it. `status_transitions` holds only the moments in `transitions` (the journal dates
    an entry by them, else by its event). `intent_id` is the PRE_BASIL `payment_intent`; BASIL
    writes `paid_out_of_band` only when true (Stripe dropped it there; the domain still reads
    it)."""
    due = total if amount_due is None else amount_due
    defaults: dict[str, Any] = {
        "id": invoice_id,
        "customer": customer_id,
        "status": status,
        "currency": currency,
        "created": CREATED,
        "total": total,
        "subtotal": total - tax,
        "total_excluding_tax": total - tax,
        "amount_due": due,
        "amount_paid": amount_paid,
        "amount_remaining": due - amount_paid,
        "due_date": None,
        "status_transitions": {
            "finalized_at": None,
            "paid_at": None,
            "voided_at": None,
            "marked_uncollectible_at": None,
            **(transitions or {}),
        },
    }
    obj = stripe_object("invoice", **defaults)
    before_basil = _before_basil(api, payment_intent=intent_id)
    if api is ApiShape.BASIL:
        obj.pop("subscription", None)
        obj["parent"] = (
            {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription_id, "metadata": {}},
            }
            if subscription_id
            else None
        )
        obj["total_taxes"] = [{"amount": tax, "tax_behavior": "exclusive"}] if tax else []
        if paid_out_of_band:
            obj["paid_out_of_band"] = True
    else:
        obj.pop("parent", None)
        obj.pop("total_taxes", None)
        obj.update(
            subscription=subscription_id,
            tax=tax,
            **before_basil,
            paid_out_of_band=paid_out_of_band,
        )
    obj.update(fields)
    return obj


def invoice_payment(
    link_id: str = "inpay_Test1",
    invoice_id: str = "in_Test1",
    intent_id: str = "pi_Test1",
    *,
    amount_paid: int = 2000,
    status: str = "paid",
    currency: str = "usd",
    **fields: Any,
) -> dict[str, Any]:
    """The basil link between an invoice and the PaymentIntent that paid it."""
    defaults: dict[str, Any] = {
        "id": link_id,
        "invoice": invoice_id,
        "payment": {"type": "payment_intent", "payment_intent": intent_id},
        "status": status,
        "amount_paid": amount_paid,
        "currency": currency,
        "livemode": False,
        "created": CREATED,
    }
    return stripe_object("invoice_payment", **{**defaults, **fields})


def payment_intent(
    intent_id: str = "pi_Test1",
    customer_id: str | None = "cus_Test1",
    *,
    status: str = "succeeded",
    amount: int = 2000,
    amount_received: int | None = None,
    currency: str = "usd",
    error: dict[str, Any] | None = None,
    methods: tuple[str, ...] = ("card",),
    invoice_id: str | None = None,
    api: ApiShape = ApiShape.BASIL,
    **fields: Any,
) -> dict[str, Any]:
    """A PaymentIntent; `amount_received` is `amount` once succeeded, else 0, unless told.
    `invoice_id` is the PRE_BASIL `invoice` it pays."""
    received = amount if status == "succeeded" and amount_received is None else amount_received or 0
    defaults: dict[str, Any] = {
        "id": intent_id,
        "customer": customer_id,
        "status": status,
        "amount": amount,
        "amount_received": received,
        "currency": currency,
        "created": CREATED,
        "last_payment_error": error,
        "payment_method": f"pm_{intent_id.removeprefix('pi_')}",
        "payment_method_types": list(methods),
        "latest_charge": None,
        **_before_basil(api, invoice=invoice_id),
    }
    return stripe_object("payment_intent", **{**defaults, **fields})


def charge(
    charge_id: str = "ch_Test1",
    intent_id: str | None = "pi_Test1",
    *,
    status: str = "succeeded",
    amount: int = 2000,
    amount_refunded: int = 0,
    currency: str = "usd",
    method_type: str = "card",
    wallet: str | None = None,
    invoice_id: str | None = None,
    api: ApiShape = ApiShape.BASIL,
    **fields: Any,
) -> dict[str, Any]:
    """A charge paid with `method_type` (a card in `wallet`, if given); `invoice_id` is the
    PRE_BASIL `invoice` it pays."""
    obj = stripe_object(
        "charge",
        id=charge_id,
        payment_intent=intent_id,
        status=status,
        paid=status == "succeeded",
        amount=amount,
        amount_refunded=amount_refunded,
        refunded=amount_refunded == amount,
        currency=currency,
        created=CREATED,
        customer="cus_Test1",
        failure_code=None if status != "failed" else "card_declined",
        failure_message=None if status != "failed" else "Your card was declined.",
        receipt_url=f"https://pay.stripe.com/receipts/{charge_id}",
        **_before_basil(api, invoice=invoice_id),
    )
    details = obj["payment_method_details"]
    details["type"] = method_type
    if method_type == "card":
        details["card"]["wallet"] = {"type": wallet, "dynamic_last4": None} if wallet else None
    else:
        details.pop("card", None)
        details[method_type] = {}
    obj.update(fields)
    return obj


def refund(
    refund_id: str = "re_Test1",
    intent_id: str = "pi_Test1",
    *,
    amount: int = 500,
    status: str = "succeeded",
    currency: str = "usd",
    **fields: Any,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "id": refund_id,
        "payment_intent": intent_id,
        "charge": "ch_Test1",
        "amount": amount,
        "status": status,
        "currency": currency,
        "created": CREATED,
    }
    return stripe_object("refund", **{**defaults, **fields})


def dispute(
    dispute_id: str = "dp_Test1",
    intent_id: str = "pi_Test1",
    *,
    status: str = "needs_response",
    amount: int = 2000,
    currency: str = "usd",
    balance_transactions: Sequence[int] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A dispute whose balance transactions move the given signed amounts (negative: the funds
    withdrawn, positive: reinstated); none while it is an inquiry or no money moved yet."""
    transactions = [
        {
            "id": f"txn_{dispute_id}_{n}",
            "object": "balance_transaction",
            "amount": value,
            "currency": currency,
            "reporting_category": "dispute" if value < 0 else "dispute_reversal",
        }
        for n, value in enumerate(balance_transactions)
    ]
    defaults: dict[str, Any] = {
        "id": dispute_id,
        "payment_intent": intent_id,
        "charge": "ch_Test1",
        "amount": amount,
        "currency": currency,
        "status": status,
        "reason": "fraudulent",
        "created": CREATED,
        "balance_transactions": transactions,
    }
    return stripe_object("dispute", **{**defaults, **fields})


def tax_id(
    tax_id_id: str = "txi_Test1", customer_id: str = "cus_Test1", value: str = "DE123456789"
) -> dict[str, Any]:
    return stripe_object(
        "tax_id",
        id=tax_id_id,
        customer=customer_id,
        type="eu_vat",
        value=value,
        created=CREATED,
    )


def payment_method(
    method_id: str = "pm_Test1", customer_id: str | None = "cus_Test1", **fields: Any
) -> dict[str, Any]:
    return stripe_object(
        "payment_method",
        **{"id": method_id, "customer": customer_id, "created": CREATED, **fields},
    )


def setup_intent(
    setup_id: str = "seti_Test1",
    customer_id: str | None = "cus_Test1",
    method_id: str | None = "pm_Test1",
    *,
    status: str = "succeeded",
    mandate: str | None = None,
    methods: tuple[str, ...] = ("card",),
    **fields: Any,
) -> dict[str, Any]:
    """A SetupIntent that saved `method_id` (a debit's names its `mandate`)."""
    defaults: dict[str, Any] = {
        "id": setup_id,
        "customer": customer_id,
        "payment_method": method_id,
        "status": status,
        "mandate": mandate,
        "payment_method_types": list(methods),
        "last_setup_error": None,
        "next_action": None,
        "created": CREATED,
    }
    return stripe_object("setup_intent", **{**defaults, **fields})


def mandate(
    mandate_id: str = "mandate_Test1",
    method_id: str = "pm_Test1",
    *,
    status: str = "active",
    ip_address: str = "203.0.113.7",
    user_agent: str = "Mozilla/5.0",
    **fields: Any,
) -> dict[str, Any]:
    """A multi-use SEPA mandate the customer accepted online (it names no customer)."""
    acceptance = {
        "accepted_at": CREATED,
        "online": {"ip_address": ip_address, "user_agent": user_agent},
        "type": "online",
    }
    defaults: dict[str, Any] = {
        "id": mandate_id,
        "payment_method": method_id,
        "status": status,
        "customer_acceptance": acceptance,
    }
    return stripe_object("mandate", **{**defaults, **fields})


def returned_to(location: str) -> tuple[str, dict[str, str]]:
    """A redirect back from Stripe (3-D Secure, a bank): the `return_url` it went to, and the
    query Stripe appended (`payment_intent`, `payment_intent_client_secret`, `redirect_status`,
    or their `setup_intent` names)."""
    parts = urlsplit(location)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = ("payment_intent", "setup_intent", "redirect_status")
    appended = {k: v for k, v in query if k.startswith(names)}
    kept = [(k, v) for k, v in query if not k.startswith(names)]
    return urlunsplit(parts._replace(query=urlencode(kept))), appended
