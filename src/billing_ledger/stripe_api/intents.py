"""What PaymentIntents and SetupIntents answer, as our commands answer it.

A payment states exactly one of `succeeded`, `processing`, `requires_action` (with Stripe's
`client_secret` and `next_action`, and the `confirmation_url` of our payment page), or
`failed` (Stripe's `code`, `decline_code` and a readable message).

The payment page is `{public base}/pay/{intent id}` (`PUBLIC_BASE_URL`; the pages themselves
come in a later release): Stripe sends the customer back there after a redirect such as
3-D Secure, and the pages will confirm with Stripe.js there.

`client_secret` and `next_action` are answered but never recorded (the command record holds
no secrets: Stripe's 3-D Secure URLs embed the client secret); a repeated idempotency key
re-reads them from Stripe.
"""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.commands import Outcome, Steps
from billing_ledger.stripe_api.requests import MandateAcceptance

PAY_PATH = "/pay/"


def confirmation_url(public_base_url: str, intent_id: str) -> str:
    return f"{public_base_url.rstrip('/')}{PAY_PATH}{intent_id}"


def intent_secrets(intent: dict[str, Any]) -> dict[str, Any]:
    """What of an intent is answered but never recorded."""
    secrets: dict[str, Any] = {}
    if intent.get("client_secret"):
        secrets["client_secret"] = intent["client_secret"]
    if intent.get("next_action"):
        secrets["next_action"] = intent["next_action"]
    return secrets


def payment_outcome(intent: dict[str, Any], public_base_url: str) -> Outcome:
    """A PaymentIntent after confirmation, as one of the four answers."""
    status = intent.get("status")
    body: dict[str, Any] = {
        "id": intent["id"],
        "object": "payment_intent",
        "status": status,
        "amount": intent.get("amount"),
        "currency": intent.get("currency"),
        "customer": id_of(intent.get("customer")),
        "payment_method": id_of(intent.get("payment_method")),
    }
    if status == "succeeded":
        return Outcome(201, body)
    if status == "processing":
        return Outcome(202, body)
    if status == "requires_action":
        body["confirmation_url"] = confirmation_url(public_base_url, intent["id"])
        return Outcome(202, body, private=intent_secrets(intent))
    error = intent.get("last_payment_error") or {}
    if status == "requires_payment_method" and error:
        return failed_payment(
            body, error.get("message"), error.get("code"), error.get("decline_code")
        )
    return Outcome(502, {**body, "error": f"unexpected PaymentIntent status {status!r}"})


def failed_payment(
    body: dict[str, Any], message: str | None, code: str | None, decline_code: str | None
) -> Outcome:
    return Outcome(
        402,
        {
            **body,
            "status": "failed",
            "error": message or "the payment failed",
            "code": code,
            "decline_code": decline_code,
        },
    )


def with_secrets(steps: Steps, resource: str, recorded: Outcome) -> Outcome:
    """A repeated key's recorded answer, with the secrets the record never holds re-read."""
    if recorded.body.get("status") != "requires_action":
        return recorded
    intent = steps.read(resource, str(recorded.body["id"])).object
    return Outcome(
        recorded.status,
        recorded.body,
        replayed=True,
        command_id=recorded.command_id,
        private=intent_secrets(intent),
    )


def mandate_data(acceptance: MandateAcceptance) -> dict[str, Any]:
    return {
        "customer_acceptance": {
            "type": "online",
            "online": {"ip_address": acceptance.ip_address, "user_agent": acceptance.user_agent},
        }
    }


def id_of(value: Any) -> str | None:
    """An expandable field's id (Stripe sends an id, or the object when expanded)."""
    if isinstance(value, dict):
        inner = value.get("id")
        return inner if isinstance(inner, str) else None
    return value if isinstance(value, str) else None


def dump(request: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = request.model_dump(mode="json")
    return dumped
