"""The subscription overview, clicked through: price and next invoice, cancel at period end
and resume, a plan change previewed then confirmed, the past-due banner and its pay link,
another customer's subscription out of reach; the tables follow by webhook."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.pages.conftest import Shop, Visit, enter_card
from tests.e2e.test_webhook_to_tables import rows

pytestmark = pytest.mark.browser

JAN = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400


def subscription_row(shop: Shop, sub: str, condition: str = "true") -> dict[str, Any]:
    found = rows(
        shop.dsn,
        f"SELECT * FROM billing.subscriptions WHERE stripe_subscription_id = %s AND {condition}",
        sub,
        timeout=30,
    )
    assert found, f"no row of {sub} where {condition}"
    return found[0]


def clocked(shop: Shop, key: str, method: str | None = None) -> tuple[str, str]:
    """A test clock at 1 January 2026 and a customer on it (with `method` as its default)."""
    clock = shop.stand_in("POST", "/test_helpers/test_clocks", frozen_time=JAN, name=key)
    customer = shop.stand_in(
        "POST", "/customers", email=f"{key}@example.com", name=key, test_clock=clock["id"]
    )
    if method is not None:
        attached = shop.post(
            f"/customers/{customer['id']}/payment_methods",
            {"payment_method": method, "default": True},
            f"attach-{key}",
        )
        assert attached.status_code == 200, attached.text
    return str(clock["id"]), str(customer["id"])


def test_the_overview_shows_price_and_next_invoice_then_cancel_and_resume(
    shop: Shop, visit: Visit
) -> None:
    _, customer = clocked(shop, "sub-overview", "pm_card_visa")
    sub = shop.subscribe("sub-overview", customer, shop.plan(1500, "Solo"), quantity=2)
    assert sub["status"] == "active", sub
    subscription_row(shop, sub["id"], "status = 'active'")
    page = visit.page
    page.goto(shop.portal_link(customer))
    page.get_by_role("link", name="Subscriptions").click()
    assert page.url == f"{shop.up.base_url}/portal/subscriptions"
    card = page.locator("section.subscription", has_text="Solo")
    expect(card.get_by_test_id("status")).to_have_text("Active")
    expect(card.get_by_test_id("price")).to_have_text("€15.00 × 2 per month")
    expect(card.get_by_test_id("next-invoice")).to_contain_text("€30.00")
    expect(card.get_by_test_id("next-invoice")).to_contain_text("1 Feb 2026")
    expect(page.get_by_test_id("invoices")).to_contain_text("€30.00")
    expect(page.get_by_test_id("invoices").get_by_role("link", name="PDF")).to_have_count(1)
    expect(page.get_by_test_id("payments")).to_contain_text("Succeeded")
    visit.shot("overview")

    card.get_by_role("button", name="Cancel at period end").click()
    expect(page.get_by_test_id("notice")).to_have_text(
        "Your subscription will end at the end of this period."
    )
    card = page.locator("section.subscription", has_text="Solo")
    expect(card.get_by_test_id("ending")).to_contain_text("Ends 1 Feb 2026")
    subscription_row(shop, sub["id"], "cancel_at_period_end")
    visit.shot("ending")

    card.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("notice")).to_have_text("Your subscription continues.")
    card = page.locator("section.subscription", has_text="Solo")
    expect(card.get_by_test_id("ending")).to_have_count(0)
    subscription_row(shop, sub["id"], "NOT cancel_at_period_end")
    changes = rows(
        shop.dsn,
        "SELECT action, outcome FROM billing.audit_log WHERE actor = %s ORDER BY id",
        f"portal:{customer}",
        expect=2,
    )
    assert [tuple(c.values()) for c in changes] == [
        ("portal.subscriptions.cancel", "200"),
        ("portal.subscriptions.resume", "200"),
    ]


def test_a_plan_change_shows_its_preview_then_the_new_price(shop: Shop, visit: Visit) -> None:
    _, customer = clocked(shop, "sub-change", "pm_card_visa")
    sub = shop.subscribe("sub-change", customer, shop.plan(3000, "Team"))
    dearer = shop.plan(6000, "Business")
    subscription_row(shop, sub["id"], "status = 'active'")
    page = visit.page
    page.goto(shop.portal_link(customer))
    page.goto(f"{shop.up.base_url}/portal/subscriptions")
    card = page.locator("section.subscription", has_text="Team")
    card.get_by_label("Change plan").select_option(dearer)
    card.get_by_role("button", name="Preview the change").click()
    expected = shop.post(f"/subscriptions/{sub['id']}/preview", {"price": dearer}, "preview-t")
    assert expected.status_code == 200, expected.text
    total = expected.json()["total"]
    expect(page.get_by_role("heading", name="Change to Business")).to_be_visible()
    expect(page.get_by_test_id("preview-total")).to_have_text(f"€{total // 100}.{total % 100:02d}")
    expect(page.get_by_test_id("preview-lines")).to_contain_text("−")  # the unused time's credit
    visit.shot("preview")
    page.get_by_role("button", name="Confirm the change").click()
    expect(page.get_by_test_id("notice")).to_have_text("Your plan was changed.")
    expect(page.locator("section.subscription", has_text="Business")).to_be_visible()
    expect(page.get_by_test_id("price")).to_have_text("€60.00 per month")
    subscription_row(shop, sub["id"], f"plan_id = '{dearer}'")
    assert rows(
        shop.dsn,
        "SELECT 1 FROM billing.subscription_items WHERE price_id = %s AND unit_amount = 6000",
        dearer,
    )


def test_a_past_due_subscription_shows_the_banner_and_its_pay_link_works(
    shop: Shop, visit: Visit
) -> None:
    clock, customer = clocked(shop, "sub-past-due")
    sub = shop.subscribe("sub-past-due", customer, shop.plan(900, "Trial"), trial_days=14)
    subscription_row(shop, sub["id"], "status = 'trialing'")
    page = visit.page
    page.goto(shop.portal_link(customer))
    page.goto(f"{shop.up.base_url}/portal/subscriptions")
    expect(page.get_by_test_id("trial-end")).to_have_text("Trial ends 15 Jan 2026")
    expect(page.get_by_test_id("next-invoice")).to_have_text("Next invoice €9.00 on 15 Jan 2026")
    visit.shot("trialing")
    advanced = shop.stand_in(
        "POST", f"/test_helpers/test_clocks/{clock}/advance", frozen_time=JAN + 20 * DAY
    )
    assert advanced["status"] == "ready"
    subscription_row(shop, sub["id"], "status = 'past_due'")
    open_invoice = rows(
        shop.dsn,
        "SELECT stripe_invoice_id FROM billing.invoices WHERE status = 'open' AND "
        "subscription_id = (SELECT id FROM billing.subscriptions "
        "WHERE stripe_subscription_id = %s)",
        sub["id"],
        timeout=30,
    )[0]["stripe_invoice_id"]
    payments = shop.stand_in("GET", "/invoices/" + open_invoice)
    assert payments["status"] == "open"
    page.goto(f"{shop.up.base_url}/portal/subscriptions")
    banner = page.get_by_test_id("past-due")
    expect(banner).to_contain_text("€9.00")
    expect(page.locator("section.subscription").get_by_test_id("status")).to_have_text("Past due")
    visit.shot("past-due")
    banner.get_by_role("link", name="Pay now").click()
    assert page.url.startswith(f"{shop.up.base_url}/pay/pi_")
    enter_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay €9.00").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    subscription_row(shop, sub["id"], "status = 'active'")
    assert rows(
        shop.dsn,
        "SELECT 1 FROM billing.invoices WHERE stripe_invoice_id = %s AND status = 'paid'",
        open_invoice,
        timeout=30,
    )
    page.goto(f"{shop.up.base_url}/portal/subscriptions")
    expect(page.get_by_test_id("past-due")).to_have_count(0)


def test_another_customers_subscription_and_an_unoffered_price_are_refused(
    shop: Shop, visit: Visit
) -> None:
    _, mine = clocked(shop, "sub-mine", "pm_card_visa")
    _, theirs = clocked(shop, "sub-theirs", "pm_card_visa")
    shop.subscribe("sub-mine", mine, shop.plan(1000, "Mine"))
    other = shop.subscribe("sub-theirs", theirs, shop.plan(1000, "Theirs"))
    subscription_row(shop, other["id"], "status = 'active'")
    page = visit.page
    page.goto(shop.portal_link(mine))
    page.goto(f"{shop.up.base_url}/portal/subscriptions")
    expect(page.locator("section.subscription")).to_have_count(1)
    expect(page.locator("section.subscription h2")).to_have_text("Mine")
    form = page.locator("form[data-action=cancel]")
    form.evaluate(
        "(form, sub) => { form.action = `/portal/subscriptions/${sub}/cancel`; }", other["id"]
    )
    form.get_by_role("button").click()
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert subscription_row(shop, other["id"])["cancel_at_period_end"] is False

    free = shop.stand_in(
        "POST",
        "/prices",
        **{
            "product": shop.stand_in("POST", "/products", name="Free")["id"],
            "unit_amount": 0,
            "currency": "eur",
            "recurring[interval]": "year",
        },
    )["id"]
    page.goto(f"{shop.up.base_url}/portal/subscriptions")
    offered = page.locator("form[data-action=preview] select option").first
    offered.evaluate("(option, price) => { option.value = price; }", free)
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    visit.shot("refused")


def test_the_overview_is_usable_at_a_phone_width(shop: Shop, phone: Visit) -> None:
    _, customer = clocked(shop, "sub-phone", "pm_card_visa")
    shop.subscribe("sub-phone", customer, shop.plan(1200, "Phone"))
    page = phone.page
    page.goto(shop.portal_link(customer))
    page.goto(f"{shop.up.base_url}/portal/subscriptions")
    expect(page.locator("section.subscription", has_text="Phone")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    html = page.content()
    assert "sk_test" not in html and "_secret_" not in html and "link=" not in html
    phone.shot("overview")
