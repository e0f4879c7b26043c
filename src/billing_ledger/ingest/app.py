"""The Starlette app: POST /webhooks/stripe, GET /healthz, /readyz, /metrics.

A webhook is answered 200 only once the log of record has durably accepted it, sealed: what is
appended is the event's facts and its raw body under its customer's key (sealing.py), never its
personal values in the clear. It is answered 503 when the log has not accepted it within
`log_timeout_seconds` (the same bound holds for /readyz): Stripe counts a slow answer as a
failure, a load balancer's health check times out. Nothing that fails verification or parsing
is appended; every refusal is a JSON `{"error": reason}` with a reason from the bounded set
`REFUSAL_REASONS`, counted in /metrics by that reason. A correctly signed body that is not a
Stripe event is kept in the dead-letter record (it was verified) and answered 400. Log lines
carry ids, types and outcomes: never a body, signature or secret.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billing_ledger.eventlog.port import EventLog, EventRecord, LogUnavailable
from billing_ledger.eventlog.secret_usage import fingerprint
from billing_ledger.infra.keys import KeysUnavailable
from billing_ledger.infra.metrics import (
    APPEND_SECONDS,
    REGISTRY,
    WEBHOOKS_ACCEPTED,
    WEBHOOKS_REJECTED,
)
from billing_ledger.ingest.sealing import Sealer
from billing_ledger.ingest.signature import SIGNATURE_REASONS, SignatureError, verify
from billing_ledger.ingest.usage import GroupedUsage, SecretUsageRecorder
from billing_ledger.schemas.envelope import MalformedEvent, StripeEvent, event_of, parse_document

WEBHOOK_PATH = "/webhooks/stripe"
R = TypeVar("R")
StripeMode = Literal["test", "live"]

log = logging.getLogger(__name__)

TOO_LARGE = "body exceeds the size limit"
TOO_SLOW = "body not received in time"
WRONG_CONTENT_TYPE = "content type must be application/json"
NOT_JSON = "body is not valid JSON"
NOT_OBJECT = "body is not a JSON object"
NOT_AN_EVENT = "body is not a Stripe event"
LIVE_ON_TEST = "live event on a test-mode endpoint"
TEST_ON_LIVE = "test event on a live-mode endpoint"
LOG_DOWN = "event log unavailable, retry later"
NOT_FOUND = "not found"
WRONG_METHOD = "method not allowed"
BAD_REQUEST = "bad request"
RECEIVED = b'{"received":true}'
"""The answer to an accepted webhook (what JSONResponse({"received": True}) renders)."""
REFUSAL_REASONS = frozenset(
    {
        TOO_LARGE,
        TOO_SLOW,
        WRONG_CONTENT_TYPE,
        NOT_JSON,
        NOT_OBJECT,
        NOT_AN_EVENT,
        LIVE_ON_TEST,
        TEST_ON_LIVE,
        LOG_DOWN,
        NOT_FOUND,
        WRONG_METHOD,
        BAD_REQUEST,
    }
    | SIGNATURE_REASONS
)
"""Every `{"error": reason}` the app can answer: a bounded set, so metric labels stay bounded."""


class RejectedBodies(Protocol):
    """Where verified bodies that are not events are kept (the dead-letter record)."""

    def keep_rejected(self, body: bytes, reason: str) -> None:
        """Store durably before returning; raise LogUnavailable if that is not possible."""


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def create_app(
    event_log: EventLog,
    secrets: Sequence[str],
    *,
    dead_letters: RejectedBodies,
    secret_usage: SecretUsageRecorder | None,
    sealer: Sealer,
    tolerance_seconds: int = 300,
    max_body_bytes: int = 1024 * 1024,
    body_read_timeout_seconds: float = 10.0,
    stripe_mode: StripeMode | None = None,
    log_timeout_seconds: float = 2.0,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """Build the ingest app around an opened event log; the caller owns the log's lifetime.

    `log_timeout_seconds` bounds every wait for the log of record (and the dead-letter record):
    past it the answer is 503, whatever the adapter does meanwhile. `secret_usage` None: the
    log counts the secret of each record it stores itself (`verified_with`, as the Postgres
    log can in its append)."""

    async def within_log_timeout(call: Callable[..., R], *args: object) -> R:
        """`call` in a worker thread, left behind (not waited for) after the log timeout."""
        async with asyncio.timeout(log_timeout_seconds):
            return await anyio.to_thread.run_sync(call, *args, abandon_on_cancel=True)

    secrets = tuple(secrets)
    fingerprints = tuple(fingerprint(s) for s in secrets)
    usage = GroupedUsage(secret_usage) if secret_usage is not None else None

    async def receive_webhook(request: Request) -> Response:
        started = time.perf_counter()
        try:
            event, secret_index = await _accept(request)
        except _Refused as refused:
            _log_refusal(refused.reason, started)
            return _refuse(refused.status, refused.reason)
        if usage is not None:
            try:
                await usage.record(fingerprints[secret_index])
            except Exception:
                log.warning("could not record secret usage", extra={"event_id": event.id})
        WEBHOOKS_ACCEPTED.labels(event.type).inc()
        log.info(
            "webhook accepted",
            extra={**_event_fields(event), "outcome": "accepted", **_latency(started)},
        )
        return Response(RECEIVED, media_type="application/json")

    async def _accept(request: Request) -> tuple[StripeEvent, int]:
        if not _is_json(request.headers.get("content-type")):
            raise _Refused(415, WRONG_CONTENT_TYPE)
        body = await _read_body(request, max_body_bytes, body_read_timeout_seconds)
        try:
            verified = verify(
                body,
                request.headers.get("stripe-signature"),
                secrets,
                now=int(clock()),
                tolerance=tolerance_seconds,
            )
        except SignatureError as e:
            raise _Refused(400, e.reason) from None
        try:
            document = parse_document(body)
            event = event_of(document)
        except MalformedEvent as e:
            reason = e.reason if e.reason in (NOT_JSON, NOT_OBJECT) else NOT_AN_EVENT
            try:
                await within_log_timeout(dead_letters.keep_rejected, body, e.reason)
            except (LogUnavailable, TimeoutError):
                raise _Refused(503, LOG_DOWN) from None
            raise _Refused(400, reason) from None
        if stripe_mode == "test" and event.livemode:
            raise _Refused(400, LIVE_ON_TEST)
        if stripe_mode == "live" and not event.livemode:
            raise _Refused(400, TEST_ON_LIVE)
        await _append(event, body, document, fingerprints[verified.secret_index])
        return event, verified.secret_index

    async def _append(
        event: StripeEvent, body: bytes, document: dict[str, Any], verified_with: str
    ) -> None:
        try:
            sealed = await sealer.seal_async(event, body, document)
        except KeysUnavailable:
            raise _Refused(503, LOG_DOWN) from None
        record = EventRecord(
            body=sealed.facts,
            event_id=event.id,
            event_type=event.type,
            created=event.created,
            livemode=event.livemode,
            account=event.account_id,
            api_version=event.api_version,
            received_at=datetime.fromtimestamp(clock(), UTC),
            partition_key=event.partition_key,
            sealed=sealed.sealed,
            data_subject=sealed.subject,
            verified_with=verified_with,
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(log_timeout_seconds):
                await event_log.append_async(record)
        except (LogUnavailable, TimeoutError):
            raise _Refused(503, LOG_DOWN) from None
        APPEND_SECONDS.observe(time.perf_counter() - started)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await within_log_timeout(event_log.ping)
        except (LogUnavailable, TimeoutError):
            return JSONResponse({"status": "unavailable", "error": "event log unavailable"}, 503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = {404: NOT_FOUND, 405: WRONG_METHOD}.get(exc.status_code, BAD_REQUEST)
        return _refuse(exc.status_code, reason, headers=exc.headers)

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    # Stripe does not follow redirects: `/webhooks/stripe/` is an unknown path (404, counted),
    # not a 307 with an empty body.
    app.router.redirect_slashes = False
    return app


def _is_json(content_type: str | None) -> bool:
    """Stripe sends `application/json; charset=utf-8`; no other media type or charset."""
    if content_type is None:
        return False
    media_type, *params = (part.strip().lower() for part in content_type.split(";"))
    charsets = [p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")]
    return media_type == "application/json" and all(c == "utf-8" for c in charsets)


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The raw body, refused as soon as it is known to exceed `limit` or to arrive too slowly.

    The deadline covers the whole body, not each chunk: a client trickling one byte at a time
    (slow loris) is cut off after `timeout` seconds whatever its pace.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit():
        if int(declared) > limit:
            raise _Refused(413, TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _Refused(413, TOO_LARGE)
                chunks.append(chunk)
    except TimeoutError:
        raise _Refused(408, TOO_SLOW) from None
    except ClientDisconnect:
        raise _Refused(400, BAD_REQUEST) from None
    return b"".join(chunks)


def _event_fields(event: StripeEvent) -> dict[str, object]:
    return {
        "event_id": event.id,
        "event_type": event.type,
        "account": event.account_id,
        "livemode": event.livemode,
    }


def _latency(started: float) -> dict[str, float]:
    return {"latency_ms": round((time.perf_counter() - started) * 1000, 3)}


def _log_refusal(reason: str, started: float) -> None:
    log.info("webhook refused", extra={"outcome": "refused", "reason": reason, **_latency(started)})


def _refuse(status: int, reason: str, headers: Mapping[str, str] | None = None) -> Response:
    WEBHOOKS_REJECTED.labels(reason).inc()
    return JSONResponse({"error": reason}, status_code=status, headers=headers)
