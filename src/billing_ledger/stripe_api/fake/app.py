"""The stand-in's HTTP face: Stripe's `/v1` paths, keys, idempotency and errors.

- Any `sk_test_…`/`rk_test_…` key is accepted (Basic or Bearer, as the SDK sends it); others
  get 401. Everything is test mode (`livemode` false). `Stripe-Account: acct_…` acts in that
  Connect account's own state (`Store.of`): its objects are created, retrieved and listed
  there only, and its events carry it as `account`.
- `Idempotency-Key` on a POST: the first answer is stored and replayed for the same key
  (`Idempotent-Replayed: true`); the same key with other parameters is a 400
  `idempotency_error`, as on Stripe.
- `DELETE /v1/customers/{id}` deletes for good (`customer.deleted`); a deleted customer is
  retrieved as Stripe's stub `{"id", "object": "customer", "deleted": true}`.
- Every answer has a `Request-Id`. The list endpoints and `/v1/events` (`lists.py`) page
  the objects and events kept, in Stripe's list shape.
- `/challenge/{intent}`: the test 3-D Secure page (of a PaymentIntent or a SetupIntent); one
  POST passes it (`result=fail` fails it) and redirects to the intent's `return_url`, with
  the query Stripe appends (`redirects.py`).
- `/authorize/{intent}`: the test bank page of an iDEAL payment; a POST authorizes it
  (`result=fail` fails it) and redirects to the `return_url` likewise (`redirects.py`).
- `/verify/{setup_intent}`: the hosted microdeposit page ACH's `verify_with_microdeposits`
  names; it only says the test values (`setup_intents.py`), the API verifies them.
- `/v3` (and `/basil/stripe.js`): a test double of Stripe.js, whose requests (publishable key
  and client secret, as Stripe.js sends them) are answered with CORS (`stripejs.py`).
- Subscriptions, their catalog (products, prices, coupons, promotion codes), invoice previews
  and test clocks: `subscriptions.py`, `catalog_objects.py`, `clocks.py`.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from billing_ledger.stripe_api.fake import (
    catalog_objects,
    clocks,
    customers,
    invoices,
    lists,
    payments,
    redirects,
    setup_intents,
    stripejs,
    sub_invoices,
    subscriptions,
)
from billing_ledger.stripe_api.fake.formdata import decode
from billing_ledger.stripe_api.fake.store import Store, StripeFailure, invalid, missing

Handler = Callable[[Store, str, dict[str, Any]], dict[str, Any]]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def _route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^/v1/{pattern}$"), handler))
        return handler

    return register


_route("POST", "customers")(lambda s, _, p: customers.create_customer(s, p))
_route("POST", r"customers/(?P<id>cus_\w+)")(customers.update_customer)
_route("GET", r"customers/(?P<id>cus_\w+)")(lambda s, i, _: customers.retrieve_customer(s, i))
_route("DELETE", r"customers/(?P<id>cus_\w+)")(lambda s, i, _: customers.delete_customer(s, i))
_route("POST", r"payment_methods/(?P<id>pm_\w+)/attach")(customers.attach)
_route("POST", r"payment_methods/(?P<id>pm_\w+)/detach")(lambda s, i, _: customers.detach(s, i))
_route("GET", r"payment_methods/(?P<id>pm_\w+)")(lambda s, i, _: customers.payment_method(s, i))
_route("POST", "setup_intents")(lambda s, _, p: setup_intents.create_setup_intent(s, p))
_route("POST", r"setup_intents/(?P<id>seti_\w+)/confirm")(setup_intents.confirm_setup_intent)
_route("POST", r"setup_intents/(?P<id>seti_\w+)/verify_microdeposits")(
    setup_intents.verify_microdeposits
)
_route("GET", r"setup_intents/(?P<id>seti_\w+)")(lambda s, i, _: s.get(i, "setup_intent"))
_route("GET", r"mandates/(?P<id>mandate_\w+)")(lambda s, i, _: s.get(i, "mandate"))
_route("POST", "payment_intents")(lambda s, _, p: payments.create_payment_intent(s, p))
_route("POST", r"payment_intents/(?P<id>pi_\w+)/confirm")(payments.confirm)
_route("GET", r"payment_intents/(?P<id>pi_\w+)")(lambda s, i, _: s.get(i, "payment_intent"))
_route("GET", r"charges/(?P<id>ch_\w+)")(lambda s, i, _: s.get(i, "charge"))
_route("POST", "refunds")(lambda s, _, p: payments.create_refund(s, p))
_route("GET", r"refunds/(?P<id>re_\w+)")(lambda s, i, _: s.get(i, "refund"))
_route("POST", "invoiceitems")(lambda s, _, p: invoices.create_item(s, p))
_route("POST", "invoices")(lambda s, _, p: invoices.create_invoice(s, p))
_route("POST", r"invoices/(?P<id>in_\w+)/finalize")(lambda s, i, _: invoices.finalize(s, i))
_route("POST", r"invoices/(?P<id>in_\w+)/pay")(invoices.pay)
_route("GET", r"invoices/(?P<id>in_\w+)")(lambda s, i, _: s.get(i, "invoice"))
_route("POST", "invoices/create_preview")(lambda s, _, p: subscriptions.preview(s, p))
_route("POST", "products")(lambda s, _, p: catalog_objects.create_product(s, p))
_route("GET", r"products/(?P<id>prod_\w+)")(lambda s, i, _: s.get(i, "product"))
_route("POST", "prices")(lambda s, _, p: catalog_objects.create_price(s, p))
_route("GET", r"prices/(?P<id>price_\w+)")(lambda s, i, _: s.get(i, "price"))
_route("POST", "coupons")(lambda s, _, p: catalog_objects.create_coupon(s, p))
_route("GET", r"coupons/(?P<id>\w+)")(lambda s, i, _: s.get(i, "coupon"))
_route("POST", "promotion_codes")(lambda s, _, p: catalog_objects.create_promotion_code(s, p))
_route("POST", "subscriptions")(lambda s, _, p: subscriptions.create(s, p))
_route("POST", r"subscriptions/(?P<id>sub_\w+)")(subscriptions.update)
_route("GET", r"subscriptions/(?P<id>sub_\w+)")(subscriptions.retrieve)
_route("DELETE", r"subscriptions/(?P<id>sub_\w+)")(subscriptions.cancel)
_route("POST", r"subscriptions/(?P<id>sub_\w+)/resume")(subscriptions.resume)
_route("POST", "test_helpers/test_clocks")(lambda s, _, p: clocks.create(s, p))
_route("GET", r"test_helpers/test_clocks/(?P<id>clock_\w+)")(lambda s, i, _: s.get(i, clocks.KIND))
_route("POST", r"test_helpers/test_clocks/(?P<id>clock_\w+)/advance")(clocks.advance)


_route("GET", "customers")(lists.lister("customer", "/v1/customers", ["email"]))
_route("GET", r"customers/(?P<id>cus_\w+)/tax_ids")(
    lists.owned_lister("tax_id", "customer", "/v1/customers/{owner}/tax_ids")
)
_route("GET", r"customers/(?P<id>cus_\w+)/payment_methods")(
    lists.owned_lister("payment_method", "customer", "/v1/customers/{owner}/payment_methods")
)
_route("GET", "payment_methods")(
    lists.owned_lister("payment_method", "customer", "/v1/payment_methods")
)
_route("GET", "subscriptions")(
    lists.lister("subscription", "/v1/subscriptions", ["customer", "price"])
)
_route("GET", "prices")(lists.lister("price", "/v1/prices", ["product", "currency"]))
_route("GET", "subscription_items")(lists.subscription_items)
_route("GET", "invoices")(
    lists.lister("invoice", "/v1/invoices", ["customer", "subscription", "status"])
)
_route("GET", r"invoices/(?P<id>in_\w+)/lines")(lists.invoice_lines)
_route("GET", "invoice_payments")(
    lists.lister("invoice_payment", "/v1/invoice_payments", ["invoice"])
)
_route("GET", "payment_intents")(
    lists.lister("payment_intent", "/v1/payment_intents", ["customer"])
)
_route("GET", "charges")(lists.lister("charge", "/v1/charges", ["customer", "payment_intent"]))
_route("GET", "refunds")(lists.lister("refund", "/v1/refunds", ["charge", "payment_intent"]))
_route("GET", "disputes")(lists.lister("dispute", "/v1/disputes", ["charge", "payment_intent"]))
_route("GET", "coupons")(lists.lister("coupon", "/v1/coupons"))
_route("GET", "events")(lists.events)


@_route("GET", "subscriptions")
def _list_subscriptions(store: Store, _: str, params: dict[str, Any]) -> dict[str, Any]:
    found = sorted(
        (s for s in store.all("subscription") if params.get("customer") in (None, s["customer"])),
        key=lambda o: o["created"],
    )
    return {"object": "list", "data": found, "has_more": False, "url": "/v1/subscriptions"}


def create_fake_stripe(store: Store) -> Starlette:
    """The stand-in's app on `store` (the caller starts and stops its webhook sender)."""
    sub_invoices.watch(store)
    store.prepare = sub_invoices.watch
    replies: dict[tuple[str, str], tuple[tuple[str, str, dict[str, Any]], int, dict[str, Any]]] = {}

    def serve(
        method: str, path: str, params: dict[str, Any], key: str | None, account: str
    ) -> tuple[int, dict[str, Any], bool]:
        with store.lock:
            asked = (method, path, params)
            if key is not None and (account, key) in replies:
                previous, status, body = replies[(account, key)]
                if previous != asked:
                    return 400, _error(_idempotency_error(key)), False
                return status, body, True
            acting = store.of(account)
            acting.request = {
                "id": store.new_id("req"),
                "idempotency_key": key,
                "account": account,
            }
            status, body = _dispatch(acting, method, path, params)
            body = {**body, "_request_id": acting.request["id"]}
            if key is not None and method in ("POST", "DELETE"):
                replies[(account, key)] = (asked, status, body)
            return status, body, False

    async def stripe_api(request: Request) -> Response:
        raw = (await request.body()).decode("utf-8")
        try:
            params = decode(raw or request.url.query)
        except ValueError as e:
            return JSONResponse(_error({"type": "invalid_request_error", "message": str(e)}), 400)
        browser = stripejs.is_browser_request(params)
        if browser:
            try:
                params = await run_in_threadpool(
                    stripejs.browser_request, store, request.method, request.url.path, params
                )
            except StripeFailure as e:
                return JSONResponse(_error(e.error), e.status, headers=stripejs.CORS)
        elif not _authorised(request.headers.get("authorization")):
            return JSONResponse(
                _error(
                    {
                        "type": "invalid_request_error",
                        "message": "Invalid API Key provided (the stand-in takes sk_test_ keys)",
                    }
                ),
                401,
            )
        status, body, replayed = await run_in_threadpool(
            serve,
            request.method,
            request.url.path,
            params,
            request.headers.get("idempotency-key") if request.method != "GET" else None,
            request.headers.get("stripe-account") or "",
        )
        headers = {"Request-Id": str(body.pop("_request_id", "")) or store.new_id("req")}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        if browser:
            headers.update(stripejs.CORS)
        return JSONResponse(body, status, headers=headers)

    async def challenge_page(request: Request) -> Response:
        intent_id = html.escape(request.path_params["intent"])
        return HTMLResponse(
            "<!doctype html><title>Test 3-D Secure</title><h1>Test 3-D Secure challenge</h1>"
            f"<p>Payment {intent_id}</p>"
            f'<form method="post"><button name="result" value="complete">Complete</button>'
            f'<button name="result" value="fail">Fail</button></form>'
        )

    async def challenge_answer(request: Request) -> Response:
        form = decode((await request.body()).decode("utf-8") or request.url.query)
        passed = form.get("result", "complete") != "fail"

        def answer(holder: Store, intent_id: str) -> dict[str, Any]:
            if intent_id.startswith("seti_"):
                return setup_intents.answer_challenge(holder, intent_id, passed)
            return payments.pass_challenge(holder, intent_id, passed)

        return await _answered(request.path_params["intent"], answer)

    async def _answered(intent_id: str, act: Callable[[Store, str], dict[str, Any]]) -> Response:
        """`act` on the intent in the store (platform or account) holding it, on its clock;
        then back to its return URL as Stripe redirects, or the intent's status."""

        def answer() -> dict[str, Any]:
            with store.lock:
                holder = store.holding(intent_id)
                holder.request = {}
                holder.clock = clocks.clock_for(holder, intent_id, {})
                try:
                    return act(holder, intent_id)
                finally:
                    holder.clock = None

        try:
            intent = await run_in_threadpool(answer)
        except StripeFailure as e:
            return JSONResponse(_error(e.error), e.status)
        return_url = redirects.returned_url(store.holding(intent["id"]), intent)
        if return_url:
            return RedirectResponse(return_url, 303)
        return JSONResponse({"id": intent["id"], "status": intent["status"]})

    async def authorization_page(request: Request) -> Response:
        intent_id = request.path_params["intent"]
        with store.lock:
            try:
                intent = dict(store.holding(intent_id).get(intent_id, "payment_intent"))
            except StripeFailure as e:
                return JSONResponse(_error(e.error), e.status)
        return HTMLResponse(redirects.authorization_page(_escaped(intent)))

    async def authorization_answer(request: Request) -> Response:
        form = decode((await request.body()).decode("utf-8") or request.url.query)
        authorized = form.get("result", "authorize") != "fail"

        def answer(holder: Store, intent_id: str) -> dict[str, Any]:
            return payments.answer_redirect(holder, intent_id, authorized)

        return await _answered(request.path_params["intent"], answer)

    async def verification_page(request: Request) -> Response:
        setup_id = html.escape(request.path_params["setup"])
        return HTMLResponse(
            "<!doctype html><title>Test microdeposits</title><h1>Test microdeposits</h1>"
            f"<p>SetupIntent {setup_id}: the test deposits are 32 and 45 cents (descriptor code "
            f"{setup_intents.MICRODEPOSIT_CODE}); verify them with POST "
            f"/v1/setup_intents/{setup_id}/verify_microdeposits.</p>"
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", healthz, methods=["GET"]),  # ready as soon as it listens
            Route("/challenge/{intent}", challenge_page, methods=["GET"]),
            Route("/challenge/{intent}", challenge_answer, methods=["POST"]),
            Route("/authorize/{intent}", authorization_page, methods=["GET"]),
            Route("/authorize/{intent}", authorization_answer, methods=["POST"]),
            Route("/verify/{setup}", verification_page, methods=["GET"]),
            Route("/v1/{path:path}", stripe_api, methods=["GET", "POST", "DELETE"]),
            *stripejs.ROUTES,
        ]
    )


