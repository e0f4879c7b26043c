"""The finance dashboard's routes.

    GET  /dashboard?link=…            a signed link (`billing-ledger dashboard-link`) → session
    GET  /dashboard                   the figures (`?account=&livemode=&currency=`)
    GET  /dashboard/login             the form that trades a `read` API token for a session
    POST /dashboard/login             (CSRF: the form's own short cookie and token)
    POST /dashboard/logout            ends the session (CSRF)
    GET  /dashboard/static/…          the page's script, styles and the vendored Chart.js

The theme is the customer pages' (`/pages/theme.css`, `/pages/static/pages.css`) and so is the
session machinery (`pages/sessions.py`), under a cookie and scopes of its own (`access.py`).
Every refusal is a page with a status code that says what to do; none shows a figure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from billing_ledger.web.dashboard import access
from billing_ledger.web.dashboard.figures import Figures
from billing_ledger.web.dashboard.page import context
from billing_ledger.web.dashboard.refusals import refusal_page
from billing_ledger.web.listing import BadRequest, parse_account, parse_currency, parse_livemode
from billing_ledger.web.pages.links import Link, LinkRefused, LinkSigner
from billing_ledger.web.pages.security import security_headers
from billing_ledger.web.pages.sessions import PageRefused, Sessions, read_form
from billing_ledger.web.tokens import ApiToken

log = logging.getLogger(__name__)


@dataclass
class DashboardParts:
    signer: LinkSigner
    public_base_url: str
    figures: Callable[[access.View, str | None], Figures]
    authenticate: Callable[[str], ApiToken | None]
    """The active API token a login form's text is, or None (`TokenStore.authenticate`)."""
    frame_ancestors: str
    clock: Callable[[], float]


def dashboard_policy(frame_ancestors: str) -> str:
    """This origin only: no inline script or style, no eval, no third party."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"object-src 'none'; frame-ancestors {frame_ancestors}"
    )


def dashboard_sessions(parts: DashboardParts) -> Sessions:
    """The dashboard's sessions (cookie `bl_dashboard`), also read by the API for GETs."""
    return Sessions(
        parts.signer,
        parts.public_base_url,
        parts.clock,
        cookie=access.COOKIE,
        accepts=access.is_dashboard,
    )


def create_dashboard(parts: DashboardParts) -> Starlette:
    sessions = dashboard_sessions(parts)
    login_forms = Sessions(
        parts.signer,
        parts.public_base_url,
        parts.clock,
        cookie=access.LOGIN_COOKIE,
        accepts=access.is_login_form,
    )
    headers = security_headers(dashboard_policy(parts.frame_ancestors), https=sessions.https)
    templates = Environment(
        loader=PackageLoader("billing_ledger.web.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
    )

    def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("title", "Finance dashboard")
        html = templates.get_template(name).render(**values)
        return HTMLResponse(html, status, headers=headers)

    def refused(kind: str) -> Response:
        page = refusal_page(kind)
        return render("message.html", **page)

    async def dashboard(request: Request) -> Response:
        if "link" in request.query_params:
            return sessions.open(request, request.query_params["link"])
        session = sessions.session(request)
        view, currency = _asked(request, session)
        figures = await run_in_threadpool(parts.figures, view, currency)
        return render(
            "dashboard.html",
            **context(figures),
            page="dashboard",
            width="wide",
            charts=True,
            session=session,
            choose=session.scope == access.ALL,
            csrf=sessions.csrf(session),
        )

    async def login_page(request: Request, status: int = 200, problem: str = "") -> Response:
        form, cookie = parts.signer.session(access.login_form(parts.clock()), parts.clock())
        response = render(
            "login.html",
            status,
            title="Sign in to the finance dashboard",
            csrf=parts.signer.csrf_token(form),
            problem=problem,
        )
        response.set_cookie(
            access.LOGIN_COOKIE,
            cookie,
            max_age=access.LOGIN_SECONDS,
            path="/dashboard/login",
            secure=sessions.https,
            httponly=True,
            samesite="strict",
        )
        return response

    async def login(request: Request) -> Response:
        form = await read_form(request)
        login_forms.checked_post(request, form)
        given = form.get("token", "").strip()
        token = await run_in_threadpool(parts.authenticate, given) if given else None
        if token is None:
            return await login_page(request, 401, "This token is not valid (or was revoked).")
        if "read" not in token.scopes:
            return await login_page(
                request, 403, "This token lacks the read scope: the dashboard needs a read token."
            )
        now = parts.clock()
        opened, cookie = parts.signer.session(access.token_session(now), now)
        response = RedirectResponse("/dashboard", 303)
        response.set_cookie(
            access.COOKIE,
            cookie,
            max_age=max(1, opened.expires - int(now)),
            path="/",
            secure=sessions.https,
            httponly=True,
            samesite="lax",
        )
        response.delete_cookie(access.LOGIN_COOKIE, path="/dashboard/login")
        log.info("dashboard session opened", extra={"token": token.name})
        return response

    async def logout(request: Request) -> Response:
        form = await read_form(request)
        sessions.checked_post(request, form)
        response = RedirectResponse("/dashboard/login", 303)
        response.delete_cookie(access.COOKIE, path="/")
        return response

    async def page_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return refused(exc.kind)

    async def link_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LinkRefused)
        return refused(exc.reason)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return refused("not_found" if exc.status_code == 404 else "bad_request")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("the dashboard failed", extra={"reason": type(exc).__name__})
        return refused("error")

    static = resources.files("billing_ledger.web.dashboard").joinpath("static")
    return Starlette(
        routes=[
            Route("/dashboard", dashboard, methods=["GET"]),
            Route("/dashboard/login", login_page, methods=["GET"]),
            Route("/dashboard/login", login, methods=["POST"]),
            Route("/dashboard/logout", logout, methods=["POST"]),
            Mount("/dashboard/static", StaticFiles(directory=str(static)), name="static"),
        ],
        exception_handlers={
            PageRefused: page_refused,
            LinkRefused: link_refused,
            HTTPException: http_error,
            Exception: server_error,
        },
    )


def _asked(request: Request, session: Link) -> tuple[access.View, str | None]:
    """The account, mode and currency asked for, within what the session may show."""
    query = request.query_params
    try:
        account = parse_account(query["account"]) if "account" in query else None
        livemode = parse_livemode(query["livemode"]) if "livemode" in query else None
        currency = parse_currency(query["currency"]) if query.get("currency") else None
    except BadRequest:
        raise PageRefused("bad_request") from None
    view = access.view_of(session, account, livemode)
    if view is None:
        raise PageRefused("other_account")
    return view, currency


__all__ = ["DashboardParts", "create_dashboard", "dashboard_policy", "dashboard_sessions"]
