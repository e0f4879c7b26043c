"""SetupIntents and their mandates in the stand-in, following Stripe's state machine.

requires_payment_method → requires_confirmation → (confirm)
    card that succeeds             → succeeded (the payment method attached)
    card that is declined          → requires_payment_method, 402 card_error
    card that needs 3-D Secure     → requires_action (redirect_to_url) → challenge passed
                                     → succeeded; failed → requires_payment_method
    SEPA debit (mandate_data)      → succeeded, with an active multi-use mandate
    ACH, verification_method=microdeposits (mandate_data)
                                   → requires_action (verify_with_microdeposits), mandate
                                     pending → verify_microdeposits with amounts 32 and 45 or
                                     descriptor code SM11AA → succeeded, mandate active;
                                     three wrong attempts → requires_payment_method
    ACH otherwise (mandate_data)   → succeeded (instant verification), mandate active

A mandate names its payment method (`GET /v1/mandates/{id}`); a SetupIntent names its mandate.
"""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.fake.customers import (
    attach,
    card_error,
    challenge,
    method_from_data,
    payment_method,
)
from billing_ledger.stripe_api.fake.formdata import boolean, integer
from billing_ledger.stripe_api.fake.store import Store, StripeFailure, invalid

DEBITS = {"sepa_debit": "a SEPA Direct Debit", "us_bank_account": "an ACH Direct Debit"}
MICRODEPOSIT_AMOUNTS = [32, 45]  # Stripe's test values that verify
MICRODEPOSIT_CODE = "SM11AA"
VERIFICATION_ATTEMPTS = 3
ARRIVAL_SECONDS = 86_400


