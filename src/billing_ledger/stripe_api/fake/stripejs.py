"""The stand-in's Stripe.js: a test double of the part of Stripe.js the customer pages use.

Production pages load Stripe.js from js.stripe.com (`STRIPE_JS_URL`); tests cannot reach it,
so the stand-in serves `static/stripe.js` at `/v3` and `/basil/stripe.js` (point
`STRIPE_JS_URL` there). It keeps Stripe.js's names and results: `Stripe(publishableKey)`,
`elements({clientSecret, appearance})`, `elements.create('payment').mount(…)`,
`confirmPayment` / `confirmSetup` (with `confirmParams.return_url`, `redirect`),
`handleNextAction`, `retrievePaymentIntent` / `retrieveSetupIntent`. Its Payment Element is
plain inputs in the page (no iframe), one tab per method of the intent's
`payment_method_types` it can collect: a card number from Stripe's test cards (4242…
succeeds, 4000 0025 0000 3155 asks for 3-D Secure, 4000…0002 is declined, 4000…9995 has
insufficient funds) or the SEPA test IBAN DE89 3704 0044 0532 0130 00, mapped to the
stand-in's test payment methods (`catalog.py`); a US bank account entered by hand
(Stripe's test routing number 110000000, account 000123456789: `pm_usBankAccount`); iDEAL (a
bank to choose, then the redirect to the stand-in's test bank page); and, before them, Apple
Pay and Google Pay when "the browser offers them": a headless browser offers none, so a test
declares them before the page loads
(`window.__stripeStandIn = {wallets: ["apple_pay", "google_pay"]}`, e.g. a Playwright init
script), and paying with one sends the wallet's card token as Stripe.js does
(`payment_method_data[card][token]`). Nothing typed there leaves the browser but a test token.

As Stripe.js does, it calls the API with the publishable key and the intent's client secret
(form fields `key`, `client_secret`) and follows `next_action.redirect_to_url`; the stand-in
answers such calls for exactly these routes, with CORS, when the client secret is the
intent's own (`browser_request`).
"""

from __future__ import annotations

import hmac
import re
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from billing_ledger.stripe_api.fake.store import Store, StripeFailure, missing

CORS = {"Access-Control-Allow-Origin": "*"}
BROWSER_ROUTES = (
    ("GET", re.compile(r"^/v1/(payment_intents|setup_intents)/((?:pi|seti)_\w+)$")),
    ("POST", re.compile(r"^/v1/(payment_intents|setup_intents)/((?:pi|seti)_\w+)/confirm$")),
)
KINDS = {"payment_intents": "payment_intent", "setup_intents": "setup_intent"}


def is_browser_request(params: dict[str, Any]) -> bool:
    """Whether a request authenticates as Stripe.js does: a publishable key in `key`."""
    key = params.get("key")
    return isinstance(key, str) and key.startswith(("pk_test_", "pk_live_"))


def browser_request(store: Store, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of an allowed Stripe.js request, without its credentials; a Stripe
    error (401 for a live key, 404 otherwise) when it is not allowed."""
    if not str(params.get("key")).startswith("pk_test_"):
        raise StripeFailure(
            401,
            {
                "type": "invalid_request_error",
                "message": "Invalid API Key provided (the stand-in takes pk_test_ keys)",
            },
        )
    for route_method, pattern in BROWSER_ROUTES:
        found = pattern.match(path)
        if found and route_method == method:
            kind, object_id = found.groups()
            with store.lock:
                obj = store.get(object_id, KINDS[kind])
                secret = str(params.get("client_secret") or "")
                if not hmac.compare_digest(secret.encode(), str(obj["client_secret"]).encode()):
                    raise missing(KINDS[kind], object_id)
            return {k: v for k, v in params.items() if k not in ("key", "client_secret")}
    raise missing("route", f"{method} {path} (with a publishable key)")


def script() -> str:
    return (
        resources.files("billing_ledger.stripe_api.fake")
        .joinpath("static/stripe.js")
        .read_text(encoding="utf-8")
    )


async def serve_script(request: Request) -> Response:
    return Response(
        script(),
        media_type="application/javascript",
        headers={**CORS, "Cache-Control": "no-cache"},
    )


ROUTES = [
    Route("/v3", serve_script, methods=["GET"]),
    Route("/basil/stripe.js", serve_script, methods=["GET"]),
]
