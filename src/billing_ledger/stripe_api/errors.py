"""Stripe's errors, translated where they enter (`client.py`) into our own types.

    StripeApiError                  Stripe did not do what was asked
    ├── FinalStripeError            Stripe's answer is final for this request: recorded, and
    │   │                           a repeated idempotency key gets it again
    │   ├── CardDeclined            the card or bank refused (code, decline_code)
    │   ├── AuthenticationRequired  the payment needs the customer (3-D Secure)
    │   └── InvalidRequest          Stripe refused the parameters (resource_missing: 404)
    └── TransientStripeError        try again later, with the same idempotency key
        ├── RateLimited             429 after our own bounded backoff
        ├── StripeUnavailable       connection errors, 5xx after the SDK's retries
        ├── StripeRefusedKey        the API key is wrong or lacks the permission
        ├── IdempotencyConflict     Stripe is still working on this idempotency key (409)
        └── ModeMismatch            an answer's livemode differs from the key's mode

Messages never carry the API key; `message` of a final error is Stripe's, meant for people.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing_ledger.errors import BillingLedgerError


class StripeApiError(BillingLedgerError):
    """Stripe did not do what was asked. `request_id` is Stripe's, for its support."""

    status = 502

    def __init__(
        self, message: str, *, code: str | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id


class FinalStripeError(StripeApiError):
    """Stripe's final answer to this request (Stripe would replay it for the same key)."""


@dataclass(frozen=True)
class DeclineDetails:
    decline_code: str | None = None
    payment_intent: str | None = None
    payment_intent_status: str | None = None


class CardDeclined(FinalStripeError):
    """The card or the bank refused the payment."""

    status = 402

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        details: DeclineDetails = DeclineDetails(),
    ) -> None:
        super().__init__(message, code=code, request_id=request_id)
        self.decline_code = details.decline_code
        self.payment_intent = details.payment_intent
        self.payment_intent_status = details.payment_intent_status


class AuthenticationRequired(CardDeclined):
    """The payment needs the customer to authenticate (3-D Secure) and cannot go on without."""


class InvalidRequest(FinalStripeError):
    """Stripe refused the parameters; `param` names the one at fault, when Stripe says."""

    status = 422

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, code=code, request_id=request_id)
        self.param = param
        if code == "resource_missing":
            self.status = 404


class TransientStripeError(StripeApiError):
    """Nothing final happened that we know of: the same command may be retried as it is."""


class RateLimited(TransientStripeError):
    status = 429


class StripeUnavailable(TransientStripeError):
    status = 503


class StripeRefusedKey(TransientStripeError):
    """Our key is wrong or not allowed to do this: an operator must fix the configuration."""

    status = 502


class ModeMismatch(TransientStripeError):
    """Stripe answered in the other mode than the key's (test/live must never mix)."""

    status = 502


class IdempotencyConflict(TransientStripeError):
    """Stripe is still working on a request with this idempotency key (or saw it with other
    parameters, which derived keys rule out): try again shortly."""

    status = 409
