"""Pure parts of the write side: what a payment answers, Stripe's form bodies as the stand-in
reads them, scopes, which app a path reaches, and the setups and verifications refused
before Stripe is asked."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from billing_ledger.stripe_api.fake.formdata import decode
from billing_ledger.stripe_api.intents import payment_outcome
from billing_ledger.stripe_api.requests import MandateAcceptance, MicrodepositVerification, NewSetup
from billing_ledger.web.mount import with_api
from billing_ledger.web.tokens import TokenError, digest, parse_scopes

PUBLIC = "https://shop.example"


def intent(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "status": status,
        "amount": 900,
        "currency": "eur",
        "customer": "cus_1",
        "payment_method": "pm_1",
        "client_secret": "pi_1_secret_s",
        **fields,
    }


@pytest.mark.parametrize(
    ("status", "http", "answered"),
    [
        ("succeeded", 201, "succeeded"),
        ("processing", 202, "processing"),
        ("requires_action", 202, "requires_action"),
    ],
)
def test_a_payment_answers_one_of_its_states(status: str, http: int, answered: str) -> None:
    outcome = payment_outcome(intent(status, next_action={"type": "redirect_to_url"}), PUBLIC)
    assert (outcome.status, outcome.body["status"]) == (http, answered)
    if status == "requires_action":
        assert outcome.private == {
            "confirmation_url": f"{PUBLIC}/pay/pi_1",
            "client_secret": "pi_1_secret_s",
            "next_action": {"type": "redirect_to_url"},
        }
    else:
        assert outcome.private == {}
    assert "client_secret" not in outcome.body  # what is recorded holds no secret
    assert "confirmation_url" not in outcome.body  # nor the signed link to the page


def test_a_payment_created_without_a_method_answers_the_page_to_pay_on() -> None:
    outcome = payment_outcome(intent("requires_payment_method"), PUBLIC)
    assert (outcome.status, outcome.body["status"]) == (202, "requires_payment_method")
    assert outcome.answer()["confirmation_url"] == f"{PUBLIC}/pay/pi_1"


def test_a_failed_payment_carries_stripes_codes_and_message() -> None:
    error = {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    outcome = payment_outcome(intent("requires_payment_method", last_payment_error=error), PUBLIC)
    assert outcome.status == 402
    assert {k: outcome.body[k] for k in ("status", "code", "decline_code", "error")} == {
        "status": "failed",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "error": "Your card has insufficient funds.",
    }


def test_an_unexpected_state_is_not_dressed_up_as_one_of_the_four() -> None:
    assert payment_outcome(intent("requires_capture"), PUBLIC).status == 502


def test_stripes_bracketed_form_bodies_decode_to_nested_objects() -> None:
    body = (
        "email=a%40b.c&metadata[user_id]=u1&tax_id_data[0][type]=eu_vat"
        "&tax_id_data[0][value]=DE1&payment_method_types[0]=card"
        "&invoice_settings[default_payment_method]="
    )
    assert decode(body) == {
        "email": "a@b.c",
        "metadata": {"user_id": "u1"},
        "tax_id_data": [{"type": "eu_vat", "value": "DE1"}],
        "payment_method_types": ["card"],
        "invoice_settings": {"default_payment_method": ""},
    }


@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        st.from_regex(r"[a-z0-9]{0,8}", fullmatch=True),
    )
)
def test_flat_form_bodies_decode_to_themselves(fields: dict[str, str]) -> None:
    from urllib.parse import urlencode

    assert decode(urlencode(fields)) == fields


def test_scopes_are_a_fixed_set() -> None:
    assert parse_scopes("read, payments:write") == {"read", "payments:write"}
    for bad in ("", "admin", "read,everything"):
        with pytest.raises(TokenError):
            parse_scopes(bad)
    assert digest("blt_x") != "blt_x" and len(digest("blt_x")) == 64


def test_the_api_prefix_reaches_the_api_and_everything_else_the_edge() -> None:
    def answering(name: str) -> Starlette:
        async def answer(request: Request) -> Response:
            return PlainTextResponse(name)

        return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])

    async def reached(method: str, path: str) -> str:
        transport = httpx.ASGITransport(app=with_api(answering("edge"), answering("api")))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.request(method, path)).text

    assert asyncio.run(reached("GET", "/api/v1/openapi.json")) == "api"
    assert asyncio.run(reached("GET", "/api/v1")) == "api"
    assert asyncio.run(reached("POST", "/webhooks/stripe")) == "edge"
    assert asyncio.run(reached("GET", "/api/v10/x")) == "edge"
    assert asyncio.run(reached("GET", "/healthz")) == "edge"


ACCEPTED = MandateAcceptance(ip_address="203.0.113.7", user_agent="ua")


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"type": "sepa_debit", "payment_method": "pm_sepa_debit"}, "mandate"),
        ({"type": "us_bank_account", "payment_method": "pm_usBankAccount"}, "mandate"),
        ({"type": "card", "verification_method": "microdeposits"}, "us_bank_account"),
        ({"type": "paypal"}, "type"),
    ],
)
def test_a_setup_is_refused_before_stripe_when_stripe_would_refuse_it(
    fields: dict[str, Any], refused: str
) -> None:
    with pytest.raises(ValidationError, match=refused):
        NewSetup(**fields)


def test_debits_are_saved_with_their_mandate_and_cards_or_unconfirmed_setups_without() -> None:
    assert NewSetup(type="sepa_debit", payment_method="pm_sepa_debit", mandate=ACCEPTED).mandate
    assert NewSetup(type="us_bank_account").mandate is None  # confirmed later, by Stripe.js
    assert NewSetup(payment_method="pm_card_visa").type == "card"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"amounts": [32]},
        {"amounts": [32, 45, 1]},
        {"amounts": [0, 45]},
        {"amounts": [32, 100]},
        {"descriptor_code": "SM11A"},
        {"descriptor_code": "XX11AA"},
        {"amounts": [32, 45], "descriptor_code": "SM11AA"},
    ],
)
def test_microdeposits_are_two_amounts_in_cents_or_one_descriptor_code(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError):
        MicrodepositVerification(**fields)
    assert MicrodepositVerification(amounts=[32, 45]).amounts == [32, 45]
    assert MicrodepositVerification(descriptor_code="SM11AA").descriptor_code == "SM11AA"
