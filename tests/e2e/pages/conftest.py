"""The customer pages in a real browser: Debian's chromium driven by Playwright, against the
real app as a user runs it (`billing-ledger up` and `billing-ledger fake-stripe`, whose
Stripe.js double the pages load), the billing tables filled by the stand-in's webhooks.

Every page a test visits is photographed into SCREENSHOTS (git-ignored); a console error or
an uncaught exception on any page fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    sync_playwright,
)

from tests.conftest import fresh_database
from tests.e2e.cli import Running, cli_env, free_port, running
from tests.e2e.test_webhook_to_tables import rows

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[3] / "screenshots"
STRIPE_KEY = "sk_test_pages"
PUBLISHABLE_KEY = "pk_test_pages"
PHONE = {"width": 375, "height": 740}


@dataclass
class Shop:
    """The platform's side: the API with a token, the stand-in, the tables."""

    up: Running
    stripe: Running
    dsn: str
    token: str
    env: dict[str, str]

    def post(self, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        return httpx.post(
            f"{self.up.base_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
            timeout=60,
        )

    def customer(self, key: str, method: str | None = None) -> str:
        body: dict[str, Any] = {"email": f"{key}@example.com", "name": key}
        if method:
            body["payment_method"] = method
        made = self.post("/customers", body, f"customer-{key}")
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def payment(self, key: str, method: str | None = None, amount: int = 2000) -> dict[str, Any]:
        """A payment of a new customer: with `method`, confirmed at once; without, created for
        the customer to pay on the page. Its answer (with `confirmation_url`)."""
        body: dict[str, Any] = {
            "customer": self.customer(key),
            "amount": amount,
            "currency": "eur",
        }
        if method:
            body["payment_method"] = method
        answer = self.post("/payments", body, f"payment-{key}")
        assert answer.status_code == 202, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def stand_in(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        """A call to the stand-in's API as Stripe's dashboard would make it (catalog, clocks)."""
        answer = httpx.request(
            method, f"{self.stripe.base_url}/v1{path}", data=params, auth=(STRIPE_KEY, "")
        )
        assert answer.is_success, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def plan(self, amount: int, name: str) -> str:
        """A monthly euro price of a new product `name`."""
        product = self.stand_in("POST", "/products", name=name)
        price = self.stand_in(
            "POST",
            "/prices",
            **{
                "product": product["id"],
                "unit_amount": amount,
                "currency": "eur",
                "recurring[interval]": "month",
            },
        )
        return str(price["id"])

    def subscribe(self, key: str, customer: str, price: str, **more: Any) -> dict[str, Any]:
        made = self.post("/subscriptions", {"customer": customer, "price": price, **more}, key)
        assert made.status_code in (201, 202), made.text
        found: dict[str, Any] = made.json()
        return found

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "billing_ledger", *argv],
            env=cli_env(self.env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def portal_link(self, customer: str) -> str:
        made = self.cli("portal-link", customer, "--expires", "1h")
        assert made.returncode == 0, made.stderr
        return made.stdout.strip()

    def payment_row(self, intent: str, status: str) -> dict[str, Any]:
        found = rows(
            self.dsn,
            "SELECT * FROM billing.payment_transactions "
            "WHERE stripe_payment_intent_id = %s AND status = %s",
            intent,
            status,
            timeout=30,
        )
        assert found, f"no {status} row for {intent}"
        return found[0]


@dataclass
class Visit:
    """One browser tab of a test, collecting what the pages say went wrong."""

    page: Page
    name: str
    problems: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, label: str) -> Path:
        self.shots += 1
        path = SCREENSHOTS / f"{self.name}-{self.shots:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="package")
def shop(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    workdir = tmp_path_factory.mktemp("pages-e2e")
    stripe_port, port = free_port(), free_port()
    stand_in = f"http://127.0.0.1:{stripe_port}"
    with fresh_database(postgres_server_url) as dsn:
        env = {
            "DATABASE_URL": dsn,
            "STRIPE_API_KEY": STRIPE_KEY,
            "STRIPE_API_BASE": stand_in,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_JS_URL": f"{stand_in}/v3",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "DEBUG",
            "LOG_FORMAT": "json",
        }
        with running("up", env, workdir, port=port) as up:
            hook = f"{up.base_url}/webhooks/stripe"
            fake = ["--port", str(stripe_port), "--webhook-url", hook, "--settle-seconds", "2"]
            with running("fake-stripe", {}, workdir, args=fake, port=stripe_port) as stripe:
                made = Shop(up, stripe, dsn, "", env).cli(
                    "tokens",
                    "create",
                    "--name",
                    "shop",
                    "--scope",
                    "customers:write,payments:write,subscriptions:write,read",
                )
                assert made.returncode == 0, made.stderr
                yield Shop(up, stripe, dsn, made.stdout.strip(), env)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install chromium` (Debian), or leave the browser "
            "tests out with -m 'not browser'"
        )
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
    try:
        yield launched
    finally:
        launched.close()


def _visit(
    browser: Browser, shop: Shop, request: pytest.FixtureRequest, **options: Any
) -> Iterator[Visit]:
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    visit = Visit(page, request.node.name.replace("test_", "", 1)[:60])

    refusal_pages: set[str] = set()

    def response(answer: Response) -> None:
        if answer.request.resource_type == "document" and 400 <= answer.status < 500:
            refusal_pages.add(answer.url)

    def console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chrome reports every 4xx as a failed resource: Stripe's 402 for a declined card
        # (with Stripe.js too), and the refusal pages a test opens on purpose (their status
        # and text are the test's to check). Neither is a fault of the page.
        source = str(message.location.get("url", ""))
        if message.text.startswith("Failed to load resource") and (
            not source.startswith(shop.up.base_url) or source in refusal_pages
        ):
            return
        visit.problems.append(f"console error on {page.url}: {message.text} ({source})")

    page.on("response", response)

    page.on("console", console)
    page.on("pageerror", lambda error: visit.problems.append(f"page error: {error}"))
    try:
        yield visit
    finally:
        context.close()
    assert not visit.problems, visit.problems


@pytest.fixture
def visit(browser: Browser, shop: Shop, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh browser context (no cookies) at desktop width."""
    yield from _visit(browser, shop, request, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Browser, shop: Shop, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh browser context at a phone's width, touch and all."""
    yield from _visit(
        browser,
        shop,
        request,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )


def enter_card(page: Page, number: str) -> None:
    """Type a card into the Payment Element (the stand-in's Stripe.js: Stripe's test cards)."""
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiration").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
