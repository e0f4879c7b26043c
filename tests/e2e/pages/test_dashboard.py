"""The finance dashboard in Chromium, on figures the pipeline projected: subscriptions made
through the API against the Stripe stand-in (one paying at once, one converting from a trial,
one whose trial ends without a card and goes past due), their signed webhooks through ingest,
the processor and the projectors. The page's figures must be the API's, its charts' data the
metrics', each figure must lead to its rows, and a bad link or token must show a clear page.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from billing_ledger.web.dashboard import access
from billing_ledger.web.pages.links import Link, LinkSigner
from tests.e2e.pages.conftest import Shop, Visit
from tests.e2e.pages.test_subscriptions_page import DAY, JAN, clocked, subscription_row
from tests.e2e.test_webhook_to_tables import rows
from tests.support.webhooks import LINK_SECRET

pytestmark = pytest.mark.browser
SIGNER = LinkSigner(LINK_SECRET.encode())
SETTLE_SECONDS = 90


def metrics(shop: Shop) -> dict[str, Any]:
    answer = httpx.get(
        f"{shop.up.base_url}/api/v1/metrics",
        params={"livemode": "false", "currency": "eur"},
        headers={"Authorization": f"Bearer {shop.token}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def listed(shop: Shop, path: str, **params: str) -> list[dict[str, Any]]:
    """Every row of a read API list (all pages)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        asked = {**params, **({"cursor": cursor} if cursor else {})}
        answer = httpx.get(
            f"{shop.up.base_url}/api/v1{path}",
            params=asked,
            headers={"Authorization": f"Bearer {shop.token}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += page["data"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return found


@pytest.fixture(scope="module")
def books(shop: Shop) -> dict[str, Any]:
    """A history the pipeline projects: paying, a converted trial, a trial gone past due;
    the metrics once two reads a few seconds apart agree (every webhook applied)."""
    price = shop.plan(1500, "Books")
    paying_clock, paying = clocked(shop, "dash-paying", "pm_card_visa")
    first = shop.subscribe("dash-paying", paying, price, quantity=2)
    trial_clock, trialing = clocked(shop, "dash-trial", "pm_card_visa")
    converted = shop.subscribe("dash-trial", trialing, price, trial_days=14)
    late_clock, late = clocked(shop, "dash-late")
    overdue = shop.subscribe("dash-late", late, price, trial_days=14)
    for clock, days in ((trial_clock, 20), (late_clock, 20), (paying_clock, 70)):
        advanced = shop.stand_in(
            "POST", f"/test_helpers/test_clocks/{clock}/advance", frozen_time=JAN + days * DAY
        )
        assert advanced["status"] == "ready"
    subscription_row(shop, first["id"], "status = 'active'")
    subscription_row(shop, converted["id"], "status = 'active'")
    subscription_row(shop, overdue["id"], "status = 'past_due'")
    deadline = time.monotonic() + SETTLE_SECONDS
    before = metrics(shop)
    while True:
        time.sleep(3)
        now = metrics(shop)
        if now == before and now["mrr"]:
            return {**now, "overdue": overdue["id"]}
        assert time.monotonic() < deadline, "the metrics did not settle"
        before = now


def open_dashboard(shop: Shop, page: Page, *argv: str) -> None:
    made = shop.cli("dashboard-link", "--expires", "1h", *argv)
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith(f"{shop.up.base_url}/dashboard?link=")
    page.goto(link)
    assert page.url.endswith("/dashboard")  # the token left the address bar
    expect(page.locator("body[data-charts=ready]")).to_have_count(1)


def chart(page: Page, canvas: str) -> list[list[Any]]:
    """The data of each dataset of the chart drawn on `canvas`."""
    found: list[list[Any]] = page.evaluate(
        "id => Chart.getChart(id).data.datasets.map(d => d.data)", canvas
    )
    return found


def test_the_dashboard_shows_the_apis_figures_and_charts_the_metrics(
    shop: Shop, visit: Visit, books: dict[str, Any]
) -> None:
    page = visit.page
    open_dashboard(shop, page)
    seeded, books = books, metrics(shop)  # nothing moves meanwhile: every webhook is in
    (current,) = books["mrr"]
    for tile, field in (
        ("mrr", "mrr_cents"),
        ("arr", "arr_cents"),
        ("paying-customers", "paying_customers"),
        ("arpa", "arpa_cents"),
    ):
        shown = page.get_by_test_id(f"tile-{tile}")
        assert shown.get_attribute("data-raw") == str(current[field]), tile
    assert current["mrr_cents"] >= 2 * 3000  # the paying one and the converted trial
    expect(page.get_by_test_id("tile-mrr")).to_contain_text(
        f"€{current['mrr_cents'] // 100:,}.{current['mrr_cents'] % 100:02d}"
    )

    months = books["churn"]
    assert chart(page, "chart-mrr") == [
        [m["mrr_cents"] for m in months],
        [12 * m["mrr_cents"] for m in months],
    ]
    kinds = ("new", "expansion", "reactivation", "contraction", "churn")
    assert chart(page, "chart-movements") == [[m[f"{k}_cents"] for m in months] for k in kinds]
    rates = (
        "customer_churn_rate",
        "gross_mrr_churn_rate",
        "net_revenue_retention",
        "gross_revenue_retention",
    )
    assert chart(page, "chart-rates") == [[m[r] for m in months] for r in rates]
    last = months[-1]
    level = last["start_mrr_cents"]
    steps = [[0, level]]
    for kind in kinds:
        steps.append([level, level + last[f"{kind}_cents"]])
        level += last[f"{kind}_cents"]
    steps.append([0, last["mrr_cents"]])
    assert chart(page, "chart-waterfall") == [steps]
    assert chart(page, "chart-trials") == [[t["conversion_rate"] for t in books["trials"]]]
    assert chart(page, "chart-payments") == [
        [p["conversion_rate"] for p in books["payment_conversion"]]
    ]
    assert chart(page, "chart-dunning") == [[d["recovery_rate"] for d in books["dunning"]]]
    assert books["trials"] and books["dunning"], books

    receivables = listed(
        shop, "/invoices", account="", livemode="false", currency="eur", status="open"
    )
    assert receivables, "the past-due trial left an open invoice"
    shown = page.get_by_test_id("tile-receivables")
    assert shown.get_attribute("data-raw") == str(sum(i["amount_remaining"] for i in receivables))
    overdue = rows(
        shop.dsn,
        "SELECT stripe_invoice_id FROM billing.invoices WHERE status = 'open' AND "
        "subscription_id = (SELECT id FROM billing.subscriptions "
        "WHERE stripe_subscription_id = %s)",
        seeded["overdue"],
    )[0]["stripe_invoice_id"]
    assert overdue in {i["id"] for i in receivables}
    failed = page.get_by_test_id("failed-table").locator(f"tr[data-id='{overdue}']")
    expect(failed).to_contain_text("invoice_payment_failed")
    balances = listed(shop, "/journal/balances", account="", livemode="false", currency="eur")
    lines = page.get_by_test_id("balances-table").locator("tr[data-account]")
    assert {
        r.get_attribute("data-account"): int(r.get_attribute("data-raw") or "") for r in lines.all()
    } == {b["ledger_account"]: b["balance_cents"] for b in balances}
    visit.shot("dashboard")

    # Hovering the latest MRR point shows its figure.
    point = page.evaluate(
        "() => { const c = Chart.getChart('chart-mrr'); const p = c.getDatasetMeta(0).data;"
        " const e = p[p.length - 1]; return [e.x, e.y]; }"
    )
    box = page.locator("#chart-mrr").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + point[0], box["y"] + point[1])
    expect(page.locator("body")).to_have_attribute("data-charts", "ready")
    tooltip = page.evaluate(
        "() => Chart.getChart('chart-mrr').tooltip.body.map(b => b.lines.join(' '))"
    )
    assert f"MRR: €{last['mrr_cents'] // 100:,}.{last['mrr_cents'] % 100:02d}" in tooltip
    visit.shot("hover")


def test_each_figure_links_to_its_rows_through_the_read_api(
    shop: Shop, visit: Visit, books: dict[str, Any]
) -> None:
    page = visit.page
    # The browser asks for a favicon when it shows JSON; the server has none to give.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    open_dashboard(shop, page)
    last = metrics(shop)["churn"][-1]
    month = last["month"][:7]
    row = page.get_by_test_id("movements-table").locator(f"tr[data-month='{month}']")
    page.locator("details", has=page.get_by_test_id("movements-table")).locator("summary").click()
    row.get_by_role("link", name="movements").click()
    assert "/api/v1/mrr/movements?" in page.url and f"from={month}" in page.url
    body = json.loads(page.locator("body").inner_text())
    for kind in ("new", "expansion", "reactivation", "contraction", "churn"):
        assert (
            sum(m["amount_cents"] for m in body["data"] if m["kind"] == kind)
            == last[f"{kind}_cents"]
        ), kind
    page.go_back()
    page.get_by_test_id("tile-receivables").click()
    open_rows = json.loads(page.locator("body").inner_text())["data"]
    assert open_rows and all(i["status"] == "open" for i in open_rows)
    # The pinned session reads its own account and mode only, and never writes.
    other = page.goto(f"{shop.up.base_url}/api/v1/invoices?account=acct_1other&livemode=false")
    assert other is not None and other.status == 403
    write = page.request.post(f"{shop.up.base_url}/api/v1/customers", data={"email": "x@y.z"})
    assert write.status == 401


def test_an_expired_or_tampered_link_shows_a_clear_page_and_no_figures(
    shop: Shop, visit: Visit, books: dict[str, Any]
) -> None:
    page = visit.page
    figure = str(books["mrr"][0]["mrr_cents"])
    expired = access.dashboard_link(SIGNER, "", False, int(time.time()) - 1)
    answer = page.goto(f"{shop.up.base_url}/dashboard?link={expired}")
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", name="This dashboard link has expired")).to_be_visible()
    visit.shot("expired")
    good = access.dashboard_link(SIGNER, "", False, int(time.time()) + 600)
    body, _, mac = good.partition(".")
    forged = access.dashboard_link(SIGNER, "acct_1forged", False, 2**31).partition(".")[0]
    portal = SIGNER.sign(Link(shop.customer("dash-portal"), "", False, 2**31))
    for token in (f"{forged}.{mac}", f"{body}.{mac[:-2]}xx", body, "garbage", portal):
        answer = page.goto(f"{shop.up.base_url}/dashboard?link={token}")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("heading", name="This dashboard link is not valid")).to_be_visible()
        assert figure not in page.content() and "dashboard-data" not in page.content()
    visit.shot("tampered")
    answer = page.goto(f"{shop.up.base_url}/dashboard")
    assert answer is not None and answer.status == 401
    expect(page.get_by_role("heading", name="Sign in to see the dashboard")).to_be_visible()


