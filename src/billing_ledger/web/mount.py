"""One server for the webhook endpoint, the API and the customer pages, each app unchanged by
the others."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from billing_ledger.web.api import API_PREFIX


def with_api(edge: ASGIApp, api: ASGIApp) -> ASGIApp:
    """`/api/v1` and below to `api`; every other path (and lifespan) to `edge`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await api(scope, receive, send)
        else:
            await edge(scope, receive, send)

    return app


def with_pages(edge: ASGIApp, pages: ASGIApp, prefixes: tuple[str, ...]) -> ASGIApp:
    """Paths under `prefixes` (`/pay/`, `/portal/`, `/pages/`) to `pages`; the rest to `edge`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(prefixes):
            await pages(scope, receive, send)
        else:
            await edge(scope, receive, send)

    return app
