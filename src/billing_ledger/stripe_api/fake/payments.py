"""PaymentIntents, charges and refunds in the stand-in, following Stripe's state machine.

requires_payment_method → requires_confirmation → (confirm)
    card that succeeds                → succeeded          (charge succeeded)
    card that is declined             → requires_payment_method, 402 card_error
    card that needs 3-D Secure        → requires_action → challenge passed → succeeded
                                                        → challenge failed → requires_payment_method
    bank debit (SEPA, ACH)            → processing → (settle delay) → succeeded
    bank redirect (iDEAL)             → requires_action → authorized at the bank → succeeded
                                                        → failed there → requires_payment_method

`payment_method_types` are the ones asked for, or (automatic payment methods, Stripe's default)
those a Stripe account offers in the intent's currency (`ELIGIBLE`): what Stripe.js's Payment
Element shows. Confirming takes `payment_method` or, as Stripe.js sends it, `payment_method_data`.
"""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.fake.customers import (
    card_error,
    challenge,
    method_from_data,
    payment_method,
)
from billing_ledger.stripe_api.fake.formdata import boolean, integer
from billing_ledger.stripe_api.fake.redirects import ATTEMPT_FAILED, bank_redirect
from billing_ledger.stripe_api.fake.store import Store, StripeFailure, invalid

CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
ELIGIBLE = {"eur": ["card", "ideal", "sepa_debit"], "usd": ["card", "us_bank_account"]}
"""Automatic payment methods by currency (iDEAL takes euros only, ACH dollars)."""
KNOWN_TYPES = ("card", "ideal", "sepa_debit", "us_bank_account")


def create_payment_intent(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    amount = integer(params.get("amount"), "amount")
    if amount < 1:
        raise invalid("This value must be greater than or equal to 1.", "amount")
    currency = str(params.get("currency") or "").lower()
    if len(currency) != 3:
        raise invalid("Missing required param: currency.", "currency")
    customer = params.get("customer")
    if customer is not None:
        store.get(customer, "customer", "customer")
    types, automatic = _method_types(params, currency)
    intent_id = store.new_id("pi")
    intent = store.add(
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "automatic_payment_methods": automatic,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{store.secret(24)}",
            "confirmation_method": "automatic",
            "created": store.now(),
            "currency": currency,
            "customer": customer,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "next_action": None,
            "payment_method": None,
            "payment_method_types": types,
            "receipt_email": None,
            "setup_future_usage": None,
            "status": "requires_payment_method",
        }
    )
    if params.get("payment_method"):
        _use_method(store, intent, params["payment_method"])
    store.event("payment_intent.created", intent)
    if boolean(params.get("confirm")):
        return confirm(store, intent_id, params)
    return intent


def confirm(store: Store, intent_id: str, params: dict[str, Any]) -> dict[str, Any]:
    intent = store.get(intent_id, "payment_intent")
    if intent["status"] not in CONFIRMABLE:
        raise invalid(
            f"This PaymentIntent's status is {intent['status']}: it cannot be confirmed.",
            code="payment_intent_unexpected_state",
        )
    if params.get("payment_method_data") and not params.get("payment_method"):
        params = {
            **params,
            "payment_method": method_from_data(store, params["payment_method_data"])["id"],
        }
    if params.get("payment_method"):
        _use_method(store, intent, params["payment_method"])
    if intent["payment_method"] is None:
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            "payment_method",
        )
    intent["last_payment_error"] = None
    test = store.behaviour(intent["payment_method"])
    if test.behaviour == "decline":
        raise _decline(store, intent, test.decline_code)
    if test.behaviour == "authenticate":
        if boolean(params.get("off_session")):
            raise _decline(store, intent, None, code="authentication_required")
        intent["status"] = "requires_action"
        intent["next_action"] = challenge(store, intent_id, params.get("return_url"))
        store.event("payment_intent.requires_action", intent)
        return intent
    if test.behaviour == "redirect":
        intent["next_action"] = bank_redirect(store, intent_id, params.get("return_url"))
        intent["status"] = "requires_action"
        store.event("payment_intent.requires_action", intent)
        return intent
    if test.behaviour == "settle":
        charge = _charge(store, intent, "pending")
        intent["status"] = "processing"
        store.event("charge.pending", charge)
        store.event("payment_intent.processing", intent)
        store.later(lambda: settle(store, intent_id))
        return intent
    return succeed(store, intent)


