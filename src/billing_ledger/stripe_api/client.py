"""The Stripe client: the official SDK's `StripeClient`, configured once, behind one call.

- `API_VERSION` is pinned here and nowhere else; it equals the webhook endpoint's version
  (the "basil" shapes `schemas/` and the domain read), so what a command gets back and what
  the webhooks then say have one shape.
- The base URL is configurable (`STRIPE_API_BASE`: stripe-mock, the stand-in in `fake/`).
- `account` sends `Stripe-Account` (Connect); every answer's `livemode` is checked against
  the key's mode.
- The SDK retries connection errors, 409 and 5xx itself, with the same idempotency key. It
  does not retry a plain 429: we back off, bounded and with full jitter, and retry with the
  same key (Stripe stores no result for a rate-limited request).
- Stripe's exceptions are translated here into `errors.py`. The key is never logged: the
  SDK's own logger, which would print request bodies at DEBUG, is held at WARNING.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import stripe

from billing_ledger.stripe_api.errors import (
    AuthenticationRequired,
    CardDeclined,
    DeclineDetails,
    IdempotencyConflict,
    InvalidRequest,
    ModeMismatch,
    RateLimited,
    StripeApiError,
    StripeRefusedKey,
    StripeUnavailable,
)

API_VERSION = "2025-03-31.basil"
"""The one Stripe API version we speak, equal to the webhook endpoint's."""

SDK_RETRIES = 2
RATE_LIMIT_RETRIES = 4
RATE_LIMIT_BASE_SECONDS = 0.5
RATE_LIMIT_CAP_SECONDS = 8.0
TIMEOUT_SECONDS = 30.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StripeAnswer:
    """One Stripe object as Stripe answered it, with Stripe's id of the request."""

    object: dict[str, Any]
    request_id: str | None = None


class StripeApi(Protocol):
    """The port the services call: one Stripe API method, with its idempotency key.

    `resource` and `method` name the SDK's service (`payment_intents`, `confirm`; a nested one
    with a dot: `customers.tax_ids`, `list`); `id` is the object the method acts on, if any
    (the parent of a nested service's list). Raises only `errors.StripeApiError`s.
    """

    @property
    def livemode(self) -> bool: ...

    def call(
        self,
        resource: str,
        method: str,
        *,
        id: str | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> StripeAnswer: ...


@dataclass
class Backoff:
    """Full-jitter exponential backoff for 429s: attempt n sleeps U(0, min(cap, base·2ⁿ))."""

    retries: int = RATE_LIMIT_RETRIES
    base: float = RATE_LIMIT_BASE_SECONDS
    cap: float = RATE_LIMIT_CAP_SECONDS
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = field(default=random.uniform)

    def pause(self, attempt: int) -> None:
        self.sleep(self.jitter(0.0, min(self.cap, self.base * 2**attempt)))


def key_mode(api_key: str) -> bool:
    """Whether a secret (`sk_`) or restricted (`rk_`) key is a live one."""
    return api_key.startswith(("sk_live_", "rk_live_"))


class StripeGateway:
    """`StripeApi` on the official SDK."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        backoff: Backoff | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        logging.getLogger("stripe").setLevel(logging.WARNING)
        self._livemode = key_mode(api_key)
        self._backoff = backoff or Backoff()
        self._client = stripe.StripeClient(
            api_key,
            stripe_version=API_VERSION,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=SDK_RETRIES,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def __repr__(self) -> str:  # never the key
        return f"StripeGateway(livemode={self._livemode})"

    @property
    def livemode(self) -> bool:
        return self._livemode

    def call(
        self,
        resource: str,
        method: str,
        *,
        id: str | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> StripeAnswer:
        service: Any = self._client.v1
        for part in resource.split("."):  # nested: `customers.tax_ids`, `test_helpers.test_clocks`
            service = getattr(service, part)
        function = getattr(service, method)
        options: dict[str, Any] = {}
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        if account:
            options["stripe_account"] = account
        arguments: tuple[Any, ...] = (id,) if id is not None else ()
        attempt = 0
        while True:
            try:
                result = function(*arguments, params=dict(params or {}), options=options)
                break
            except stripe.RateLimitError as e:
                if attempt >= self._backoff.retries:
                    raise translate(e) from None
                self._backoff.pause(attempt)
                attempt += 1
            except stripe.StripeError as e:
                raise translate(e) from None
        answer = StripeAnswer(result.to_dict(), _request_id(result))
        self._check_mode(answer)
        return answer

    def _check_mode(self, answer: StripeAnswer) -> None:
        livemode = answer.object.get("livemode")
        if isinstance(livemode, bool) and livemode != self._livemode:
            raise ModeMismatch(
                f"Stripe answered in {'live' if livemode else 'test'} mode to a "
                f"{'live' if self._livemode else 'test'}-mode key",
                request_id=answer.request_id,
            )


def _request_id(result: Any) -> str | None:
    response = getattr(result, "last_response", None)
    request_id = getattr(response, "request_id", None)
    return request_id if isinstance(request_id, str) else None


def translate(error: stripe.StripeError) -> StripeApiError:
    """Our error for one of the SDK's; the message is Stripe's and never holds our key."""
    body = error.error
    code = error.code or _field(body, "code")
    message = _field(body, "message") or "Stripe refused the request"
    request_id = error.request_id
    if isinstance(error, stripe.CardError):
        intent = _field(body, "payment_intent")
        details = DeclineDetails(
            decline_code=_field(body, "decline_code"),
            payment_intent=_field(intent, "id"),
            payment_intent_status=_field(intent, "status"),
        )
        kind = AuthenticationRequired if code == "authentication_required" else CardDeclined
        return kind(message, code=code, request_id=request_id, details=details)
    if isinstance(error, stripe.RateLimitError):
        return RateLimited("Stripe is rate limiting our requests", code=code, request_id=request_id)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return StripeRefusedKey(
            "Stripe refused our API key (check STRIPE_API_KEY and its permissions)",
            code=code,
            request_id=request_id,
        )
    if isinstance(error, stripe.IdempotencyError):
        return IdempotencyConflict(message, code=code, request_id=request_id)
    if isinstance(error, stripe.InvalidRequestError):
        return InvalidRequest(
            message, code=code, request_id=request_id, param=_field(body, "param")
        )
    if isinstance(error, stripe.APIConnectionError):
        return StripeUnavailable("Stripe cannot be reached", code=code, request_id=request_id)
    return StripeUnavailable(
        f"Stripe failed to answer (HTTP {error.http_status})", code=code, request_id=request_id
    )


def _field(obj: Any, name: str) -> Any:
    """`obj[name]` of a Stripe object or dict, None when absent (StripeObject has no .get)."""
    if obj is None or isinstance(obj, str):
        return None
    try:
        return obj[name] if name in obj else None
    except (KeyError, TypeError):
        return None
