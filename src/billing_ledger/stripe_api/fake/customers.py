"""Customers and payment methods in the stand-in, as Stripe keeps them."""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.fake.catalog import (
    IDEAL_BANKS,
    TEST_METHODS,
    WALLET_TOKENS,
    TestMethod,
    ideal_method,
    wallet_method,
)
from billing_ledger.stripe_api.fake.store import Store, invalid, missing

ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


def create_customer(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    clock = params.get("test_clock")
    if clock is not None:
        store.get(clock, "test_helpers.test_clock", "test_clock")
    customer = store.add(
        {
            "id": store.new_id("cus"),
            "object": "customer",
            "address": _address(params.get("address")),
            "balance": 0,
            "created": store.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": params.get("description"),
            "email": params.get("email"),
            "invoice_prefix": store.secret(8).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "name": params.get("name"),
            "phone": params.get("phone"),
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": clock,
        }
    )
    store.event("customer.created", customer)
    for tax in params.get("tax_id_data") or []:
        tax_id = store.add(
            {
                "id": store.new_id("txi"),
                "object": "tax_id",
                "country": None,
                "created": store.now(),
                "customer": customer["id"],
                "livemode": False,
                "type": tax.get("type"),
                "value": tax.get("value"),
                "verification": {
                    "status": "pending",
                    "verified_address": None,
                    "verified_name": None,
                },
            }
        )
        store.event("customer.tax_id.created", tax_id)
    return customer


def update_customer(store: Store, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
    customer = store.get(customer_id, "customer")
    previous: dict[str, Any] = {}
    for name in ("email", "name", "phone", "description"):
        if name in params and params[name] != customer.get(name):
            previous[name] = customer.get(name)
            customer[name] = params[name] or None
    if "address" in params:
        previous["address"] = customer["address"]
        customer["address"] = _address(params["address"])
    if "metadata" in params:
        previous["metadata"] = dict(customer["metadata"])
        customer["metadata"] = {
            **customer["metadata"],
            **{k: v for k, v in params["metadata"].items()},
        }
        customer["metadata"] = {k: v for k, v in customer["metadata"].items() if v != ""}
    settings = params.get("invoice_settings") or {}
    if "default_payment_method" in settings:
        method_id = settings["default_payment_method"] or None
        if method_id is not None:
            method = store.get(
                method_id, "payment_method", "invoice_settings[default_payment_method]"
            )
            if method.get("customer") != customer_id:
                raise invalid(
                    f"The customer does not have a payment method with the ID {method_id}. "
                    "The payment method must be attached to the customer.",
                    "invoice_settings[default_payment_method]",
                )
        previous["invoice_settings"] = {
            "default_payment_method": customer["invoice_settings"]["default_payment_method"]
        }
        customer["invoice_settings"]["default_payment_method"] = method_id
    if previous:
        store.event("customer.updated", customer, previous)
    return customer


def delete_customer(store: Store, customer_id: str) -> dict[str, Any]:
    """Delete for good: `customer.deleted` carries the customer as it was; afterwards a
    retrieve answers the deleted stub, and anything else "No such customer"."""
    customer = store.get(customer_id, "customer")
    del store.objects[customer_id]
    stub = {"id": customer_id, "object": "customer", "deleted": True}
    store.deleted[customer_id] = stub
    store.event("customer.deleted", customer)
    return stub


def retrieve_customer(store: Store, customer_id: str) -> dict[str, Any]:
    return store.deleted.get(customer_id) or store.get(customer_id, "customer")


def payment_method(store: Store, reference: Any, param: str = "payment_method") -> dict[str, Any]:
    """The payment method `reference` names: an existing one, or a new one for a test token."""
    if isinstance(reference, str) and reference in store.objects:
        return store.get(reference, "payment_method", param)
    test = TEST_METHODS.get(reference) if isinstance(reference, str) else None
    if test is None:
        raise missing("PaymentMethod", str(reference), param)
    return _new_method(store, test)


def method_from_data(store: Store, data: Any) -> dict[str, Any]:
    """A new payment method from `payment_method_data`, as Stripe.js sends it for iDEAL and
    for a wallet's card (catalog.py); anything else is Stripe's invalid_request_error."""
    if not isinstance(data, dict):
        raise invalid("payment_method_data must be a hash.", "payment_method_data")
    kind = data.get("type")
    details = data.get(str(kind)) or {}
    if not isinstance(details, dict):
        raise invalid(f"payment_method_data[{kind}] must be a hash.", "payment_method_data")
    if kind == "ideal":
        bank = details.get("bank")
        if bank is not None and bank not in IDEAL_BANKS:
            raise invalid(
                f"Invalid ideal[bank]: must be one of {', '.join(sorted(IDEAL_BANKS))}",
                "payment_method_data[ideal][bank]",
            )
        return _new_method(store, ideal_method(bank))
    if kind == "card" and details.get("token") in WALLET_TOKENS:
        return _new_method(store, wallet_method(str(details["token"])))
    raise invalid(
        "The stand-in creates payment methods from payment_method_data only for ideal and "
        "for the wallet tokens tok_visa_apple_pay and tok_visa_google_pay.",
        "payment_method_data[type]",
    )


def _new_method(store: Store, test: TestMethod) -> dict[str, Any]:
    method = store.add(
        {
            "id": store.new_id("pm"),
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": dict.fromkeys(ADDRESS_FIELDS),
                "email": None,
                "name": None,
                "phone": None,
            },
            "created": store.now(),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": test.type,
            test.type: dict(test.details),
        }
    )
    store.behaviours[method["id"]] = test
    return method


def attach(store: Store, method_id: str, params: dict[str, Any]) -> dict[str, Any]:
    customer = store.get(params.get("customer"), "customer", "customer")
    method = payment_method(store, method_id, "payment_method")
    if method["customer"] not in (None, customer["id"]):
        raise invalid("The payment method you provided has already been attached to a customer.")
    if method["customer"] is None:
        method["customer"] = customer["id"]
        store.event("payment_method.attached", method)
    return method


def detach(store: Store, method_id: str) -> dict[str, Any]:
    method = store.get(method_id, "payment_method")
    owner = method.get("customer")
    if owner is None:
        raise invalid("The payment method you provided is not attached to a customer.")
    method["customer"] = None
    store.event("payment_method.detached", method, {"customer": owner})
    customer = store.get(owner, "customer")
    if customer["invoice_settings"]["default_payment_method"] == method_id:
        update_customer(store, owner, {"invoice_settings": {"default_payment_method": ""}})
    return method


def challenge(store: Store, intent_id: str, return_url: Any) -> dict[str, Any]:
    """A test 3-D Secure challenge: one POST to `url` passes it (`result=fail` fails it)."""
    if isinstance(return_url, str):
        store.return_urls[intent_id] = return_url
    return {
        "type": "redirect_to_url",
        "redirect_to_url": {
            "url": f"{store.public_url}/challenge/{intent_id}",
            "return_url": return_url if isinstance(return_url, str) else None,
        },
    }


def card_error(decline_code: str | None, method: dict[str, Any]) -> dict[str, Any]:
    message = (
        "Your card has insufficient funds."
        if decline_code == "insufficient_funds"
        else "Your card was declined."
    )
    return {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": decline_code,
        "message": message,
        "payment_method": dict(method),
        "param": None,
    }


def _address(given: Any) -> dict[str, Any] | None:
    if given is None:
        return None
    given = given if isinstance(given, dict) else {}
    return {name: given.get(name) or None for name in ADDRESS_FIELDS}


__all__ = [
    "attach",
    "card_error",
    "challenge",
    "create_customer",
    "delete_customer",
    "detach",
    "payment_method",
    "retrieve_customer",
    "update_customer",
]