def succeed(store: Store, intent: dict[str, Any]) -> dict[str, Any]:
    charge = _charge(store, intent, "succeeded")
    intent.update(status="succeeded", amount_received=intent["amount"], next_action=None)
    store.event("charge.succeeded", charge)
    store.event("payment_intent.succeeded", intent)
    return intent


def settle(store: Store, intent_id: str) -> None:
    """A bank debit clears: its charge and its PaymentIntent succeed."""
    intent = store.get(intent_id, "payment_intent")
    if intent["status"] != "processing":
        return
    charge = store.get(intent["latest_charge"], "charge")
    charge.update(status="succeeded", paid=True, captured=True)
    intent.update(status="succeeded", amount_received=intent["amount"])
    store.event("charge.succeeded", charge, {"status": "pending", "paid": False})
    store.event("payment_intent.succeeded", intent, {"status": "processing", "amount_received": 0})


def pass_challenge(store: Store, intent_id: str, passed: bool) -> dict[str, Any]:
    """The customer answered the test 3-D Secure challenge."""
    intent = store.get(intent_id, "payment_intent")
    if intent["status"] != "requires_action":
        raise invalid(
            f"This PaymentIntent's status is {intent['status']}: nothing to authenticate."
        )
    intent["next_action"] = None
    if passed:
        return succeed(store, intent)
    method = store.get(intent["payment_method"], "payment_method")
    intent.update(
        status="requires_payment_method",
        last_payment_error={
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "decline_code": None,
            "message": "The provided PaymentMethod has failed authentication.",
            "payment_method": dict(method),
        },
    )
    store.event("payment_intent.payment_failed", intent)
    return intent


def answer_redirect(store: Store, intent_id: str, authorized: bool) -> dict[str, Any]:
    """The customer authorized (or failed) the payment on the test bank page."""
    intent = store.get(intent_id, "payment_intent")
    next_action = intent.get("next_action") or {}
    if intent["status"] != "requires_action" or next_action.get("type") != "redirect_to_url":
        raise invalid(f"This PaymentIntent's status is {intent['status']}: nothing to authorize.")
    intent["next_action"] = None
    if authorized:
        return succeed(store, intent)
    method = store.get(intent["payment_method"], "payment_method")
    error = {
        "type": "invalid_request_error",
        "code": "payment_intent_payment_attempt_failed",
        "decline_code": None,
        "message": ATTEMPT_FAILED,
        "payment_method": dict(method),
    }
    charge = _charge(
        store,
        intent,
        "failed",
        failure={"code": "payment_intent_payment_attempt_failed", "message": ATTEMPT_FAILED},
    )
    intent.update(status="requires_payment_method", payment_method=None, last_payment_error=error)
    store.event("charge.failed", charge)
    store.event("payment_intent.payment_failed", intent)
    return intent