def create_setup_intent(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    customer = params.get("customer")
    if customer is not None:
        store.get(customer, "customer", "customer")
    setup_id = store.new_id("seti")
    setup = store.add(
        {
            "id": setup_id,
            "object": "setup_intent",
            "application": None,
            "automatic_payment_methods": None,
            "cancellation_reason": None,
            "client_secret": f"{setup_id}_secret_{store.secret(24)}",
            "created": store.now(),
            "customer": customer,
            "description": params.get("description"),
            "flow_directions": None,
            "last_setup_error": None,
            "latest_attempt": None,
            "livemode": False,
            "mandate": None,
            "metadata": dict(params.get("metadata") or {}),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_options": params.get("payment_method_options") or {},
            "payment_method_types": list(params.get("payment_method_types") or ["card"]),
            "single_use_mandate": None,
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
        raise _unexpected(setup, "confirmed")
    if params.get("payment_method_data") and not params.get("payment_method"):
        params = {
            **params,
            "payment_method": method_from_data(store, params["payment_method_data"])["id"],
        }
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
    acceptance: dict[str, Any] = (params.get("mandate_data") or {}).get("customer_acceptance") or {}
    if method["type"] in DEBITS and not acceptance:
        raise invalid(
            f"mandate_data is required to set up {DEBITS[method['type']]}.", "mandate_data"
        )
    if test.behaviour == "decline":
        setup["status"] = "requires_payment_method"
        setup["last_setup_error"] = card_error(test.decline_code, method)
        store.event("setup_intent.setup_failed", setup)
        raise StripeFailure(402, {**setup["last_setup_error"], "setup_intent": dict(setup)})
    verification = (setup["payment_method_options"].get("us_bank_account") or {}).get(
        "verification_method"
    )
    microdeposits = method["type"] == "us_bank_account" and verification == "microdeposits"
    if method["type"] in DEBITS:
        setup["mandate"] = _mandate(store, method, acceptance, microdeposits)["id"]
    if test.behaviour == "authenticate":
        setup["status"] = "requires_action"
        setup["next_action"] = challenge(store, setup_id, params.get("return_url"))
        store.event("setup_intent.requires_action", setup)
        return setup
    if microdeposits:
        setup["status"] = "requires_action"
        setup["next_action"] = {
            "type": "verify_with_microdeposits",
            "verify_with_microdeposits": {
                "arrival_date": store.now() + ARRIVAL_SECONDS,
                "hosted_verification_url": f"{store.public_url}/verify/{setup_id}",
                "microdeposit_type": "amounts",
            },
        }
        store.event("setup_intent.requires_action", setup)
        return setup
    return succeed_setup(store, setup)


def verify_microdeposits(store: Store, setup_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The customer's microdeposit amounts (or descriptor code), checked as Stripe does."""
    setup = store.get(setup_id, "setup_intent")
    action = setup.get("next_action") or {}
    if setup["status"] != "requires_action" or action.get("type") != "verify_with_microdeposits":
        raise _unexpected(setup, "verified with microdeposits")
    amounts, code = params.get("amounts"), params.get("descriptor_code")
    if (amounts is None) == (code is None):
        raise invalid("Provide either amounts or descriptor_code, not both.", "amounts")
    if amounts is not None:
        given = [integer(a, "amounts") for a in (amounts if isinstance(amounts, list) else [])]
        matched, kind = given == MICRODEPOSIT_AMOUNTS, "amounts"
    else:
        matched, kind = code == MICRODEPOSIT_CODE, "descriptor_code"
    if matched:
        return succeed_setup(store, setup)
    store.attempts[setup_id] = store.attempts.get(setup_id, 0) + 1
    left = VERIFICATION_ATTEMPTS - store.attempts[setup_id]
    if left > 0:
        raise invalid(
            f"The {kind.replace('_', ' ')} provided do not match what was sent to the bank "
            f"account. You have {left} verification attempts remaining.",
            kind,
            code=f"payment_method_microdeposit_verification_{kind}_mismatch",
        )
    code_exceeded = "payment_method_microdeposit_verification_attempts_exceeded"
    message = "You have exceeded the number of allowed verification attempts."
    setup.update(
        status="requires_payment_method",
        next_action=None,
        last_setup_error={
            "type": "invalid_request_error",
            "code": code_exceeded,
            "message": message,
        },
    )
    _mandate_status(store, setup, "inactive")
    store.event("setup_intent.setup_failed", setup)
    raise invalid(message, kind, code=code_exceeded)


def succeed_setup(store: Store, setup: dict[str, Any]) -> dict[str, Any]:
    method = store.get(setup["payment_method"], "payment_method")
    setup["status"] = "succeeded"
    setup["next_action"] = None
    if setup["customer"] is not None:
        attach(store, method["id"], {"customer": setup["customer"]})
    _mandate_status(store, setup, "active")
    store.event("setup_intent.succeeded", setup)
    return setup


def fail_challenge(store: Store, setup: dict[str, Any]) -> dict[str, Any]:
    """The customer failed the test 3-D Secure challenge of a card being saved."""
    method = store.get(setup["payment_method"], "payment_method")
    setup.update(
        status="requires_payment_method",
        next_action=None,
        last_setup_error={
            "type": "invalid_request_error",
            "code": "setup_intent_authentication_failure",
            "message": "The latest attempt to set up the payment method has failed because "
            "authentication failed.",
            "payment_method": dict(method),
        },
    )
    store.event("setup_intent.setup_failed", setup)
    return setup


def answer_challenge(store: Store, setup_id: str, passed: bool) -> dict[str, Any]:
    setup = store.get(setup_id, "setup_intent")
    action = setup.get("next_action") or {}
    if setup["status"] != "requires_action" or action.get("type") != "redirect_to_url":
        raise _unexpected(setup, "authenticated")
    return succeed_setup(store, setup) if passed else fail_challenge(store, setup)


def _mandate(
    store: Store, method: dict[str, Any], acceptance: dict[str, Any], pending: bool
) -> dict[str, Any]:
    kind = method["type"]
    mandate_id = store.new_id("mandate")
    details: dict[str, Any] = (
        {"reference": store.secret(16).upper(), "url": f"{store.public_url}/mandates/{mandate_id}"}
        if kind == "sepa_debit"
        else {"collection_method": None}
    )
    accepted: dict[str, Any] = {"accepted_at": store.now(), "type": acceptance.get("type")}
    if acceptance.get("type") == "online":
        online = acceptance.get("online") or {}
        accepted["online"] = {
            "ip_address": online.get("ip_address"),
            "user_agent": online.get("user_agent"),
        }
    else:
        accepted["offline"] = {}
    return store.add(
        {
            "id": mandate_id,
            "object": "mandate",
            "customer_acceptance": accepted,
            "livemode": False,
            "multi_use": {},
            "on_behalf_of": None,
            "payment_method": method["id"],
            "payment_method_details": {"type": kind, kind: details},
            "single_use": None,
            "status": "pending" if pending else "active",
            "type": "multi_use",
        }
    )


def _mandate_status(store: Store, setup: dict[str, Any], status: str) -> None:
    if setup.get("mandate") is None:
        return
    mandate = store.get(setup["mandate"], "mandate")
    if mandate["status"] != status:
        previous = {"status": mandate["status"]}
        mandate["status"] = status
        store.event("mandate.updated", mandate, previous)


def _unexpected(setup: dict[str, Any], what: str) -> StripeFailure:
    return invalid(
        f"This SetupIntent's status is {setup['status']}; it cannot be {what}.",
        code="setup_intent_unexpected_state",
    )
