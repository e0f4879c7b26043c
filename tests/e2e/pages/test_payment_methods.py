"""The payment method manager, clicked through: the list with the default marked, add a card
through a SetupIntent, make another the default, remove one; the tables follow by webhook."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages.conftest import Shop, Visit, enter_card
from tests.e2e.test_webhook_to_tables import rows

pytestmark = pytest.mark.browser


def test_add_make_default_and_remove_a_payment_method(shop: Shop, visit: Visit) -> None:
    customer = shop.customer("portal", "pm_card_visa")
    rows(
        shop.dsn,
        "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = %s "
        "AND default_payment_method IS NOT NULL",
        customer,
    )
    page = visit.page
    page.goto(shop.portal_link(customer))
    assert page.url == f"{shop.up.base_url}/portal/payment-methods"
    visa = page.locator("li", has_text="Visa •••• 4242")
    expect(visa).to_contain_text("Expires 12/34")
    expect(visa.get_by_test_id("default")).to_have_text("Default")
    visit.shot("list")

    page.get_by_role("button", name="Add a payment method").click()
    expect(page.get_by_role("heading", name="Add a payment method")).to_be_visible()
    visit.shot("add")
    enter_card(page, "5555 5555 5555 4444")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Payment method saved")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Mastercard •••• 4444")
    visit.shot("saved")
    page.get_by_role("link", name="Back to payment methods").click()
    mastercard = page.locator("li", has_text="Mastercard •••• 4444")
    expect(mastercard).to_be_visible()
    expect(mastercard.get_by_test_id("default")).to_have_count(0)

    mastercard.get_by_role("button", name="Make default").click()
    expect(page.get_by_test_id("notice")).to_have_text("Your default payment method was changed.")
    mastercard = page.locator("li", has_text="Mastercard •••• 4444")
    expect(mastercard.get_by_test_id("default")).to_be_visible()
    expect(page.get_by_test_id("default")).to_have_count(1)
    visit.shot("default-changed")
    new_default = mastercard.get_attribute("data-method")
    assert rows(
        shop.dsn,
        "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = %s "
        "AND default_payment_method = %s",
        customer,
        new_default,
    )

    visa = page.locator("li", has_text="Visa •••• 4242")
    removed = visa.get_attribute("data-method")
    visa.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("notice")).to_have_text("The payment method was removed.")
    expect(page.locator("li", has_text="Visa •••• 4242")).to_have_count(0)
    expect(page.locator("li.method")).to_have_count(1)
    visit.shot("removed")
    assert rows(
        shop.dsn,
        "SELECT 1 FROM billing.payment_methods WHERE stripe_payment_method_id = %s "
        "AND status = 'detached'",
        removed,
    )
    changes = rows(
        shop.dsn,
        "SELECT action, outcome FROM billing.audit_log WHERE actor = %s ORDER BY id",
        f"portal:{customer}",
        expect=3,
    )
    assert [tuple(c.values()) for c in changes] == [
        ("portal.setup_intents.create", "202"),
        ("portal.payment_methods.default", "200"),
        ("portal.payment_methods.remove", "200"),
    ]


def test_a_declined_card_is_not_saved_and_says_why(shop: Shop, visit: Visit) -> None:
    customer = shop.customer("portal-declined")
    page = visit.page
    page.goto(shop.portal_link(customer))
    expect(page.get_by_test_id("no-methods")).to_be_visible()
    page.get_by_role("button", name="Add a payment method").click()
    enter_card(page, "4000000000000002")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    visit.shot("declined")


def test_a_3d_secure_card_is_saved_after_its_challenge(shop: Shop, visit: Visit) -> None:
    customer = shop.customer("portal-3ds")
    page = visit.page
    page.goto(shop.portal_link(customer))
    page.get_by_role("button", name="Add a payment method").click()
    enter_card(page, "4000002500003155")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("heading", name="Payment method saved")).to_be_visible()
    page.get_by_role("link", name="Back to payment methods").click()
    expect(page.locator("li", has_text="Visa •••• 3184")).to_be_visible()


def test_the_list_is_usable_at_a_phone_width(shop: Shop, phone: Visit) -> None:
    customer = shop.customer("portal-phone", "pm_card_visa")
    rows(
        shop.dsn,
        "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = %s "
        "AND default_payment_method IS NOT NULL",
        customer,
    )
    page = phone.page
    page.goto(shop.portal_link(customer))
    expect(page.locator("li", has_text="Visa •••• 4242")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.shot("list")


def test_bank_accounts_are_listed_by_bank_and_last4_never_a_number(
    shop: Shop, visit: Visit
) -> None:
    customer = shop.customer("portal-banks")
    mandate = {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"}
    for key, body in (
        ("sepa", {"type": "sepa_debit", "payment_method": "pm_sepa_debit"}),
        ("ach", {"type": "us_bank_account", "payment_method": "pm_usBankAccount"}),
    ):
        saved = shop.post(
            f"/customers/{customer}/setup_intents", {**body, "mandate": mandate}, f"banks-{key}"
        )
        assert saved.status_code in (201, 202), saved.text
    listed = rows(
        shop.dsn,
        "SELECT 1 FROM billing.payment_methods p JOIN billing.stripe_customers c "
        "ON c.id = p.customer_id WHERE c.stripe_customer_id = %s AND p.bank_last4 IS NOT NULL",
        customer,
        expect=2,
    )
    assert len(listed) == 2
    page = visit.page
    page.goto(shop.portal_link(customer))
    expect(page.locator("li", has_text="SEPA Debit •••• 3000")).to_be_visible()
    ach = page.locator("li", has_text="US bank account •••• 6789")
    expect(ach.get_by_test_id("bank")).to_have_text("Stripe Test Bank")
    visit.shot("banks")
    assert "370400440532013000" not in page.content() and "110000000" not in page.content()