def create_refund(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("payment_intent"):
        intent = store.get(params["payment_intent"], "payment_intent", "payment_intent")
        charge_id = intent["latest_charge"]
    else:
        charge_id = params.get("charge")
    if not charge_id:
        raise invalid("This PaymentIntent does not have a successful charge to refund.")
    charge = store.get(charge_id, "charge", "charge")
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge_id} has not succeeded: it cannot be refunded.")
    left = charge["amount"] - charge["amount_refunded"]
    if left == 0:
        raise invalid(
            f"Charge {charge_id} has already been refunded.", code="charge_already_refunded"
        )
    amount = integer(params["amount"], "amount") if params.get("amount") else left
    if amount < 1 or amount > left:
        raise invalid(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            "amount",
            code="amount_too_large",
        )
    refund = store.add(
        {
            "id": store.new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": store.new_id("txn"),
            "charge": charge_id,
            "created": store.now(),
            "currency": charge["currency"],
            "destination_details": None,
            "metadata": dict(params.get("metadata") or {}),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
    )
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    store.event("refund.created", refund)
    store.event("charge.refunded", charge, previous)
    return refund


def _method_types(params: dict[str, Any], currency: str) -> tuple[list[str], dict[str, Any] | None]:
    """The intent's `payment_method_types` and `automatic_payment_methods`, as Stripe sets them."""
    asked = params.get("payment_method_types")
    if not asked:
        return list(ELIGIBLE.get(currency, ["card"])), {
            "allow_redirects": "always",
            "enabled": True,
        }
    types = [str(t) for t in (asked.values() if isinstance(asked, dict) else asked)]
    for kind in types:
        if kind not in KNOWN_TYPES:
            raise invalid(
                f"The payment method type provided: {kind} is invalid.", "payment_method_types"
            )
    if "ideal" in types and currency != "eur":
        raise invalid(
            f"The currency provided ({currency}) is invalid for one or more payment method "
            "types (ideal takes eur only).",
            "payment_method_types",
        )
    return types, None


def _use_method(store: Store, intent: dict[str, Any], reference: Any) -> None:
    method = payment_method(store, reference)
    if method["type"] not in intent["payment_method_types"]:
        if intent["automatic_payment_methods"] is None:
            raise invalid(
                f"The PaymentMethod provided ({method['type']}) is not allowed for this "
                "PaymentIntent: it is not in its payment_method_types.",
                "payment_method",
            )
        intent["payment_method_types"].append(method["type"])
    intent["payment_method"] = method["id"]
    if intent["status"] == "requires_payment_method":
        intent["status"] = "requires_confirmation"


def _decline(
    store: Store, intent: dict[str, Any], decline_code: str | None, code: str = "card_declined"
) -> StripeFailure:
    method = store.get(intent["payment_method"], "payment_method")
    error = card_error(decline_code, method)
    if code == "authentication_required":
        error.update(
            code=code,
            decline_code="authentication_required",
            message="Your card was declined. This transaction requires authentication.",
        )
    charge = _charge(store, intent, "failed", failure=error)
    error["charge"] = charge["id"]
    intent.update(status="requires_payment_method", last_payment_error=error)
    store.event("charge.failed", charge)
    store.event("payment_intent.payment_failed", intent)
    return StripeFailure(402, {**error, "payment_intent": dict(intent)})


def _charge(
    store: Store, intent: dict[str, Any], status: str, failure: dict[str, Any] | None = None
) -> dict[str, Any]:
    method = store.get(intent["payment_method"], "payment_method")
    charge_id = store.new_id("ch")
    charge = store.add(
        {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if status == "succeeded" else 0,
            "amount_refunded": 0,
            "balance_transaction": store.new_id("txn") if status != "failed" else None,
            "captured": status == "succeeded",
            "created": store.now(),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "failure_code": failure["code"] if failure else None,
            "failure_message": failure["message"] if failure else None,
            "livemode": False,
            "metadata": {},
            "outcome": {
                "network_status": "declined_by_network" if failure else "approved_by_network",
                "reason": failure.get("decline_code") if failure else None,
                "risk_level": "normal",
                "seller_message": "The bank did not return any further details with this decline."
                if failure
                else "Payment complete.",
                "type": "issuer_declined" if failure else "authorized",
            },
            "paid": status == "succeeded",
            "payment_intent": intent["id"],
            "payment_method": method["id"],
            "payment_method_details": {
                "type": method["type"],
                method["type"]: dict(method[method["type"]]),
            },
            "receipt_url": f"{store.public_url}/receipts/{charge_id}",
            "refunded": False,
            "status": status,
        }
    )
    intent["latest_charge"] = charge_id
    return charge
