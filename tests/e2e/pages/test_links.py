"""Who may see what: an expired, tampered or missing link, another customer's payment, a link
to one payment used for the portal, a forged form; each a clear page, never anyone's data."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import expect

from billing_ledger.web.pages.links import Link, LinkSigner
from tests.e2e.pages.conftest import Shop, Visit
from tests.support.webhooks import LINK_SECRET

pytestmark = pytest.mark.browser
SIGNER = LinkSigner(LINK_SECRET.encode())


def test_an_expired_link_gets_a_clear_page(shop: Shop, visit: Visit) -> None:
    customer = shop.customer("expired")
    token = SIGNER.sign(Link(customer, "", False, int(time.time()) - 1))
    answer = visit.page.goto(f"{shop.up.base_url}/portal/payment-methods?link={token}")
    assert answer is not None and answer.status == 410
    expect(visit.page.get_by_role("heading", name="This link has expired")).to_be_visible()
    visit.shot("expired")


def test_a_tampered_link_gets_a_clear_page(shop: Shop, visit: Visit) -> None:
    link = shop.portal_link(shop.customer("tampered"))
    body, _, mac = link.partition("?link=")[2].partition(".")
    other = shop.customer("tampered-other")
    forged = SIGNER.sign(Link(other, "", False, 2**31)).partition(".")[0]
    for token in (f"{forged}.{mac}", f"{body}.{mac[:-2]}xx", body, "garbage"):
        answer = visit.page.goto(f"{shop.up.base_url}/portal/payment-methods?link={token}")
        assert answer is not None and answer.status == 403
        expect(visit.page.get_by_role("heading", name="This link is not valid")).to_be_visible()
        assert other not in visit.page.content()
    visit.shot("tampered")


def test_without_a_link_the_page_says_where_to_start(shop: Shop, visit: Visit) -> None:
    answer = visit.page.goto(f"{shop.up.base_url}/portal/payment-methods")
    assert answer is not None and answer.status == 401
    expect(visit.page.get_by_role("heading", name="Open this page from your link")).to_be_visible()
    visit.shot("no-link")


def test_a_payment_link_opens_that_payment_only(shop: Shop, visit: Visit) -> None:
    mine = shop.payment("scope-mine")
    theirs = shop.payment("scope-theirs")
    page = visit.page
    page.goto(mine["confirmation_url"])
    expect(page.get_by_test_id("amount")).to_be_visible()
    answer = page.goto(f"{shop.up.base_url}/pay/{theirs['id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    answer = page.goto(f"{shop.up.base_url}/portal/payment-methods")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", name="This link opens one payment only")).to_be_visible()
    visit.shot("one-payment-only")


def test_a_portal_link_does_not_open_another_customers_payment(shop: Shop, visit: Visit) -> None:
    theirs = shop.payment("portal-theirs")
    page = visit.page
    page.goto(shop.portal_link(shop.customer("portal-mine")))
    answer = page.goto(f"{shop.up.base_url}/pay/{theirs['id']}")
    assert answer is not None and answer.status == 404
    assert "€20.00" not in page.content()
    answer = page.goto(f"{shop.up.base_url}/pay/pi_doesnotexist")
    assert answer is not None and answer.status == 404


def test_forms_need_the_sessions_csrf_token(shop: Shop) -> None:
    customer = shop.customer("csrf", "pm_card_visa")
    with httpx.Client(base_url=shop.up.base_url) as client:
        opened = client.get(shop.portal_link(customer).removeprefix(shop.up.base_url))
        assert opened.status_code == 303
        for fields in ({"key": "k" * 20}, {"key": "k" * 20, "csrf": "forged"}):
            refused = client.post("/portal/payment-methods/new", data=fields)
            assert refused.status_code == 403 and "This form has expired" in refused.text
        cross_site = client.post(
            "/portal/payment-methods/new",
            data={"key": "k" * 20, "csrf": "x"},
            headers={"Origin": "https://evil.example"},
        )
        assert cross_site.status_code == 403
        secret = client.post("/pay/pi_x/client-secret")
        assert secret.status_code == 403
    anonymous = httpx.post(f"{shop.up.base_url}/portal/payment-methods/new", data={"key": "x"})
    assert anonymous.status_code == 401


def test_nothing_unexpected_shows_a_traceback(shop: Shop) -> None:
    for method, path in (
        ("GET", "/pay/not-an-id"),
        ("GET", "/portal/nothing"),
        ("POST", "/portal/payment-methods/pm_1/explode"),
        ("GET", "/pages/static/../../settings.py"),
        ("PUT", "/pay/pi_1"),
    ):
        answer = httpx.request(method, f"{shop.up.base_url}{path}")
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        assert "Traceback" not in answer.text and "billing_ledger" not in answer.text


def test_no_card_number_or_client_secret_reaches_the_logs(shop: Shop, visit: Visit) -> None:
    waiting = shop.payment("logs")
    visit.page.goto(waiting["confirmation_url"])
    visit.page.get_by_label("Card number").fill("4242 4242 4242 4242")
    visit.page.get_by_label("Expiration").fill("12 / 34")
    visit.page.get_by_label("CVC").fill("123")
    visit.page.get_by_role("button", name="Pay €20.00").click()
    expect(visit.page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    shop.payment_row(waiting["id"], "succeeded")
    for log in (shop.up.log(), shop.stripe.log()):
        assert "4242 4242" not in log and "4242424242424242" not in log
        assert waiting["client_secret"] not in log
        assert "link=" not in log
