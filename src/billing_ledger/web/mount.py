"""One server for the webhook endpoint, the API and the customer pages, each app unchanged by
the others."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from billing_ledger.infra.metrics import read_shared_exposition
from billing_ledger.web.api import API_PREFIX

METRICS_PATH = "/metrics"


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


def metrics_from(exposition: str, edge: ASGIApp) -> ASGIApp:
    """`GET /metrics` answered with what the first serving process exposes at the Unix socket
    `exposition` (every process's counts, infra/metrics.py); everything else to `edge`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope.get("path") == METRICS_PATH
            and scope.get("method") in ("GET", "HEAD")
        ):
            await edge(scope, receive, send)  # other methods get the edge's own 405
            return
        response: Response
        try:
            body = await asyncio.to_thread(read_shared_exposition, exposition)
        except OSError:
            response = JSONResponse({"error": "metrics unavailable"}, status_code=503)
        else:
            response = Response(body, media_type=CONTENT_TYPE_LATEST)
        await response(scope, receive, send)

    return app