def test_the_login_refuses_a_wrong_or_non_read_token_and_takes_a_read_one(
    shop: Shop, visit: Visit, books: dict[str, Any]
) -> None:
    writer = shop.cli("tokens", "create", "--name", "dash-writer", "--scope", "payments:write")
    reader = shop.cli("tokens", "create", "--name", "dash-reader", "--scope", "read")
    assert writer.returncode == 0 and reader.returncode == 0, writer.stderr + reader.stderr
    page = visit.page
    for token, status, problem in (
        ("blt_not-a-token", 401, "This token is not valid (or was revoked)."),
        (writer.stdout.strip(), 403, "This token lacks the read scope"),
    ):
        page.goto(f"{shop.up.base_url}/dashboard/login")
        page.get_by_label("Read token").fill(token)
        with page.expect_response(f"{shop.up.base_url}/dashboard/login") as sent:
            page.get_by_role("button", name="Open the dashboard").click()
        assert sent.value.status == status
        expect(page.get_by_test_id("login-problem")).to_contain_text(problem)
        assert str(books["mrr"][0]["mrr_cents"]) not in page.content()
    visit.shot("login-refused")
    forged = page.request.post(
        f"{shop.up.base_url}/dashboard/login",
        form={"token": reader.stdout.strip(), "csrf": "forged"},
    )
    assert forged.status == 403 and "This form has expired" in forged.text()
    page.goto(f"{shop.up.base_url}/dashboard/login")
    page.get_by_label("Read token").fill(reader.stdout.strip())
    page.get_by_role("button", name="Open the dashboard").click()
    expect(page.locator("body[data-charts=ready]")).to_have_count(1)
    assert page.get_by_test_id("tile-mrr").get_attribute("data-raw") == str(
        books["mrr"][0]["mrr_cents"]
    )
    expect(page.get_by_test_id("chooser")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Read token")).to_be_visible()
    answer = page.goto(f"{shop.up.base_url}/dashboard")
    assert answer is not None and answer.status == 401


def test_a_dashboard_session_is_never_a_customers_and_a_customers_never_the_dashboards(
    shop: Shop, visit: Visit, books: dict[str, Any]
) -> None:
    page = visit.page
    open_dashboard(shop, page)
    answer = page.goto(f"{shop.up.base_url}/portal/payment-methods")
    assert answer is not None and answer.status == 401  # no customer session
    made = shop.cli("dashboard-link")
    token = made.stdout.strip().partition("?link=")[2]
    answer = page.goto(f"{shop.up.base_url}/portal/payment-methods?link={token}")
    assert answer is not None and answer.status == 403
    customer = shop.customer("dash-customer")
    page.context.clear_cookies()
    page.goto(shop.portal_link(customer))
    expect(page.get_by_role("heading", name="Payment methods")).to_be_visible()
    answer = page.goto(f"{shop.up.base_url}/dashboard")
    assert answer is not None and answer.status == 401
    assert "dashboard-data" not in page.content()
    api = page.request.get(f"{shop.up.base_url}/api/v1/invoices?account=&livemode=false")
    assert api.status == 401


def test_the_dashboard_is_usable_at_a_phone_width(
    shop: Shop, phone: Visit, books: dict[str, Any]
) -> None:
    page = phone.page
    open_dashboard(shop, page)
    expect(page.get_by_test_id("tile-mrr")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert "link=" not in page.content()
    phone.shot("dashboard")
