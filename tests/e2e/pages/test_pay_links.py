"""A fresh pay link for an old intent, outside any portal session: over HTTP
(`POST /api/v1/payments/{pi}/pay_links`) and from the CLI (`pay-link`), refused for an intent
with nothing left to pay or an unknown one; the link opens the payment in the browser and
3-D Secure comes back to it although the intent's own link has long expired."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from billing_ledger.web.pages.links import LinkSigner
from tests.e2e.pages.conftest import Shop, Visit, enter_card
from tests.support.webhooks import LINK_SECRET

pytestmark = pytest.mark.browser
SIGNER = LinkSigner(LINK_SECRET.encode())
DAY = 86400


def old_intent(shop: Shop, key: str) -> dict[str, Any]:
    """A payment created ten days ago (on a test clock): its confirmation_url has expired."""
    clock = shop.stand_in(
        "POST", "/test_helpers/test_clocks", frozen_time=int(time.time()) - 10 * DAY
    )
    customer = shop.stand_in(
        "POST", "/customers", email=f"{key}@example.com", test_clock=clock["id"]
    )
    return shop.stand_in(
        "POST", "/payment_intents", customer=customer["id"], amount=3100, currency="eur"
    )


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["link"][0]


def test_a_fresh_link_over_http_is_the_intents_customers_and_expires(shop: Shop) -> None:
    intent = old_intent(shop, "fresh-http")
    before = int(time.time())
    made = shop.post(f"/payments/{intent['id']}/pay_links", {"expires_in": 600}, "fresh-http")
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("object", "payment", "customer", "status", "livemode")} == {
        "object": "pay_link",
        "payment": intent["id"],
        "customer": intent["customer"],
        "status": "requires_payment_method",
        "livemode": False,
    }
    assert before + 600 <= body["expires_at"] <= int(time.time()) + 600
    assert body["url"].startswith(f"{shop.up.base_url}/pay/{intent['id']}?link=")
    link = SIGNER.verify(token_of(body["url"]), time.time())
    assert (link.customer, link.scope, link.expires) == (
        intent["customer"],
        f"pay:{intent['id']}",
        body["expires_at"],
    )
    again = shop.post(f"/payments/{intent['id']}/pay_links", {}, "fresh-http-2")
    assert again.status_code == 201 and again.json()["url"] != body["url"]  # a new one each time


def test_no_link_for_a_paid_an_unknown_or_a_malformed_request(shop: Shop) -> None:
    paid = shop.post(
        "/payments",
        {
            "customer": shop.customer("paid-link"),
            "amount": 900,
            "currency": "eur",
            "payment_method": "pm_card_visa",
        },
        "paid-link",
    )
    assert paid.status_code == 201, paid.text
    refused = shop.post(f"/payments/{paid.json()['id']}/pay_links", {}, "paid-link-1")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": f"payment {paid.json()['id']} is succeeded: there is nothing left to pay"
    }
    unknown = shop.post("/payments/pi_NoSuchIntent1/pay_links", {}, "unknown-link")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no payment pi_NoSuchIntent1 at Stripe"}
    short = shop.post("/payments/pi_NoSuchIntent1/pay_links", {"expires_in": 5}, "short-link")
    assert short.status_code == 422 and "expires_in" in short.json()["error"]
    assert shop.post("/payments/not-an-id/pay_links", {}, "bad-id").status_code == 404


def test_the_cli_prints_a_fresh_link_or_says_why_not(shop: Shop) -> None:
    intent = old_intent(shop, "fresh-cli")
    made = shop.cli("pay-link", intent["id"], "--expires", "2h")
    assert made.returncode == 0, made.stderr
    link = SIGNER.verify(token_of(made.stdout.strip()), time.time())
    assert link.customer == intent["customer"]
    assert abs(link.expires - (time.time() + 7200)) < 120
    unknown = shop.cli("pay-link", "pi_NoSuchIntent2")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    said = unknown.stderr.strip().splitlines()[-1]  # after the debug lines the env asks for
    assert said == "billing-ledger: pay-link: no payment pi_NoSuchIntent2 at Stripe"
    confirmed = shop.stand_in(
        "POST", f"/payment_intents/{intent['id']}/confirm", payment_method="pm_card_visa"
    )
    assert confirmed["status"] == "succeeded"
    paid = shop.cli("pay-link", intent["id"])
    assert paid.returncode == 1
    assert (
        paid.stderr.strip().splitlines()[-1].endswith("is succeeded: there is nothing left to pay")
    )
    assert token_of(made.stdout.strip()) not in made.stderr + paid.stderr  # never logged
    assert shop.cli("pay-link", intent["id"], "--expires", "40d").returncode == 2


def test_the_fresh_link_opens_the_old_payment_and_3d_secure_returns_to_it(
    shop: Shop, visit: Visit
) -> None:
    intent = old_intent(shop, "fresh-browser")
    made = shop.post(f"/payments/{intent['id']}/pay_links", {}, "fresh-browser")
    assert made.status_code == 201, made.text
    page = visit.page
    page.goto(made.json()["url"])
    expect(page.get_by_test_id("amount")).to_have_text("€31.00")
    visit.shot("form")
    enter_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay €31.00").click()
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    assert page.url == f"{shop.up.base_url}/pay/{intent['id']}"
    visit.shot("succeeded")
    shop.payment_row(str(intent["id"]), "succeeded")
