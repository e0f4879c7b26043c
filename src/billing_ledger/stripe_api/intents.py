"""What PaymentIntents and SetupIntents answer, as our commands answer it.

A payment states exactly one of `succeeded`, `processing`, `requires_action` (with Stripe's
`client_secret` and `next_action`, and the `confirmation_url` of our payment page),
`requires_payment_method` (created without one: the customer pays at `confirmation_url`), or
`failed` (Stripe's `code`, `decline_code` and a readable message).

The payment page is `{public base}/pay/{intent id}?link=…` (`PUBLIC_BASE_URL`, and a signed
link made by `web/pages/links.py` through the `PageLinks` port): Stripe sends the customer
back there after a redirect such as 3-D Secure, and the page confirms with Stripe.js. The link
is the same for the same intent, so a retried command sends Stripe the same `return_url`.

`client_secret`, `next_action` and `confirmation_url` are answered but never recorded (the
command record holds no secrets: Stripe's 3-D Secure URLs embed the client secret, and the
signed link opens the page); a repeated idempotency key re-reads them from Stripe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from billing_ledger.stripe_api.commands import Outcome, Steps
from billing_ledger.stripe_api.requests import MandateAcceptance

PAY_PATH = "/pay/"


class PageLinks(Protocol):
    """Where a customer confirms an intent of `account` (the payment page)."""

    def confirmation_url(self, intent: Mapping[str, Any], account: str) -> str: ...


@dataclass(frozen=True)
class UnsignedLinks:
    """`{public base}/pay/{intent id}` without a signature (tests of the commands alone)."""

    public_base_url: str

    def confirmation_url(self, intent: Mapping[str, Any], account: str) -> str:
        return f"{self.public_base_url.rstrip('/')}{PAY_PATH}{intent['id']}"


def page_links(links: PageLinks | str) -> PageLinks:
    return UnsignedLinks(links) if isinstance(links, str) else links


def confirmation_url(links: PageLinks | str, intent: Mapping[str, Any], account: str = "") -> str:
    return page_links(links).confirmation_url(intent, account)


def intent_secrets(
    intent: dict[str, Any], links: PageLinks | str | None = None, account: str = ""
) -> dict[str, Any]:
    """What of an intent is answered but never recorded: its client secret, Stripe's next
    action, and (given `links`) the payment page's signed `confirmation_url`."""
    secrets: dict[str, Any] = {}
    if links is not None:
        secrets["confirmation_url"] = confirmation_url(links, intent, account)
    if intent.get("client_secret"):
        secrets["client_secret"] = intent["client_secret"]
    if intent.get("next_action"):
        secrets["next_action"] = intent["next_action"]
    return secrets


def payment_outcome(intent: dict[str, Any], links: PageLinks | str, account: str = "") -> Outcome:
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
    error = intent.get("last_payment_error") or {}
    if status == "requires_action" or (status == "requires_payment_method" and not error):
        # requires_payment_method without an error: created to be paid on the payment page
        return Outcome(202, body, private=intent_secrets(intent, links, account))
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


WAITING = ("requires_action", "requires_payment_method")


def with_secrets(steps: Steps, resource: str, recorded: Outcome, links: PageLinks) -> Outcome:
    """A repeated key's recorded answer, with the secrets the record never holds re-read."""
    if recorded.body.get("status") not in WAITING or recorded.status != 202:
        return recorded
    intent = steps.read(resource, str(recorded.body["id"])).object
    return Outcome(
        recorded.status,
        recorded.body,
        replayed=True,
        command_id=recorded.command_id,
        private=intent_secrets(intent, links, steps.caller.account),
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
