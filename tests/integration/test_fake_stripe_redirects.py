"""The stand-in's iDEAL redirect and wallet cards, as Stripe shapes them: the payment method
types an intent allows, `payment_method_data`, the test bank page, the way back to
`return_url` with Stripe's query, and the signed events of each outcome."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billing_ledger.stripe_api.errors import InvalidRequest
from tests.integration.test_fake_stripe import Stand, customer, stand
from tests.support.stripe import returned_to

__all__ = ["stand"]


def ideal_intent(stand: Stand, **more: Any) -> dict[str, Any]:
    return stand.stripe.call(
        "payment_intents",
        "create",
        params={"amount": 1500, "currency": "eur", "customer": customer(stand), **more},
    ).object


def confirm_ideal(stand: Stand, intent_id: str, bank: str | None = "ing") -> dict[str, Any]:
    data: dict[str, Any] = {"type": "ideal", "ideal": {"bank": bank} if bank else {}}
    return stand.stripe.call(
        "payment_intents",
        "confirm",
        id=intent_id,
        params={"payment_method_data": data, "return_url": "http://shop/pay/x?link=abc"},
    ).object


def test_automatic_methods_offer_what_the_currency_allows(stand: Stand) -> None:
    euros = ideal_intent(stand)
    assert euros["payment_method_types"] == ["card", "ideal", "sepa_debit"]
    assert euros["automatic_payment_methods"]["enabled"] is True
    asked = ideal_intent(stand, payment_method_types=["ideal"])
    assert (asked["payment_method_types"], asked["automatic_payment_methods"]) == (["ideal"], None)
    with pytest.raises(InvalidRequest, match="ideal takes eur only"):
        stand.stripe.call(
            "payment_intents",
            "create",
            params={"amount": 100, "currency": "usd", "payment_method_types": ["ideal"]},
        )
    with pytest.raises(InvalidRequest, match="not allowed for this PaymentIntent"):
        stand.stripe.call(
            "payment_intents",
            "confirm",
            id=asked["id"],
            params={"payment_method": "pm_card_visa", "return_url": "http://shop/x"},
        )


def test_ideal_redirects_to_the_bank_and_back_with_stripes_query(stand: Stand) -> None:
    created = ideal_intent(stand)
    waiting = confirm_ideal(stand, created["id"])
    assert waiting["status"] == "requires_action"
    redirect = waiting["next_action"]["redirect_to_url"]
    assert waiting["next_action"]["type"] == "redirect_to_url"
    assert redirect["url"] == f"{stand.url}/authorize/{created['id']}"
    assert redirect["return_url"] == "http://shop/pay/x?link=abc"
    page = httpx.get(redirect["url"])
    assert page.status_code == 200 and "Authorize test payment" in page.text
    answer = httpx.post(redirect["url"], data={"result": "authorize"})
    assert answer.status_code == 303
    assert returned_to(answer.headers["location"]) == (
        "http://shop/pay/x?link=abc",
        {
            "payment_intent": created["id"],
            "payment_intent_client_secret": created["client_secret"],
            "redirect_status": "succeeded",
        },
    )
    types = stand.received.types("payment_intent.succeeded")
    assert types[-3:] == [
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    charge = stand.received.events[-2]["data"]["object"]
    assert charge["payment_method_details"]["type"] == "ideal"
    assert charge["payment_method_details"]["ideal"] == {"bank": "ing", "bic": "INGBNL2A"}
    method = stand.stripe.call("payment_methods", "retrieve", id=charge["payment_method"]).object
    assert (method["type"], method["ideal"]["bank"]) == ("ideal", "ing")


def test_a_failed_bank_authorization_fails_the_payment_as_stripe_does(stand: Stand) -> None:
    created = ideal_intent(stand)
    waiting = confirm_ideal(stand, created["id"], bank=None)
    answer = httpx.post(waiting["next_action"]["redirect_to_url"]["url"], data={"result": "fail"})
    _, appended = returned_to(answer.headers["location"])
    assert appended["redirect_status"] == "failed"
    types = stand.received.types("payment_intent.payment_failed")
    assert types[-2:] == ["charge.failed", "payment_intent.payment_failed"]
    failed = stand.received.events[-1]["data"]["object"]
    assert (failed["status"], failed["payment_method"]) == ("requires_payment_method", None)
    error = failed["last_payment_error"]
    assert error["code"] == "payment_intent_payment_attempt_failed"
    assert error["payment_method"]["type"] == "ideal"
    again = httpx.post(waiting["next_action"]["redirect_to_url"]["url"])
    assert again.status_code == 400 and "nothing to authorize" in again.json()["error"]["message"]
    retried = stand.stripe.call(
        "payment_intents",
        "confirm",
        id=created["id"],
        params={"payment_method": "pm_card_visa", "return_url": "http://shop/x"},
    ).object
    assert retried["status"] == "succeeded"


def test_ideal_needs_a_return_url_and_a_known_bank(stand: Stand) -> None:
    created = ideal_intent(stand)
    with pytest.raises(InvalidRequest, match="return_url is required"):
        stand.stripe.call(
            "payment_intents",
            "confirm",
            id=created["id"],
            params={"payment_method_data": {"type": "ideal"}},
        )
    with pytest.raises(InvalidRequest, match="Invalid ideal\\[bank\\]"):
        confirm_ideal(stand, created["id"], bank="nobank")


@pytest.mark.parametrize("wallet", ["apple_pay", "google_pay"])
def test_a_wallet_hands_over_a_card_that_names_it(stand: Stand, wallet: str) -> None:
    created = ideal_intent(stand)
    paid = stand.stripe.call(
        "payment_intents",
        "confirm",
        id=created["id"],
        params={
            "payment_method_data": {"type": "card", "card": {"token": f"tok_visa_{wallet}"}},
            "return_url": "http://shop/x",
        },
    ).object
    assert paid["status"] == "succeeded"
    method = stand.stripe.call("payment_methods", "retrieve", id=paid["payment_method"]).object
    card = method["card"]
    assert (method["type"], card["brand"], card["last4"]) == ("card", "visa", "4242")
    assert card["wallet"]["type"] == wallet and wallet in card["wallet"]
