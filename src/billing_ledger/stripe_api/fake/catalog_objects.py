"""Products, prices, coupons and promotion codes in the stand-in: what subscriptions are made of.

Prices are per unit (`unit_amount`, integer minor units) and recurring (`recurring[interval]`
of day, week, month or year, with `interval_count`) or one-time. Coupons take `percent_off`
or `amount_off` (+ `currency`) and a `duration` of `once`, `repeating` (`duration_in_months`)
or `forever`; a promotion code names a coupon and a customer-facing `code`.
"""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.fake.formdata import boolean, integer
from billing_ledger.stripe_api.fake.store import Store, invalid

INTERVALS = ("day", "week", "month", "year")


def create_product(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("name"):
        raise invalid("Missing required param: name.", "name")
    product = store.add(
        {
            "id": params.get("id") or store.new_id("prod"),
            "object": "product",
            "active": True,
            "created": store.now(),
            "default_price": None,
            "description": params.get("description"),
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": dict(params.get("metadata") or {}),
            "name": params["name"],
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": None,
            "updated": store.now(),
            "url": None,
        }
    )
    store.event("product.created", product)
    return product


def create_price(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    currency = str(params.get("currency") or "").lower()
    if len(currency) != 3:
        raise invalid("Missing required param: currency.", "currency")
    amount = integer(params.get("unit_amount"), "unit_amount")
    if amount < 0:
        raise invalid("This value must be greater than or equal to 0.", "unit_amount")
    product = params.get("product")
    if isinstance(params.get("product_data"), dict):
        product = create_product(store, params["product_data"])["id"]
    store.get(product, "product", "product")
    recurring = None
    if params.get("recurring"):
        given = params["recurring"]
        if given.get("interval") not in INTERVALS:
            raise invalid("Invalid recurring[interval]: must be one of day, week, month or year")
        recurring = {
            "interval": given["interval"],
            "interval_count": integer(given.get("interval_count") or 1, "interval_count"),
            "meter": None,
            "trial_period_days": None,
            "usage_type": given.get("usage_type") or "licensed",
        }
    price = store.add(
        {
            "id": store.new_id("price"),
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": store.now(),
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": params.get("lookup_key"),
            "metadata": dict(params.get("metadata") or {}),
            "nickname": params.get("nickname"),
            "product": product,
            "recurring": recurring,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": amount,
            "unit_amount_decimal": str(amount),
        }
    )
    store.event("price.created", price)
    return price


def create_coupon(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    duration = params.get("duration") or "once"
    if duration not in ("once", "repeating", "forever"):
        raise invalid("Invalid duration: must be one of forever, once, or repeating", "duration")
    percent = params.get("percent_off")
    amount = params.get("amount_off")
    if (percent is None) == (amount is None):
        raise invalid("Coupons require exactly one of percent_off or amount_off.")
    if amount is not None and not params.get("currency"):
        raise invalid("You must specify a currency when creating an amount_off coupon.")
    months = params.get("duration_in_months")
    if duration == "repeating" and months is None:
        raise invalid("Missing required param: duration_in_months.", "duration_in_months")
    coupon = store.add(
        {
            "id": params.get("id") or store.secret(8),
            "object": "coupon",
            "amount_off": integer(amount, "amount_off") if amount is not None else None,
            "created": store.now(),
            "currency": str(params["currency"]).lower() if params.get("currency") else None,
            "duration": duration,
            "duration_in_months": integer(months, "duration_in_months") if months else None,
            "livemode": False,
            "max_redemptions": None,
            "metadata": dict(params.get("metadata") or {}),
            "name": params.get("name"),
            "percent_off": float(percent) if percent is not None else None,
            "redeem_by": None,
            "times_redeemed": 0,
            "valid": True,
        }
    )
    store.event("coupon.created", coupon)
    return coupon


def create_promotion_code(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    coupon_id = params.get("coupon") or (params.get("promotion") or {}).get("coupon")
    coupon = store.get(coupon_id, "coupon", "coupon")
    code = store.add(
        {
            "id": store.new_id("promo"),
            "object": "promotion_code",
            "active": boolean(params.get("active", "true")),
            "code": params.get("code") or store.secret(8).upper(),
            "coupon": dict(coupon),
            "created": store.now(),
            "customer": params.get("customer"),
            "expires_at": None,
            "livemode": False,
            "max_redemptions": None,
            "metadata": dict(params.get("metadata") or {}),
            "restrictions": {
                "first_time_transaction": False,
                "minimum_amount": None,
                "minimum_amount_currency": None,
            },
            "times_redeemed": 0,
        }
    )
    store.event("promotion_code.created", code)
    return code
