"""The secure payment form, clicked through as a customer: a card that succeeds, one that is
declined, one that asks for 3-D Secure, a SEPA debit; each outcome in the billing tables."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.pages.conftest import Shop, Visit, enter_card

pytestmark = pytest.mark.browser


def test_a_card_payment_succeeds_and_its_row_arrives(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("form-visa")
    assert waiting["status"] == "requires_payment_method"
    page = visit.page
    page.goto(waiting["confirmation_url"])
    assert "link=" not in page.url  # the token left the address bar for a session cookie
    expect(page.get_by_test_id("amount")).to_have_text("€20.00")
    expect(page.get_by_test_id("payment-element")).to_be_visible()
    visit.shot("form")
    enter_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    assert re.fullmatch(rf"{shop.up.base_url}/pay/{waiting['id']}", page.url)
    visit.shot("succeeded")
    row = shop.payment_row(waiting["id"], "succeeded")
    assert (row["amount"], row["currency"], row["payment_method_type"]) == (2000, "eur", "card")


def test_a_declined_card_shows_a_readable_reason(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("form-declined")
    page = visit.page
    page.goto(waiting["confirmation_url"])
    enter_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    visit.shot("declined")
    row = shop.payment_row(waiting["id"], "requires_payment_method")
    failed = shop.payment_row(waiting["id"], row["status"])
    assert failed["id"] == row["id"]
    page.reload()  # the page reads the outcome from Stripe, with what to do next
    expect(page.get_by_test_id("failure")).to_have_text(
        "Your card was declined. Try another card or contact your bank."
    )
    visit.shot("declined-reloaded")
    enter_card(page, "4242424242424242")  # and another card then pays
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    shop.payment_row(waiting["id"], "succeeded")


def test_insufficient_funds_and_an_invalid_number_are_said_so(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("form-funds")
    page = visit.page
    page.goto(waiting["confirmation_url"])
    enter_card(page, "4000 0000 0000 1234")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("alert")).to_have_text("Your card number is invalid.")
    enter_card(page, "4000000000009995")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("alert")).to_have_text("Your card has insufficient funds.")


def test_a_3d_secure_card_shows_the_challenge_then_succeeds(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("form-3ds")
    page = visit.page
    page.goto(waiting["confirmation_url"])
    enter_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("heading", name="Test 3-D Secure challenge")).to_be_visible()
    assert page.url.startswith(shop.stripe.base_url)
    visit.shot("challenge")
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    assert page.url == f"{shop.up.base_url}/pay/{waiting['id']}"
    shop.payment_row(waiting["id"], "succeeded")


def test_the_confirmation_url_of_requires_action_completes_3d_secure(
    shop: Shop, visit: Visit
) -> None:
    waiting = shop.payment("api-3ds", "pm_card_authenticationRequired")
    assert waiting["status"] == "requires_action"
    page = visit.page
    page.goto(waiting["confirmation_url"])
    expect(page.get_by_role("heading", name="Confirm with your bank")).to_be_visible()
    visit.shot("action")
    page.get_by_role("button", name="Continue to your bank").click()
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    shop.payment_row(waiting["id"], "succeeded")


def test_a_failed_challenge_says_why_and_lets_the_customer_retry(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("form-3ds-fail")
    page = visit.page
    page.goto(waiting["confirmation_url"])
    enter_card(page, "4000002500003155")
    page.get_by_role("button", name="Pay €20.00").click()
    page.get_by_role("button", name="Fail").click()
    expect(page.get_by_test_id("failure")).to_contain_text("could not confirm this payment")
    visit.shot("challenge-failed")


def test_sepa_debit_shows_processing_then_succeeds_in_the_tables(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("form-sepa")
    page = visit.page
    page.goto(waiting["confirmation_url"])
    page.get_by_role("tab", name="SEPA Debit").click()
    page.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("heading", name="Payment processing")).to_be_visible()
    visit.shot("processing")
    assert shop.payment_row(waiting["id"], "processing")["payment_method_type"] == "sepa_debit"
    shop.payment_row(waiting["id"], "succeeded")
    page.reload()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()


def test_the_form_is_usable_at_a_phone_width(shop: Shop, phone: Visit) -> None:
    waiting = shop.payment("phone")
    page = phone.page
    page.goto(waiting["confirmation_url"])
    expect(page.get_by_test_id("payment-element")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    button = page.get_by_role("button", name="Pay €20.00").bounding_box()
    assert button is not None and button["width"] >= 280 and button["height"] >= 40
    phone.shot("form")
    enter_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay €20.00").tap()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.shot("succeeded")


def test_the_page_carries_its_security_headers_and_no_secret(shop: Shop) -> None:
    waiting = shop.payment("headers")
    with httpx.Client(base_url=shop.up.base_url) as client:
        opened = client.get(waiting["confirmation_url"].removeprefix(shop.up.base_url))
        assert opened.status_code == 303 and opened.headers["location"] == f"/pay/{waiting['id']}"
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        page = client.get(f"/pay/{waiting['id']}")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert f"script-src 'self' {shop.stripe.base_url}" in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert "_secret_" not in page.text and waiting["client_secret"] not in page.text
    assert "<script>" not in page.text  # no inline script: the CSP allows none