def _dispatch(
    store: Store, method: str, path: str, params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    for route_method, pattern, handler in ROUTES:
        found = pattern.match(path)
        if found and route_method == method:
            object_id = found.groupdict().get("id") or ""
            store.clock = clocks.clock_for(store, object_id, params)
            try:
                return 200, handler(store, object_id, params)
            except StripeFailure as e:
                return e.status, _error(e.error)
            except ValueError as e:
                return 400, _error(invalid(str(e)).error)
            finally:
                store.clock = None
    return 404, _error(missing("route", f"{method} {path}").error)


def _escaped(intent: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": html.escape(str(intent["id"])),
        "amount": int(intent["amount"]),
        "currency": html.escape(str(intent["currency"])),
    }


def _authorised(header: str | None) -> bool:
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value).decode().partition(":")[0]
        except ValueError:
            return False
    return value.startswith(("sk_test_", "rk_test_"))


def _idempotency_error(key: str) -> dict[str, Any]:
    return {
        "type": "idempotency_error",
        "message": f"Keys for idempotent requests can only be used with the same parameters "
        f"they were first used with. Try using a key other than '{key}' if you meant to "
        "execute a different request.",
    }


def _error(error: dict[str, Any]) -> dict[str, Any]:
    return {"error": {k: v for k, v in error.items() if v is not None}}
