"""Customers, payment methods and SetupIntents in the stand-in, as Stripe keeps them."""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.fake.catalog import TEST_METHODS
from billing_ledger.stripe_api.fake.formdata import boolean
from billing_ledger.stripe_api.fake.store import Store, StripeFailure, invalid, missing

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


def payment_method(store: Store, reference: Any, param: str = "payment_method") -> dict[str, Any]:
    """The payment method `reference` names: an existing one, or a new one for a test token."""
    if isinstance(reference, str) and reference in store.objects:
        return store.get(reference, "payment_method", param)
    test = TEST_METHODS.get(reference) if isinstance(reference, str) else None
    if test is None:
        raise missing("PaymentMethod", str(reference), param)
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


def create_setup_intent(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    customer = params.get("customer")
    if customer is not None:
        store.get(customer, "customer", "customer")
    setup_id = store.new_id("seti")
    setup = store.add(
        {
            "id": setup_id,
            "object": "setup_intent",
            "client_secret": f"{setup_id}_secret_{store.secret(24)}",
            "created": store.now(),
            "customer": customer,
            "description": params.get("description"),
            "last_setup_error": None,
            "livemode": False,
            "mandate": None,
            "metadata": dict(params.get("metadata") or {}),
            "next_action": None,
            "payment_method": None,
            "payment_method_options": params.get("payment_method_options") or {},
            "payment_method_types": list(params.get("payment_method_types") or ["card"]),
            "status": "requires_payment_method",
            "usage": params.get("usage") or "off_session",
        }
    )
    if params.get("payment_method"):
        setup["payment_method"] = payment_method(store, params["payment_method"])["id"]
        setup["status"] = "requires_confirmation"
    store.event("setup_intent.created", setup)
    if boolean(params.get("confirm")):
        return confirm_setup_intent(store, setup_id, params)
    return setup


def confirm_setup_intent(store: Store, setup_id: str, params: dict[str, Any]) -> dict[str, Any]:
    setup = store.get(setup_id, "setup_intent")
    if setup["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise invalid(
            f"This SetupIntent's status is {setup['status']}; it cannot be confirmed.",
            code="setup_intent_unexpected_state",
        )
    reference = params.get("payment_method") or setup["payment_method"]
    if reference is None:
        raise invalid(
            "You must provide a payment method to confirm this SetupIntent.", "payment_method"
        )
    method = payment_method(store, reference)
    setup["payment_method"] = method["id"]
    test = store.behaviour(method["id"])
    if method["type"] not in setup["payment_method_types"]:
        raise invalid(
            f"The payment method type {method['type']} is not allowed by this SetupIntent.",
            "payment_method",
        )
    if method["type"] == "sepa_debit" and not params.get("mandate_data"):
        raise invalid("mandate_data is required to set up a SEPA Direct Debit.", "mandate_data")
    if test.behaviour == "decline":
        setup["status"] = "requires_payment_method"
        setup["last_setup_error"] = card_error(test.decline_code, method)
        store.event("setup_intent.setup_failed", setup)
        raise StripeFailure(402, {**setup["last_setup_error"], "setup_intent": dict(setup)})
    verification = (setup["payment_method_options"].get("us_bank_account") or {}).get(
        "verification_method"
    )
    if test.behaviour == "authenticate" or verification == "microdeposits":
        setup["status"] = "requires_action"
        setup["next_action"] = challenge(store, setup_id, params.get("return_url"))
        store.event("setup_intent.requires_action", setup)
        return setup
    return succeed_setup(store, setup, params)


def succeed_setup(store: Store, setup: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    method = store.get(setup["payment_method"], "payment_method")
    if method["type"] in ("sepa_debit", "us_bank_account"):
        setup["mandate"] = store.new_id("mandate")
    setup["status"] = "succeeded"
    setup["next_action"] = None
    if setup["customer"] is not None:
        attach(store, method["id"], {"customer": setup["customer"]})
    store.event("setup_intent.succeeded", setup)
    return setup


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
    "confirm_setup_intent",
    "create_customer",
    "create_setup_intent",
    "detach",
    "payment_method",
    "update_customer",
]
