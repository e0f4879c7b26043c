"""Apple Pay and Google Pay where the browser offers them: the Payment Element (the Stripe.js
double) shows a wallet only when the browser says it can pay with it, a wallet payment is a
card PaymentMethod naming its wallet, and the payment methods page lists the wallet."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages.conftest import Shop, Visit
from tests.e2e.test_webhook_to_tables import rows

pytestmark = pytest.mark.browser


def offer_wallets(visit: Visit, *wallets: str) -> None:
    """What the browser offers, declared before any page loads (a headless browser offers no
    wallet; Stripe.js's double reads this where Stripe.js would ask the browser)."""
    listed = ", ".join(f'"{w}"' for w in wallets)
    visit.page.context.add_init_script(f"window.__stripeStandIn = {{ wallets: [{listed}] }};")


def test_no_wallet_is_shown_where_the_browser_offers_none(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("wallet-none")
    visit.page.goto(str(waiting["confirmation_url"]))
    expect(visit.page.get_by_role("tab", name="Card")).to_be_visible()
    expect(visit.page.get_by_role("tab", name="Apple Pay")).to_have_count(0)
    expect(visit.page.get_by_role("tab", name="Google Pay")).to_have_count(0)


def test_google_pay_pays_with_a_card_that_names_the_wallet(shop: Shop, visit: Visit) -> None:
    offer_wallets(visit, "google_pay")
    waiting = shop.payment("wallet-google")
    page = visit.page
    page.goto(str(waiting["confirmation_url"]))
    expect(page.get_by_role("tab", name="Apple Pay")).to_have_count(0)  # not offered
    page.get_by_role("tab", name="Google Pay").click()
    visit.shot("google-pay")
    page.get_by_role("button", name="Pay €20.00").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    row = shop.payment_row(str(waiting["id"]), "succeeded")
    assert (row["payment_method_type"], row["wallet"]) == ("card", "google_pay")


def test_a_card_saved_with_apple_pay_is_listed_with_its_wallet(shop: Shop, visit: Visit) -> None:
    offer_wallets(visit, "apple_pay", "google_pay")
    customer = shop.customer("wallet-saved")
    page = visit.page
    page.goto(shop.portal_link(customer))
    page.get_by_role("button", name="Add a payment method").click()
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_text(["Apple Pay", "Google Pay", "Card"])
    page.get_by_role("tab", name="Apple Pay").click()
    visit.shot("apple-pay")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Payment method saved")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Visa •••• 4242 (Apple Pay)")
    page.get_by_role("link", name="Back to payment methods").click()
    saved = page.locator("li", has_text="Visa •••• 4242")
    expect(saved).to_contain_text("Expires 12/34 · Apple Pay")
    visit.shot("listed")
    assert "4242 4242" not in page.content()  # never a number
    found = rows(
        shop.dsn,
        "SELECT p.wallet, p.type FROM billing.payment_methods p "
        "JOIN billing.stripe_customers c ON c.id = p.customer_id "
        "WHERE c.stripe_customer_id = %s",
        customer,
    )
    assert [(r["wallet"], r["type"]) for r in found] == [("apple_pay", "card")]
