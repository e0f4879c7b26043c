"""The subscription overview's routes, under the portal session of /portal/payment-methods.

    GET  /portal/subscriptions                 subscriptions, next invoice, invoices, payments
    POST /portal/subscriptions/{sub}/cancel    cancel at period end (a command, CSRF-checked)
    POST /portal/subscriptions/{sub}/resume    undo it
    POST /portal/subscriptions/{sub}/preview   what a plan change would invoice (Stripe's preview)
    POST /portal/subscriptions/{sub}/change    the change, as of the previewed proration date

Lists come from the tables; a change shows once its webhook has arrived (the page refreshes
itself a few times until then). A subscription is acted on only if Stripe says it is the
session customer's, else "not found", as for an unknown id.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from billing_ledger.stripe_api.client import StripeApi
from billing_ledger.stripe_api.commands import Caller
from billing_ledger.stripe_api.subscription_requests import Cancellation, SubscriptionChange
from billing_ledger.stripe_api.subscriptions import SubscriptionService
from billing_ledger.web.pages.links import Link
from billing_ledger.web.pages.money import display_amount
from billing_ledger.web.pages.overview import OVERDUE, Overview, SubscriptionLine, day
from billing_ledger.web.pages.plans import Plan, Plans
from billing_ledger.web.pages.sessions import PageRefused, read_form

SUB_ID = re.compile(r"^sub_[A-Za-z0-9]+$")
PRICE_ID = re.compile(r"^price_[A-Za-z0-9_]+$")
NOTICES = {
    "ending": "Your subscription will end at the end of this period.",
    "continues": "Your subscription continues.",
    "plan": "Your plan was changed.",
}
TRIES = 15


@dataclass
class PortalTools:
    """What the routes share with the other pages (built in `app.create_pages`)."""

    render: Callable[..., Response]
    session: Callable[[Request], Link]
    """The portal session of a GET (PageRefused otherwise)."""
    checked_post: Callable[[Request, dict[str, str]], Link]
    """The portal session of a POST whose CSRF token and origin are right."""
    csrf: Callable[[Link], str]
    owned: Callable[[Link, str, str], Awaitable[dict[str, Any]]]
    record: Callable[[Caller, str, int, Any], Awaitable[None]]
    caller: Callable[[Link, dict[str, str]], Caller]
    ready: Callable[[], tuple[StripeApi, SubscriptionService]]
    overview: Callable[[str, str, bool], Overview]
    plan_prices: tuple[str, ...] = ()
    """PAGES_PLAN_PRICES: the plans offered (empty: the account's catalog)."""


def subscription_routes(tools: PortalTools) -> list[Route]:
    async def overview(request: Request) -> Response:
        session = tools.session(request)
        stripe, _ = tools.ready()
        found = await run_in_threadpool(
            tools.overview, session.customer, session.account, session.livemode
        )
        plans = Plans(stripe, session.account, tools.plan_prices)
        cards = await run_in_threadpool(_cards, plans, session, found)
        pay = await run_in_threadpool(_open_payments, plans, found)
        notice, refresh = _expectation(request, found)
        return tools.render(
            "subscriptions.html",
            title="Subscriptions",
            page="subscriptions",
            overview=found,
            cards=cards,
            pay=pay,
            csrf=tools.csrf(session),
            form_key=secrets.token_urlsafe(12),
            notice=notice,
            refresh_seconds=1 if refresh else None,
            refresh_url=refresh,
        )

    async def owned_sub(
        request: Request,
    ) -> tuple[str, Link, Caller, dict[str, str], dict[str, Any]]:
        sub_id = str(request.path_params["sub"])
        if not SUB_ID.match(sub_id):
            raise PageRefused("not_found")
        form = await read_form(request)
        session = tools.checked_post(request, form)
        caller = tools.caller(session, form)
        sub = await tools.owned(session, "subscriptions", sub_id)
        return sub_id, session, caller, form, sub

    async def offered(request: Request) -> tuple[Link, Caller, str, Plan, dict[str, str]]:
        """A plan change's subscription and plan: one the page offers it (a price of the same
        currency and period, active), else "not found"."""
        sub_id, session, caller, form, sub = await owned_sub(request)
        stripe, _ = tools.ready()
        price = _price(form)
        plan = await run_in_threadpool(
            _offered, Plans(stripe, session.account, tools.plan_prices), sub, price
        )
        if plan is None:
            raise PageRefused("not_found")
        return session, caller, sub_id, plan, form

    async def cancel_or_resume(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ("cancel", "resume"):
            raise PageRefused("not_found")
        sub_id, _, caller, _, _ = await owned_sub(request)
        _, service = tools.ready()
        if action == "cancel":
            outcome = await run_in_threadpool(
                service.cancel, caller, sub_id, Cancellation(at_period_end=True)
            )
        else:
            outcome = await run_in_threadpool(service.resume, caller, sub_id)
        await tools.record(caller, f"subscriptions.{action}", outcome.status, sub_id)
        if outcome.status >= 400:
            raise PageRefused("unavailable")
        expect = "ending" if action == "cancel" else "continues"
        return RedirectResponse(f"/portal/subscriptions?expect={expect}:{sub_id}", 303)

    async def preview(request: Request) -> Response:
        session, caller, sub_id, plan, _ = await offered(request)
        _, service = tools.ready()
        outcome = await run_in_threadpool(
            service.preview, caller, sub_id, SubscriptionChange(price=plan.price)
        )
        if outcome.status >= 400:
            raise PageRefused("unavailable")
        body = outcome.body
        currency = str(body.get("currency"))
        lines = [
            {"description": line.get("description") or "", "amount": _signed(line, currency)}
            for line in body.get("lines") or []
        ]
        return tools.render(
            "subscription_change.html",
            title="Change plan",
            page="subscription-change",
            plan=plan,
            lines=lines,
            total=display_amount(int(body.get("total") or 0), currency),
            sub_id=sub_id,
            proration_date=body.get("proration_date"),
            csrf=tools.csrf(session),
            form_key=secrets.token_urlsafe(12),
        )

    async def change(request: Request) -> Response:
        _, caller, sub_id, plan, form = await offered(request)
        _, service = tools.ready()
        price = plan.price
        given = form.get("proration_date", "")
        at = int(given) if given.isdigit() and len(given) <= 12 else None
        change = SubscriptionChange(price=price, proration_date=at)
        outcome = await run_in_threadpool(service.change, caller, sub_id, change)
        await tools.record(caller, "subscriptions.change", outcome.status, sub_id)
        if outcome.status >= 400:
            raise PageRefused("unavailable")
        return RedirectResponse(f"/portal/subscriptions?expect=plan:{sub_id}:{price}", 303)

    return [
        Route("/portal/subscriptions", overview, methods=["GET"]),
        Route("/portal/subscriptions/{sub:str}/preview", preview, methods=["POST"]),
        Route("/portal/subscriptions/{sub:str}/change", change, methods=["POST"]),
        Route("/portal/subscriptions/{sub:str}/{action:str}", cancel_or_resume, methods=["POST"]),
    ]


@dataclass(frozen=True)
class Card:
    """One subscription as the page shows it."""

    line: SubscriptionLine
    plan: Plan | None
    choices: list[Plan]
    next_amount: str | None
    next_date: str | None
    ends: str | None
    trial_end: str | None

    @property
    def name(self) -> str:
        return self.plan.name if self.plan else "Subscription"


def _cards(plans: Plans, session: Link, found: Overview) -> list[Card]:
    cards = []
    for line in found.subscriptions:
        plan = plans.plan(line.plan_id, line.currency)
        next_amount = next_date = None
        if line.renews:
            upcoming = plans.next_invoice(session.customer, line.id)
            if upcoming is not None and isinstance(upcoming.get("amount_due"), int):
                next_amount = display_amount(upcoming["amount_due"], str(upcoming["currency"]))
                at = line.trial_end if line.status == "trialing" else line.period_end
                next_date = day(at)
        cards.append(
            Card(
                line,
                plan,
                plans.choices(plan) if plan is not None and line.renews else [],
                next_amount,
                next_date,
                day(line.period_end) if line.live and line.cancel_at_period_end else None,
                day(line.trial_end) if line.status == "trialing" else None,
            )
        )
    return cards


def _open_payments(plans: Plans, found: Overview) -> dict[str, str]:
    """The PaymentIntent to pay each past-due invoice with, by invoice id."""
    pay = {i.id: i.payment_intent for i in found.past_due if i.payment_intent}
    for line in found.subscriptions:
        if line.status in OVERDUE:
            open_payment = plans.open_payment(line.id)
            if open_payment is not None:
                pay.setdefault(*open_payment)
    return pay


def _offered(plans: Plans, sub: dict[str, Any], price: str) -> Plan | None:
    items = (sub.get("items") or {}).get("data") or []
    current = (items[0].get("price") or {}) if items else {}
    if not isinstance(current, dict) or sub.get("status") not in ("active", "trialing", "past_due"):
        return None
    plan = plans.plan(str(current.get("id")), str(current.get("currency")))
    if plan is None:
        return None
    return next((p for p in plans.choices(plan) if p.price == price), None)


def _price(form: dict[str, str]) -> str:
    price = form.get("price", "")
    if not PRICE_ID.match(price):
        raise PageRefused("bad_request")
    return price


def _signed(line: dict[str, Any], currency: str) -> str:
    amount = int(line.get("amount") or 0)
    shown = display_amount(abs(amount), currency)
    return f"−{shown}" if amount < 0 else shown


def _expectation(request: Request, found: Overview) -> tuple[str | None, str | None]:
    """The notice after a change, and the URL to refresh to while the webhook that shows it
    has not arrived yet."""
    expect = request.query_params.get("expect", "")
    state, _, rest = expect.partition(":")
    sub_id, _, price = rest.partition(":")
    if state not in NOTICES or not SUB_ID.match(sub_id):
        return None, None
    if state == "plan" and not PRICE_ID.match(price):
        return None, None
    line = next((s for s in found.subscriptions if s.id == sub_id), None)
    shown = (
        line is not None
        and {
            "ending": line.cancel_at_period_end,
            "continues": not line.cancel_at_period_end,
            "plan": line.plan_id == price,
        }[state]
    )
    given = request.query_params.get("tries", "0")
    tries = int(given) if given.isdigit() and len(given) < 3 else TRIES
    if shown or tries >= TRIES:
        return NOTICES[state], None
    return NOTICES[state], f"/portal/subscriptions?expect={expect}&tries={tries + 1}"
