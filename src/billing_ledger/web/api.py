"""The HTTP API, `/api/v1`: JSON in and out, bearer tokens with scopes, `Idempotency-Key`.

Every write is a command (`stripe_api/`): it needs a token with the endpoint's scope and an
`Idempotency-Key` header; a repeated key gets the recorded answer (`Idempotent-Replayed:
true`), the same key with another body a 422, and nothing is sent to Stripe twice. Each use of
a write scope is recorded in `billing.audit_log` (actor `token:<name>`). Reads (`read` scope)
come from the `billing` tables, which Stripe's webhooks fill: right after a command they may
not show its effect yet. The finance lists also take the finance dashboard's session cookie
for GETs, so the dashboard's figures link to their rows (`dashboard_read`).

Every refusal is `{"error": reason}`: 401 (no or unknown token), 403 (scope), 404, 409 (Stripe
still busy with this key), 422 (invalid body, missing or reused key, Stripe refused the
parameters), 429 (Stripe rate limit), 502 (Stripe refused our key, or an answer we cannot
use), 503 (Stripe unavailable, or no `STRIPE_API_KEY`). A failed payment is 402 with Stripe's
`code`, `decline_code` and message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billing_ledger.stripe_api.commands import Caller, KeyReused, Outcome
from billing_ledger.stripe_api.errors import TransientStripeError
from billing_ledger.stripe_api.idempotency import valid_caller_key
from billing_ledger.web.dashboard import access
from billing_ledger.web.endpoints import ENDPOINTS, Endpoint, Services, run_of
from billing_ledger.web.finance_reads import FinanceReads, finance_routes
from billing_ledger.web.openapi import openapi_document
from billing_ledger.web.pages.sessions import PageRefused, Sessions
from billing_ledger.web.reads import InvalidQuery
from billing_ledger.web.tokens import ApiToken, TokenStore

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024
log = logging.getLogger(__name__)


@dataclass
class ApiParts:
    """What the API acts through: tokens, the services (None without a Stripe key), the
    audit trail and the read side (single rows, and the finance lists)."""

    tokens: TokenStore
    services: Services | None
    audit: Callable[[ApiToken, str, int, dict[str, Any]], None]
    read: Callable[[str, str, str], dict[str, Any] | None]
    finance: FinanceReads | None = None
    dashboard: Sessions | None = None
    """The finance dashboard's sessions: their cookie reads the finance lists (GET), see
    `dashboard_read`."""


def refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def create_api(parts: ApiParts) -> Starlette:
    document = openapi_document(API_PREFIX)

    async def authorize(request: Request, scope: str) -> ApiToken | Response:
        """The request's bearer token if it has `scope`, else the refusal."""
        token = await run_in_threadpool(_authenticate, parts.tokens, request)
        if token is None:
            return refuse(
                401,
                "a valid bearer token is required",
                {"WWW-Authenticate": 'Bearer realm="billing-ledger"'},
            )
        if scope not in token.scopes:
            return refuse(403, f"this token lacks the {scope} scope")
        return token

    async def guard(request: Request, scope: str) -> Response | None:
        if parts.dashboard is not None and "authorization" not in request.headers:
            if access.COOKIE in request.cookies and scope == "read":
                return dashboard_read(parts.dashboard, request)
        allowed = await authorize(request, scope)
        return allowed if isinstance(allowed, Response) else None

    def endpoint(spec: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            token = await authorize(request, spec.scope)
            if isinstance(token, Response):
                return token
            ids = dict(request.path_params)
            if not all(spec.id_pattern(name).match(value) for name, value in ids.items()):
                return refuse(404, "not found")
            if spec.read is not None:
                return await _read(parts, spec, request, ids)
            return await _write(parts, spec, request, token, ids)

        return handle

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "bad request")
        return refuse(exc.status_code, reason)

    routes = [Route(f"{API_PREFIX}/openapi.json", openapi, methods=["GET"])]
    routes += [
        Route(
            f"{API_PREFIX}{spec.path}", endpoint(spec), methods=[spec.method], name=spec.operation
        )
        for spec in ENDPOINTS
    ]
    if parts.finance is not None:
        routes += finance_routes(API_PREFIX, guard, parts.finance)
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.router.redirect_slashes = False
    return app


