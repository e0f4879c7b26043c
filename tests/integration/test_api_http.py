"""`/api/v1` over real HTTP, on a real database, in front of the Stripe stand-in: tokens and
scopes, idempotency, the four payment answers, refusals with clear statuses, the OpenAPI
document, and the audit trail of write scopes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from billing_ledger import bootstrap
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.fake import Store, fake_stripe
from billing_ledger.web.endpoints import ENDPOINTS
from billing_ledger.web.finance_listings import LISTINGS
from billing_ledger.web.pages.links import LinkSigner
from billing_ledger.web.tokens import TokenStore
from tests.support.http_server import serving
from tests.support.webhooks import LINK_SECRET

PUBLIC = "https://ledger.example"
EVERYTHING = ("customers:write", "payments:write", "read")


@dataclass
class Api:
    url: str
    dsn: str
    store: Store
    tokens: TokenStore
    token: str

    def delete(self, path: str, key: str | None = "k-1") -> httpx.Response:
        sent = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            sent["Idempotency-Key"] = key
        return httpx.delete(f"{self.url}/api/v1{path}", headers=sent, timeout=30)

    def post(
        self,
        path: str,
        body: dict[str, Any],
        key: str | None = "k-1",
        token: str | None = None,
        **headers: str,
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {token or self.token}", **headers}
        if key is not None:
            sent["Idempotency-Key"] = key
        return httpx.post(f"{self.url}/api/v1{path}", json=body, headers=sent, timeout=30)


def served(settings: Settings, dsn: str) -> Iterator[tuple[str, TokenStore]]:
    with bootstrap.api_pool(dsn) as pool:
        api = bootstrap.web_api(settings, pool)
        with serving(api) as url:
            yield url, TokenStore(pool)


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        bootstrap.prepare_live_schemas(conn)
    with fake_stripe("http://unset", None, None, settle_seconds=0.2) as fake:
        with serving(fake.app) as stripe_url:
            fake.store.public_url = stripe_url
            settings = Settings(
                STRIPE_API_KEY=SecretStr("sk_test_api"),
                STRIPE_API_BASE=stripe_url,
                PUBLIC_BASE_URL=PUBLIC,
                BILLING_LEDGER_LINK_SECRET=SecretStr(LINK_SECRET),
            )
            for url, tokens in served(settings, database_url):
                yield Api(url, database_url, fake.store, tokens, tokens.create("shop", EVERYTHING))


def customer(api: Api, method: str = "pm_card_visa", key: str = "cus-1") -> str:
    made = api.post(
        "/customers", {"email": "ada@example.com", "name": "Ada", "payment_method": method}, key
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def pay(api: Api, method: str, key: str, amount: int = 1200) -> httpx.Response:
    return api.post(
        "/payments",
        {
            "customer": customer(api, method, key=f"c-{key}"),
            "amount": amount,
            "currency": "eur",
            "payment_method": method,
        },
        key,
    )


def test_a_customer_with_a_default_card_once_per_key(api: Api) -> None:
    body = {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "payment_method": "pm_card_visa",
        "user_id": "0b6a3f0e-6a52-4c1e-9a43-7d2d5e0c9f11",
        "tax_id": {"type": "eu_vat", "value": "DE123456789"},
        "address": {"line1": "1 Analytical Row", "city": "London", "country": "GB"},
    }
    first = api.post("/customers", body, "new-customer")
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["id"].startswith("cus_") and made["default_payment_method"].startswith("pm_")
    again = api.post("/customers", body, "new-customer")
    assert (again.status_code, again.json()) == (201, made)
    assert again.headers["idempotent-replayed"] == "true"
    other = api.post("/customers", {**body, "name": "Someone Else"}, "new-customer")
    assert other.status_code == 422 and "different request" in other.json()["error"]
    assert len(api.store.all("customer")) == 1
    kept = api.store.objects[made["id"]]
    assert kept["metadata"] == {"user_id": body["user_id"]} and kept["address"]["city"] == "London"


def test_the_four_answers_of_a_payment(api: Api) -> None:
    succeeded = pay(api, "pm_card_visa", "p-1")
    assert (succeeded.status_code, succeeded.json()["status"]) == (201, "succeeded")
    processing = pay(api, "pm_sepa_debit", "p-2")
    assert (processing.status_code, processing.json()["status"]) == (202, "processing")
    waiting = pay(api, "pm_card_authenticationRequired", "p-3")
    answer = waiting.json()
    assert (waiting.status_code, answer["status"]) == (202, "requires_action")
    assert answer["confirmation_url"].startswith(f"{PUBLIC}/pay/{answer['id']}?link=")
    assert (
        answer["client_secret"].startswith(answer["id"])
        and answer["next_action"]["type"] == "redirect_to_url"
    )
    declined = pay(api, "pm_card_chargeDeclined", "p-4")
    failed = declined.json()
    assert declined.status_code == 402
    assert (failed["status"], failed["code"], failed["decline_code"], failed["error"]) == (
        "failed",
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    )
    assert failed["id"].startswith("pi_")


def test_a_partial_refund_then_an_invoice_paid_again(api: Api) -> None:
    paid = pay(api, "pm_card_visa", "p-r", amount=2000).json()
    refund = api.post(f"/payments/{paid['id']}/refunds", {"amount": 500}, "r-1")
    assert refund.status_code == 201 and refund.json()["amount"] == 500
    too_much = api.post(f"/payments/{paid['id']}/refunds", {"amount": 5000}, "r-2")
    assert too_much.status_code == 422 and too_much.json()["code"] == "amount_too_large"
    owner = customer(api, "pm_card_chargeDeclined", key="inv-owner")
    from billing_ledger.stripe_api.fake import invoices

    with api.store.lock:
        invoices.create_item(api.store, {"customer": owner, "amount": "900", "currency": "eur"})
        invoice = invoices.finalize(
            api.store, invoices.create_invoice(api.store, {"customer": owner})["id"]
        )
    declined = api.post(f"/invoices/{invoice['id']}/pay", {}, "i-1")
    assert declined.status_code == 402 and declined.json()["decline_code"] == "generic_decline"
    again = api.post(f"/invoices/{invoice['id']}/pay", {"payment_method": "pm_card_visa"}, "i-2")
    assert (again.status_code, again.json()["status"]) == (200, "paid")


def test_payment_methods_saved_attached_defaulted_and_detached(api: Api) -> None:
    owner = customer(api)
    saved = api.post(
        f"/customers/{owner}/setup_intents",
        {
            "type": "sepa_debit",
            "payment_method": "pm_sepa_debit",
            "mandate": {"ip_address": "127.0.0.1", "user_agent": "curl"},
        },
        "s-1",
    )
    assert saved.status_code == 201 and saved.json()["mandate"]
    ach = {
        "type": "us_bank_account",
        "payment_method": "pm_usBankAccount",
        "verification_method": "microdeposits",
    }
    unaccepted = api.post(f"/customers/{owner}/setup_intents", ach, "s-2")
    assert unaccepted.status_code == 422 and "mandate" in unaccepted.json()["error"]
    assert len(api.store.all("setup_intent")) == 1  # refused before Stripe was asked
    bank = api.post(
        f"/customers/{owner}/setup_intents",
        {**ach, "mandate": {"ip_address": "127.0.0.1", "user_agent": "curl"}},
        "s-3",
    )
    waiting = bank.json()
    assert (bank.status_code, waiting["status"]) == (202, "requires_action")
    assert waiting["next_action_type"] == "verify_with_microdeposits"
    assert waiting["next_action"]["verify_with_microdeposits"]["microdeposit_type"] == "amounts"
    verify = f"/setup_intents/{waiting['id']}/verify_microdeposits"
    assert api.post(verify, {"amounts": [32, 45], "descriptor_code": "SM11AA"}).status_code == 422
    mismatch = api.post(verify, {"descriptor_code": "SM99ZZ"}, "v-1")
    assert mismatch.status_code == 422
    assert mismatch.json()["code"] == (
        "payment_method_microdeposit_verification_descriptor_code_mismatch"
    )
    verified = api.post(verify, {"descriptor_code": "SM11AA"}, "v-2")
    assert (verified.status_code, verified.json()["status"]) == (201, "succeeded")
    assert api.store.objects[waiting["payment_method"]]["customer"] == owner
    declined = api.post(
        f"/customers/{owner}/setup_intents", {"payment_method": "pm_card_chargeDeclined"}, "s-4"
    )
    assert declined.status_code == 402
    assert (declined.json()["status"], declined.json()["id"][:5]) == ("failed", "seti_")
    attached = api.post(
        f"/customers/{owner}/payment_methods", {"payment_method": "pm_card_mastercard"}, "a-1"
    )
    method = attached.json()["id"]
    default = api.post(
        f"/customers/{owner}/default_payment_method", {"payment_method": method}, "d-1"
    )
    assert default.json()["default_payment_method"] == method
    detached = api.post(f"/payment_methods/{method}/detach", {}, "x-1")
    assert detached.status_code == 200
    assert api.store.objects[owner]["invoice_settings"]["default_payment_method"] is None
    changed = api.post(f"/customers/{owner}", {"name": "Ada King"}, "u-1")
    assert changed.status_code == 200 and api.store.objects[owner]["name"] == "Ada King"


def test_a_customer_is_deleted_at_stripe_once_per_key(api: Api) -> None:
    owner = customer(api)
    assert api.delete(f"/customers/{owner}", key=None).status_code == 422
    deleted = api.delete(f"/customers/{owner}", "del-1")
    assert (deleted.status_code, deleted.json()) == (
        200,
        {"id": owner, "object": "customer", "deleted": True},
    )
    again = api.delete(f"/customers/{owner}", "del-1")
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
    assert owner not in api.store.objects and owner in api.store.deleted
    other_key = api.delete(f"/customers/{owner}", "del-2")
    assert other_key.status_code == 404 and other_key.json()["code"] == "resource_missing"
    assert api.delete("/customers/not-a-customer", "del-3").status_code == 404
    with psycopg.connect(api.dsn) as conn:
        steps = conn.execute(
            "SELECT e.operation, e.status, e.error_code FROM ops.command_events e "
            "JOIN ops.commands c ON c.id = e.command_id WHERE c.kind = 'customers.delete' "
            "AND e.kind = 'stripe_request' ORDER BY e.id"
        ).fetchall()
    assert steps == [
        ("customers.delete", None, None),
        ("customers.delete", "error", "resource_missing"),
    ]


@pytest.mark.parametrize(
    ("headers", "key", "status"),
    [
        ({"Authorization": "Bearer blt_unknown"}, "k", 401),
        ({"Authorization": "Basic eDp5"}, "k", 401),
        ({}, None, 422),
    ],
)
def test_refusals_are_json_with_clear_statuses(
    api: Api, headers: dict[str, str], key: str | None, status: int
) -> None:
    sent = {"Authorization": f"Bearer {api.token}", **headers}
    if key is not None:
        sent["Idempotency-Key"] = key
    answer = httpx.post(f"{api.url}/api/v1/customers", json={"email": "a@b.c"}, headers=sent)
    assert answer.status_code == status and "error" in answer.json()


def test_scopes_revocation_bad_bodies_and_unknown_ids(api: Api) -> None:
    reader = api.tokens.create("finance", ["read"])
    assert api.post("/payments", {}, token=reader).status_code == 403
    invalid = api.post(
        "/payments",
        {"customer": "cus_1", "amount": "12", "currency": "eur", "payment_method": "pm_card_visa"},
    )
    assert invalid.status_code == 422 and "amount" in invalid.json()["error"]
    assert api.post("/payments/not-an-id/refunds", {}).status_code == 404
    assert api.post("/customers/cus_Missing", {"name": "x"}, "m-1").status_code == 404
    api.tokens.revoke("finance")
    read = httpx.get(
        f"{api.url}/api/v1/payments/pi_1", headers={"Authorization": f"Bearer {reader}"}
    )
    assert read.status_code == 401
    assert httpx.get(f"{api.url}/api/v1/nowhere").status_code == 404


def test_writes_are_audited_by_token_name(api: Api) -> None:
    customer(api)
    with psycopg.connect(api.dsn) as conn:
        rows = conn.execute(
            "SELECT actor, action, outcome, detail->>'idempotency_key' FROM billing.audit_log"
        ).fetchall()
    assert rows == [("token:shop", "api.customers.create", "201", "cus-1")]


def test_the_openapi_document_names_every_path(api: Api) -> None:
    document = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    served = {(e.method, f"/api/v1{e.path}") for e in ENDPOINTS} | {("GET", "/api/v1/openapi.json")}
    for listing in LISTINGS:
        served.add(("GET", f"/api/v1{listing.path}"))
        if listing.single is not None:
            served.add(("GET", f"/api/v1{listing.path}/{{{listing.single.param}}}"))
    assert documented == served
    payments = document["paths"]["/api/v1/payments"]["post"]
    assert {"201", "202", "402", "422", "429", "503"} <= set(payments["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in payments["parameters"])


def test_without_a_stripe_key_writes_answer_503(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        bootstrap.prepare_live_schemas(conn)
    for url, tokens in served(Settings(), database_url):
        token = tokens.create("shop", EVERYTHING)
        answer = httpx.post(
            f"{url}/api/v1/customers",
            json={"email": "a@b.c"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
        )
        assert answer.status_code == 503 and "STRIPE_API_KEY" in answer.json()["error"]


def test_a_portal_link_opens_the_customers_pages(api: Api) -> None:
    owner = customer(api)
    made = api.post(f"/customers/{owner}/portal_links", {"expires_in": 600}, "link-1")
    assert made.status_code == 201, made.text
    answer = made.json()
    assert answer["url"].startswith(f"{PUBLIC}/portal/payment-methods?link=")
    assert time.time() + 590 < answer["expires_at"] <= time.time() + 600
    token = answer["url"].partition("?link=")[2]
    link = LinkSigner(LINK_SECRET.encode()).verify(token, time.time())
    assert (link.customer, link.scope, link.livemode) == (owner, "portal", False)
    too_long = api.post(f"/customers/{owner}/portal_links", {"expires_in": 10**9}, "link-2")
    assert too_long.status_code == 422
    with psycopg.connect(api.dsn) as conn:
        audited = str(conn.execute("SELECT json_agg(a) FROM billing.audit_log a").fetchone())
    assert "api.portal_links.create" in audited and token not in audited
