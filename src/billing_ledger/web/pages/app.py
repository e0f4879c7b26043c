"""The customer pages' routes: `/pay/{intent}`, `/portal/payment-methods`, their assets.

    GET  /pay/{pi_…|seti_…}                  the payment (or setup) form, or its outcome
    POST /pay/{intent}/client-secret          the intent's client secret, for Stripe.js (CSRF)
    GET  /portal/payment-methods              saved methods, the default marked
    POST /portal/payment-methods/new          a SetupIntent, then its form at /pay/seti_…
    POST /portal/payment-methods/{pm}/remove  detach (a command, as through the API)
    POST /portal/payment-methods/{pm}/default make it the customer's default
    GET  /portal/subscriptions, POST …/{sub}/… the subscription overview (`subscriptions.py`)
    GET  /pages/theme.css, /pages/static/…    the theme's colours, CSS and JavaScript

What a customer may see is decided here: the session's customer must own the intent or
payment method (asked of Stripe), else the page says "not found", as for an unknown id. Every
refusal and failure is a page of its own with a status code; no traceback reaches a browser.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from billing_ledger.stripe_api.client import StripeApi
from billing_ledger.stripe_api.commands import Caller
from billing_ledger.stripe_api.customers import CustomerService
from billing_ledger.stripe_api.errors import FinalStripeError, StripeApiError
from billing_ledger.stripe_api.intents import id_of
from billing_ledger.stripe_api.requests import NewSetup
from billing_ledger.stripe_api.subscriptions import SubscriptionService
from billing_ledger.web.pages.links import (
    PORTAL,
    Link,
    LinkRefused,
    SignedPageLinks,
    pay_link_expires,
)
from billing_ledger.web.pages.methods import SavedMethod
from billing_ledger.web.pages.outcomes import intent_page
from billing_ledger.web.pages.overview import Overview
from billing_ledger.web.pages.refusals import REFUSALS, refusal_page
from billing_ledger.web.pages.security import content_security_policy, security_headers
from billing_ledger.web.pages.sessions import PageRefused, Sessions, read_form
from billing_ledger.web.pages.subscriptions import PortalTools, subscription_routes
from billing_ledger.web.pages.theme import Theme

PREFIXES = ("/pay/", "/portal/", "/pages/")
INTENT = r"{intent:str}"
INTENT_ID = re.compile(r"^(pi|seti)_[A-Za-z0-9]+$")
METHOD_ID = re.compile(r"^pm_[A-Za-z0-9_]+$")
RETURNED = {
    "payment_intent_client_secret",
    "setup_intent_client_secret",
    "redirect_status",
}
"""The query Stripe appends to a return_url (with `payment_intent` or `setup_intent`)."""
log = logging.getLogger(__name__)


@dataclass
class PageParts:
    """What the pages act through; `stripe` and `customers` are None without STRIPE_API_KEY
    (every page then says payments are unavailable)."""

    links: SignedPageLinks
    stripe: StripeApi | None
    customers: CustomerService | None
    methods: Callable[[str, str, bool], list[SavedMethod]]
    subscriptions: SubscriptionService | None
    overview: Callable[[str, str, bool], Overview]
    """A customer's subscriptions, invoices and payments from the tables."""
    publishable_key: str | None
    stripe_js_url: str
    theme: Theme
    frame_ancestors: str
    clock: Callable[[], float]
    audit: Callable[[str, str, int, dict[str, Any]], None]
    """Records a change a customer made: actor, action, HTTP status, ids (billing.audit_log)."""
    plan_prices: tuple[str, ...] = ()
    """The plans a subscription may change to (PAGES_PLAN_PRICES); empty: the catalog's."""