def dashboard_read(sessions: Sessions, request: Request) -> Response | None:
    """A finance list read with a dashboard session's cookie instead of a bearer token, so
    that each figure of the page links to its rows: GET only (the lists are read-only and
    the browser sends the SameSite=Lax cookie on top-level GETs alone; no CORS header is
    ever sent, so another origin cannot read the answer). A session pinned to one account
    and mode (a dashboard link's) reads only with `account` and `livemode` naming them."""
    try:
        session = sessions.session(request)
    except PageRefused as e:
        return refuse(401, f"the dashboard session is {e.kind.replace('_', ' ')}: sign in again")
    if session.scope == access.PINNED:
        query = request.query_params
        wanted = (session.account, "true" if session.livemode else "false")
        if (query.get("account"), query.get("livemode")) != wanted or (
            len(query.getlist("account")) != 1 or len(query.getlist("livemode")) != 1
        ):
            return refuse(
                403,
                "this dashboard session reads only its own account and mode: give "
                f"account={session.account}&livemode={wanted[1]}",
            )
    return None


def _authenticate(tokens: TokenStore, request: Request) -> ApiToken | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return tokens.authenticate(token.strip())


async def _read(parts: ApiParts, spec: Endpoint, request: Request, ids: dict[str, str]) -> Response:
    assert spec.read is not None
    account = request.headers.get("stripe-account", "")
    # An object's id, or for a collection (no id in the path) its query string.
    (object_id,) = ids.values() if ids else (request.url.query,)
    try:
        row = await run_in_threadpool(parts.read, spec.read, account, object_id)
    except InvalidQuery as e:
        return refuse(400, str(e))
    if row is None:
        return refuse(404, "not found (a new object appears once Stripe's webhook has arrived)")
    return JSONResponse(row)


async def _write(
    parts: ApiParts, spec: Endpoint, request: Request, token: ApiToken, ids: dict[str, str]
) -> Response:
    key = request.headers.get("idempotency-key")
    if not valid_caller_key(key):
        return refuse(422, "an Idempotency-Key header (1-255 printable characters) is required")
    assert key is not None
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return refuse(413, "body exceeds the size limit")
    try:
        asked: BaseModel = spec.body.model_validate_json(body or b"{}")
    except ValidationError as e:
        return refuse(422, _invalid(e))
    if parts.services is None:
        return refuse(503, "Stripe is not configured here (STRIPE_API_KEY is not set)")
    caller = Caller(token.name, key, request.headers.get("stripe-account", ""))
    services = parts.services
    try:
        outcome: Outcome = await run_in_threadpool(run_of(spec), services, caller, ids, asked)
    except KeyReused as e:
        await run_in_threadpool(parts.audit, token, spec.operation, 422, {"idempotency_key": key})
        return refuse(422, str(e))
    except TransientStripeError as e:
        await run_in_threadpool(
            parts.audit,
            token,
            spec.operation,
            e.status,
            {"idempotency_key": key, "stripe_request_id": e.request_id},
        )
        log.warning(
            "stripe refused for now",
            extra={"operation": spec.operation, "reason": type(e).__name__},
        )
        return refuse(e.status, e.message)
    await run_in_threadpool(
        parts.audit,
        token,
        spec.operation,
        outcome.status,
        {
            "idempotency_key": key,
            "command_id": outcome.command_id,
            "replayed": outcome.replayed,
            "object_id": outcome.body.get("id"),
        },
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.answer(), outcome.status, headers=headers)


def _invalid(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
    ]
    return "invalid request: " + "; ".join(problems[:5])
