"""The Stripe client's own rules, without a network: errors translated where they enter,
bounded backoff for 429s, derived idempotency keys, the mode check, no key in sight."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from billing_ledger.stripe_api import client as stripe_client
from billing_ledger.stripe_api.client import API_VERSION, Backoff, StripeGateway, translate
from billing_ledger.stripe_api.errors import (
    AuthenticationRequired,
    CardDeclined,
    InvalidRequest,
    ModeMismatch,
    RateLimited,
    StripeRefusedKey,
    StripeUnavailable,
)
from billing_ledger.stripe_api.idempotency import derived_key, fingerprint
from tests.support.stripe import ApiShape

KEY = "sk_test_51NeverPrintedAnywhere"


def sdk_error(kind: Any, *args: Any, **kwargs: Any) -> stripe.StripeError:
    """One of the SDK's exceptions (their constructors are untyped)."""
    made: stripe.StripeError = kind(*args, **kwargs)
    return made


def card_error(code: str, decline_code: str | None = None) -> stripe.StripeError:
    body = {
        "error": {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": "Your card was declined.",
            "payment_intent": {
                "id": "pi_1",
                "object": "payment_intent",
                "status": "requires_payment_method",
            },
        }
    }
    return sdk_error(
        stripe.CardError,
        "Your card was declined.",
        None,
        code,
        http_status=402,
        json_body=body,
        headers={"request-id": "req_1"},
    )


def test_the_api_version_is_the_webhook_shapes_one() -> None:
    assert API_VERSION == ApiShape.BASIL.value


def test_a_declined_card_keeps_stripes_codes_message_and_intent() -> None:
    error = translate(card_error("card_declined", "generic_decline"))
    assert isinstance(error, CardDeclined) and not isinstance(error, AuthenticationRequired)
    assert (error.status, error.code, error.decline_code) == (
        402,
        "card_declined",
        "generic_decline",
    )
    assert (error.message, error.payment_intent, error.request_id) == (
        "Your card was declined.",
        "pi_1",
        "req_1",
    )


def test_authentication_required_is_its_own_kind() -> None:
    assert isinstance(translate(card_error("authentication_required")), AuthenticationRequired)


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (
            sdk_error(
                stripe.InvalidRequestError,
                "No such customer",
                "customer",
                "resource_missing",
                http_status=404,
            ),
            InvalidRequest,
            404,
        ),
        (
            sdk_error(
                stripe.InvalidRequestError,
                "Bad amount",
                "amount",
                "parameter_invalid_integer",
                http_status=400,
            ),
            InvalidRequest,
            422,
        ),
        (sdk_error(stripe.RateLimitError, "slow down", http_status=429), RateLimited, 429),
        (
            sdk_error(
                stripe.AuthenticationError, f"Invalid API Key provided: {KEY}", http_status=401
            ),
            StripeRefusedKey,
            502,
        ),
        (sdk_error(stripe.APIConnectionError, "connection refused"), StripeUnavailable, 503),
        (sdk_error(stripe.APIError, "boom", http_status=500), StripeUnavailable, 503),
    ],
)
def test_every_stripe_error_becomes_one_of_ours(
    error: stripe.StripeError, kind: type[Exception], status: int
) -> None:
    translated = translate(error)
    assert isinstance(translated, kind)
    assert translated.status == status
    assert KEY not in str(translated)


class Scripted:
    """Stands in for the SDK's `client.v1.customers.create`: raises, then answers."""

    def __init__(self, failures: list[stripe.StripeError], answer: dict[str, Any]) -> None:
        self.failures, self.answer = failures, answer
        self.options: list[dict[str, Any]] = []

    def create(self, *, params: dict[str, Any], options: dict[str, Any]) -> Any:
        self.options.append(options)
        if self.failures:
            raise self.failures.pop(0)
        return stripe.StripeObject.construct_from(self.answer, KEY)


def gateway(service: Scripted, slept: list[float], retries: int = 3) -> StripeGateway:
    built = StripeGateway(
        KEY,
        backoff=Backoff(
            retries=retries, base=1.0, cap=3.0, sleep=slept.append, jitter=lambda low, high: high
        ),
    )
    built._client = SimpleNamespace(v1=SimpleNamespace(customers=service))  # type: ignore[assignment]
    return built


def test_a_429_is_retried_with_capped_backoff_and_the_same_key() -> None:
    service = Scripted(
        [sdk_error(stripe.RateLimitError, "slow", http_status=429)] * 3,
        {"id": "cus_1", "livemode": False},
    )
    slept: list[float] = []
    answer = gateway(service, slept).call("customers", "create", idempotency_key="k")
    assert answer.object["id"] == "cus_1"
    assert slept == [1.0, 2.0, 3.0]  # base·2ⁿ, capped (the jitter here returns its maximum)
    assert {o["idempotency_key"] for o in service.options} == {"k"}


def test_429s_past_the_bound_are_rate_limited() -> None:
    service = Scripted(
        [sdk_error(stripe.RateLimitError, "slow", http_status=429)] * 5, {"id": "cus_1"}
    )
    slept: list[float] = []
    with pytest.raises(RateLimited):
        gateway(service, slept, retries=2).call("customers", "create")
    assert len(slept) == 2


def test_an_answer_in_the_other_mode_is_refused() -> None:
    service = Scripted([], {"id": "cus_1", "livemode": True})
    with pytest.raises(ModeMismatch):
        gateway(service, []).call("customers", "create")


def test_the_connect_account_is_sent_as_stripe_account() -> None:
    service = Scripted([], {"id": "cus_1", "livemode": False})
    gateway(service, []).call("customers", "create", account="acct_1")
    assert service.options[0]["stripe_account"] == "acct_1"


def test_the_gateway_never_shows_its_key() -> None:
    built = StripeGateway(KEY)
    assert KEY not in repr(built) and KEY not in str(vars(built).get("_livemode"))
    assert stripe_client.key_mode("rk_live_x") and not stripe_client.key_mode(KEY)


def test_derived_keys_differ_per_step_caller_account_and_key_and_are_stable() -> None:
    base = derived_key("svc", "", "order-1", "create")
    assert base == derived_key("svc", "", "order-1", "create")
    others = {
        derived_key("svc", "", "order-1", "confirm"),
        derived_key("other", "", "order-1", "create"),
        derived_key("svc", "acct_1", "order-1", "create"),
        derived_key("svc", "", "order-2", "create"),
    }
    assert base not in others and len(others) == 4
    assert len(base) <= 255 and "order-1" not in base


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint("p", {"a": 1, "b": 2}) == fingerprint("p", {"b": 2, "a": 1})
    assert fingerprint("p", {"a": 1}) != fingerprint("p", {"a": 2})
    assert fingerprint("p", {"a": 1}) != fingerprint("q", {"a": 1})