def create_pages(parts: PageParts) -> Starlette:
    sessions = Sessions(parts.links.signer, parts.links.public, parts.clock)
    headers = security_headers(
        content_security_policy(parts.stripe_js_url, parts.frame_ancestors), https=sessions.https
    )
    templates = Environment(
        loader=PackageLoader("billing_ledger.web.pages", "templates"),
        autoescape=select_autoescape(default=True),
    )

    def render(name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("title", "Payment")
        html = templates.get_template(name).render(**context)
        return HTMLResponse(html, status, headers=headers)

    def refused(kind: str) -> Response:
        return render("message.html", **refusal_page(kind))

    def ready() -> tuple[StripeApi, CustomerService, str]:
        if parts.stripe is None or parts.customers is None or parts.publishable_key is None:
            raise PageRefused("unavailable")
        return parts.stripe, parts.customers, parts.publishable_key

    async def owned(session: Link, resource: str, object_id: str) -> dict[str, Any]:
        """The Stripe object, if it is the session customer's (else PageRefused not_found)."""
        stripe, _, _ = ready()
        try:
            answer = await run_in_threadpool(
                stripe.call, resource, "retrieve", id=object_id, account=session.account or None
            )
        except FinalStripeError:
            raise PageRefused("not_found") from None
        found = answer.object
        if id_of(found.get("customer")) != session.customer or found.get("livemode") != (
            session.livemode
        ):
            raise PageRefused("not_found")
        return found

    def intent_of(request: Request) -> str:
        intent_id = str(request.path_params["intent"])
        if not INTENT_ID.match(intent_id):
            raise PageRefused("not_found")
        return intent_id

    async def pay(request: Request) -> Response:
        intent_id = intent_of(request)
        if "link" in request.query_params:
            return sessions.open(request, request.query_params["link"])
        if RETURNED.intersection(request.query_params):
            # Back from the bank: Stripe appended the intent, its client secret and a
            # redirect_status. The outcome is read from Stripe below, not from that query,
            # and the secret leaves the address bar.
            return RedirectResponse(request.url.path, 303)
        session = sessions.session(request)
        if not session.allows(intent_id):
            raise PageRefused("not_found")
        _, _, key = ready()
        resource = "payment_intents" if intent_id.startswith("pi_") else "setup_intents"
        intent = await owned(session, resource, intent_id)
        method = None
        if intent.get("status") == "succeeded" and resource == "setup_intents":
            method = await owned(session, "payment_methods", str(id_of(intent["payment_method"])))
        page = intent_page(intent, method, session.scope == PORTAL)
        if page.template == "message.html":
            return render(page.template, **page.context)
        return render(
            page.template,
            **page.context,
            stripe_js_url=parts.stripe_js_url,
            publishable_key=key,
            csrf=sessions.csrf(session),
            secret_url=f"/pay/{intent_id}/client-secret",
            return_url=return_url(session, intent),
            appearance=parts.theme.appearance(),
        )

    def return_url(session: Link, intent: dict[str, Any]) -> str:
        """Where Stripe sends the customer back: a portal session's cookie (SameSite=Lax, so
        sent on that top-level return) is enough for its page; a pay link's page needs its
        token again (a bank's app may hand the return to another browser): the intent's own
        link while it lasts, else (an old intent, reached through a fresh pay link) a link
        that lasts as long as this session."""
        if session.scope == PORTAL:
            return f"{parts.links.public}/pay/{intent['id']}"
        if pay_link_expires(intent) > parts.clock():
            return parts.links.confirmation_url(intent, session.account)
        return parts.links.pay_url(
            intent["id"], session.customer, session.account, session.livemode, session.expires
        )

    async def client_secret(request: Request) -> Response:
        session = sessions.checked_post(request, None)
        intent_id = intent_of(request)
        if not session.allows(intent_id):
            raise PageRefused("not_found")
        resource = "payment_intents" if intent_id.startswith("pi_") else "setup_intents"
        intent = await owned(session, resource, intent_id)
        return JSONResponse({"client_secret": intent["client_secret"]}, headers=headers)

    async def payment_methods(request: Request) -> Response:
        if "link" in request.query_params:
            return sessions.open(request, request.query_params["link"])
        session = portal_session(request)
        ready()
        methods = await run_in_threadpool(
            parts.methods, session.customer, session.account, session.livemode
        )
        notice, refresh = _expectation(request, methods)
        return render(
            "payment_methods.html",
            title="Payment methods",
            page="payment-methods",
            methods=methods,
            csrf=sessions.csrf(session),
            form_key=secrets.token_urlsafe(12),
            notice=notice,
            refresh_seconds=1 if refresh else None,
            refresh_url=refresh,
        )

    def portal_session(request: Request) -> Link:
        session = sessions.session(request)
        if session.scope != PORTAL:
            raise PageRefused("portal_only")
        return session

    def portal_checked(request: Request, form: dict[str, str]) -> Link:
        session = sessions.checked_post(request, form)
        if session.scope != PORTAL:
            raise PageRefused("portal_only")
        return session

    def portal_caller(session: Link, form: dict[str, str]) -> Caller:
        """The customer as the services' caller, under the form's own idempotency key."""
        key = form.get("key", "")
        if not 8 <= len(key) <= 200 or not key.isprintable():
            raise PageRefused("csrf")
        return Caller(f"portal:{session.customer}", key, session.account)

    async def portal_post(request: Request) -> tuple[Link, Caller, CustomerService]:
        form = await read_form(request)
        session = portal_checked(request, form)
        _, customers, _ = ready()
        return session, portal_caller(session, form), customers

    def subscription_service() -> tuple[StripeApi, SubscriptionService]:
        stripe, _, _ = ready()
        if parts.subscriptions is None:
            raise PageRefused("unavailable")
        return stripe, parts.subscriptions

    async def add_method(request: Request) -> Response:
        session, caller, customers = await portal_post(request)
        outcome = await run_in_threadpool(
            customers.save_payment_method, caller, session.customer, NewSetup(type="card")
        )
        setup_id = outcome.body.get("id")
        await record(caller, "setup_intents.create", outcome.status, setup_id)
        if outcome.status >= 400 or not isinstance(setup_id, str):
            raise PageRefused("unavailable")
        return RedirectResponse(f"/pay/{setup_id}", 303)

    async def change_method(request: Request) -> Response:
        action = request.path_params["action"]
        method_id = request.path_params["method"]
        if action not in ("remove", "default") or not METHOD_ID.match(method_id):
            raise PageRefused("not_found")
        session, caller, customers = await portal_post(request)
        await owned(session, "payment_methods", method_id)
        if action == "remove":
            outcome = await run_in_threadpool(customers.detach_payment_method, caller, method_id)
        else:
            outcome = await run_in_threadpool(
                customers.set_default_payment_method, caller, session.customer, method_id
            )
        await record(caller, f"payment_methods.{action}", outcome.status, method_id)
        if outcome.status >= 400:
            raise PageRefused("unavailable")
        expect = "detached" if action == "remove" else "default"
        return RedirectResponse(f"/portal/payment-methods?expect={expect}:{method_id}", 303)

    async def record(caller: Caller, operation: str, status: int, object_id: Any) -> None:
        detail = {"idempotency_key": caller.idempotency_key, "object_id": object_id}
        await run_in_threadpool(parts.audit, caller.name, f"portal.{operation}", status, detail)

    async def theme_css(request: Request) -> Response:
        return Response(parts.theme.css(), media_type="text/css", headers=headers)

    async def page_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return refused(exc.kind)

    async def link_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LinkRefused)
        return refused(exc.reason)

    async def stripe_failed(request: Request, exc: Exception) -> Response:
        log.warning("a page could not reach Stripe", extra={"reason": type(exc).__name__})
        return refused("unavailable")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return refused("not_found" if exc.status_code == 404 else "bad_request")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("a page failed", extra={"reason": type(exc).__name__})
        return refused("error")

    portal = PortalTools(
        render=render,
        session=portal_session,
        checked_post=portal_checked,
        csrf=sessions.csrf,
        owned=owned,
        record=record,
        caller=portal_caller,
        ready=subscription_service,
        overview=parts.overview,
        plan_prices=parts.plan_prices,
    )
    static = resources.files("billing_ledger.web.pages").joinpath("static")
    return Starlette(
        routes=[
            Route("/pay/" + INTENT, pay, methods=["GET"]),
            Route("/pay/" + INTENT + "/client-secret", client_secret, methods=["POST"]),
            Route("/portal/payment-methods", payment_methods, methods=["GET"]),
            Route("/portal/payment-methods/new", add_method, methods=["POST"]),
            Route(
                "/portal/payment-methods/{method:str}/{action:str}",
                change_method,
                methods=["POST"],
            ),
            *subscription_routes(portal),
            Route("/pages/theme.css", theme_css, methods=["GET"]),
            Mount("/pages/static", StaticFiles(directory=str(static)), name="static"),
        ],
        exception_handlers={
            PageRefused: page_refused,
            LinkRefused: link_refused,
            StripeApiError: stripe_failed,
            HTTPException: http_error,
            Exception: server_error,
        },
    )


def _expectation(request: Request, methods: list[SavedMethod]) -> tuple[str | None, str | None]:
    """The notice after a change, and the URL to refresh to while the webhook that shows it
    has not arrived yet (a few times; Stripe's events usually take well under a second)."""
    expect = request.query_params.get("expect", "")
    state, _, method_id = expect.partition(":")
    if state not in ("attached", "detached", "default") or not METHOD_ID.match(method_id):
        return None, None
    listed = {m.id: m for m in methods}
    shown = {
        "attached": method_id in listed,
        "detached": method_id not in listed,
        "default": method_id in listed and listed[method_id].default,
    }[state]
    notice = {
        "attached": "Your payment method is saved.",
        "detached": "The payment method was removed.",
        "default": "Your default payment method was changed.",
    }[state]
    given = request.query_params.get("tries", "0")
    tries = int(given) if given.isdigit() and len(given) < 3 else 15
    if shown or tries >= 15:
        return notice, None
    return notice, f"/portal/payment-methods?expect={expect}&tries={tries + 1}"


__all__ = ["PREFIXES", "REFUSALS", "PageParts", "create_pages"]
