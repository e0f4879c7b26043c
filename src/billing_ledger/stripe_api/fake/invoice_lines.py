"""A subscription's invoice lines in the stand-in: its items for a period, and prorations.

- One line per licensed item for its period: `unit_amount × quantity`.
- A change prorates by the second (`periods.prorate`): a credit for the unused time of each
  old item, a charge for the rest of the period of each new one.
- `create_prorations` keeps those lines as pending invoice items, which the subscription's
  next invoice collects.
"""

from __future__ import annotations

import copy
from typing import Any

from billing_ledger.stripe_api.fake.periods import day_text, prorate
from billing_ledger.stripe_api.fake.store import Store

Line = dict[str, Any]


def period_lines(store: Store, sub: dict[str, Any]) -> list[Line]:
    found = []
    for item in sub["items"]["data"]:
        price = item["price"]
        if (price.get("recurring") or {}).get("usage_type") == "metered":
            continue
        amount = int(price["unit_amount"]) * int(item["quantity"])
        name = _product_name(store, price)
        found.append(
            _line(
                store,
                sub,
                item,
                amount,
                f"{item['quantity']} × {name} (at {_money(price)} / {_every(price)})",
                (item["current_period_start"], item["current_period_end"]),
                proration=False,
            )
        )
    return found


def proration_lines(
    store: Store,
    sub: dict[str, Any],
    changes: list[tuple[dict[str, Any] | None, dict[str, Any] | None]],
    at: int,
) -> list[Line]:
    """Credit for the unused time of each old item, charge for the rest of the period of each
    new one (`(old, new)` pairs; None where an item is added or removed)."""
    start, end = _period(sub)
    found = []
    for old, new in changes:
        if old is not None:
            amount = -int(old["price"]["unit_amount"]) * int(old["quantity"])
            name = _product_name(store, old["price"])
            found.append(
                _line(
                    store,
                    sub,
                    old,
                    prorate(amount, start, end, at),
                    f"Unused time on {old['quantity']} × {name} after {day_text(at)}",
                    (at, end),
                    proration=True,
                )
            )
        if new is not None:
            amount = int(new["price"]["unit_amount"]) * int(new["quantity"])
            name = _product_name(store, new["price"])
            found.append(
                _line(
                    store,
                    sub,
                    new,
                    prorate(amount, start, end, at),
                    f"Remaining time on {new['quantity']} × {name} after {day_text(at)}",
                    (at, end),
                    proration=True,
                )
            )
    return found


def keep_pending(store: Store, sub: dict[str, Any], lines: list[Line]) -> None:
    """Proration lines become invoice items for the next invoice (`create_prorations`)."""
    for line in lines:
        details = line["parent"]["subscription_item_details"]
        item = store.add(
            {
                "id": store.new_id("ii"),
                "object": "invoiceitem",
                "amount": line["amount"],
                "currency": line["currency"],
                "customer": sub["customer"],
                "date": store.now(),
                "description": line["description"],
                "discountable": True,
                "discounts": [],
                "invoice": None,
                "livemode": False,
                "metadata": {},
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": sub["id"],
                        "subscription_item": details["subscription_item"],
                    },
                },
                "period": dict(line["period"]),
                "pricing": copy.deepcopy(line["pricing"]),
                "proration": True,
                "quantity": line["quantity"],
            }
        )
        store.event("invoiceitem.created", item)


def pending_lines(store: Store, sub: dict[str, Any], *, claim: str | None) -> list[Line]:
    """The subscription's pending invoice items as lines; `claim` marks them invoiced."""
    found = []
    for item in store.all("invoiceitem"):
        parent = (item.get("parent") or {}).get("subscription_details") or {}
        if item["invoice"] or parent.get("subscription") != sub["id"]:
            continue
        if claim is not None:
            item["invoice"] = claim
        line = _line(
            store,
            sub,
            {"id": parent.get("subscription_item"), "price": None, "quantity": item["quantity"]},
            item["amount"],
            item["description"],
            (item["period"]["start"], item["period"]["end"]),
            proration=True,
        )
        line["pricing"] = copy.deepcopy(item["pricing"])
        line["parent"]["subscription_item_details"]["invoice_item"] = item["id"]
        found.append(line)
    return found


def _period(sub: dict[str, Any]) -> tuple[int, int]:
    first = sub["items"]["data"][0]
    return int(first["current_period_start"]), int(first["current_period_end"])


def _line(
    store: Store,
    sub: dict[str, Any],
    item: dict[str, Any],
    amount: int,
    description: str,
    period: tuple[int, int],
    *,
    proration: bool,
) -> Line:
    price = item.get("price") or {}
    return {
        "id": store.new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": sub["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item.get("id"),
            },
        },
        "period": {"start": period[0], "end": period[1]},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price.get("id"), "product": price.get("product")},
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        },
        "quantity": item.get("quantity"),
        "taxes": [],
    }


def _product_name(store: Store, price: dict[str, Any]) -> str:
    product = store.objects.get(price.get("product") or "")
    return str(product["name"]) if product else str(price.get("id"))


def _money(price: dict[str, Any]) -> str:
    return f"{price['unit_amount']} {price['currency']}"


def _every(price: dict[str, Any]) -> str:
    recurring = price.get("recurring") or {}
    count = recurring.get("interval_count") or 1
    return str(recurring.get("interval")) if count == 1 else f"{count} {recurring['interval']}s"
