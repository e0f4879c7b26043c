"""Bank payments, clicked through. iDEAL: the Payment Element's iDEAL tab, the bank's (the
stand-in's test bank page) authorize and fail buttons, the way back to our page with Stripe's
query, the outcome read from Stripe. ACH: a dollar payment's bank account entered by hand,
processing, then succeeded. Each in the billing tables, from the stand-in's webhooks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Request, expect

from tests.e2e.pages.conftest import Shop, Visit, enter_card

pytestmark = pytest.mark.browser


def returns_to_us(visit: Visit, shop: Shop) -> list[dict[str, list[str]]]:
    """The queries of every navigation to our payment page (Stripe's return among them)."""
    seen: list[dict[str, list[str]]] = []

    def navigated(request: Request) -> None:
        if request.is_navigation_request() and request.url.startswith(f"{shop.up.base_url}/pay/"):
            seen.append(parse_qs(urlsplit(request.url).query))

    visit.page.on("request", navigated)
    return seen


def pay_with_ideal(visit: Visit, shop: Shop, key: str) -> dict[str, object]:
    waiting = shop.payment(key)
    page = visit.page
    page.goto(str(waiting["confirmation_url"]))
    page.get_by_role("tab", name="iDEAL").click()
    page.get_by_label("iDEAL bank").select_option("ing")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("heading", name="iDEAL test payment")).to_be_visible()
    assert page.url == f"{shop.stripe.base_url}/authorize/{waiting['id']}"
    return waiting


def test_ideal_authorized_at_the_bank_succeeds(shop: Shop, visit: Visit) -> None:
    returns = returns_to_us(visit, shop)
    waiting = pay_with_ideal(visit, shop, "ideal-ok")
    visit.shot("bank")
    visit.page.get_by_role("button", name="Authorize test payment").click()
    expect(visit.page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    assert visit.page.url == f"{shop.up.base_url}/pay/{waiting['id']}"  # no secret left there
    back = next(q for q in returns if "redirect_status" in q)
    assert back["payment_intent"] == [waiting["id"]]
    assert back["payment_intent_client_secret"] == [waiting["client_secret"]]
    assert back["redirect_status"] == ["succeeded"]
    visit.shot("succeeded")
    row = shop.payment_row(str(waiting["id"]), "succeeded")
    assert (row["amount"], row["payment_method_type"]) == (2000, "ideal")
    assert row["receipt_url"]  # from charge.succeeded


def test_ideal_failed_at_the_bank_says_so_and_another_method_pays(shop: Shop, visit: Visit) -> None:
    returns = returns_to_us(visit, shop)
    waiting = pay_with_ideal(visit, shop, "ideal-fail")
    visit.page.get_by_role("button", name="Fail test payment").click()
    page = visit.page
    expect(page.get_by_role("heading", name="Payment failed")).to_be_visible()
    expect(page.get_by_test_id("failure")).to_have_text(
        "Your bank did not authorize this payment, so nothing was charged. "
        "Try again or choose another payment method."
    )
    assert next(q for q in returns if "redirect_status" in q)["redirect_status"] == ["failed"]
    visit.shot("failed")
    row = shop.payment_row(str(waiting["id"]), "requires_payment_method")
    assert row["failure_code"] == "payment_intent_payment_attempt_failed"
    enter_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    shop.payment_row(str(waiting["id"]), "succeeded")


def test_an_ach_debit_entered_by_hand_is_processing_then_succeeds(shop: Shop, visit: Visit) -> None:
    made = shop.post(
        "/payments",
        {"customer": shop.customer("ach-form"), "amount": 2000, "currency": "usd"},
        "payment-ach-form",
    )
    assert made.status_code == 202, made.text
    waiting = made.json()
    page = visit.page
    page.goto(waiting["confirmation_url"])
    expect(page.get_by_role("tab")).to_have_text(["Card", "US bank account"])  # what usd allows
    page.get_by_role("tab", name="US bank account").click()
    page.get_by_label("Routing number").fill("110000000")
    page.get_by_label("Account number").fill("000123456780")
    amount = page.get_by_test_id("amount").inner_text()
    page.get_by_role("button", name=f"Pay {amount}").click()
    expect(page.get_by_role("alert")).to_have_text("Your bank account details are invalid.")
    page.get_by_label("Account number").fill("000123456789")
    page.get_by_role("button", name=f"Pay {amount}").click()
    expect(page.get_by_role("heading", name="Payment processing")).to_be_visible()
    visit.shot("ach-processing")
    row = shop.payment_row(waiting["id"], "processing")
    assert row["payment_method_type"] == "us_bank_account"
    shop.payment_row(waiting["id"], "succeeded")
    assert "000123456789" not in page.content()
