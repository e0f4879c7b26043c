"""The Starlette app: POST /webhooks/stripe, GET /healthz, /readyz, /metrics.

A webhook is answered 200 only once the log of record has durably accepted it. Nothing that
fails verification or parsing is appended; every refusal is a JSON `{"error": reason}` and is
counted in /metrics by reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billing_ledger.eventlog.port import EventLog, EventRecord, LogUnavailable
from billing_ledger.ingest.signature import SignatureError, verify
from billing_ledger.metrics import APPEND_SECONDS, REGISTRY, WEBHOOKS_ACCEPTED, WEBHOOKS_REJECTED
from billing_ledger.schemas.envelope import MalformedEvent, parse_event

WEBHOOK_PATH = "/webhooks/stripe"


class BodyTooLarge(Exception):
    pass


def create_app(
    event_log: EventLog,
    secrets: Sequence[str],
    *,
    tolerance_seconds: int = 300,
    max_body_bytes: int = 1024 * 1024,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """Build the ingest app around an opened event log; the caller owns the log's lifetime."""
    secrets = tuple(secrets)

    async def receive_webhook(request: Request) -> Response:
        try:
            body = await _read_body(request, max_body_bytes)
        except BodyTooLarge:
            return _refuse(413, "body exceeds the size limit")
        try:
            verify(
                body,
                request.headers.get("stripe-signature"),
                secrets,
                now=int(clock()),
                tolerance=tolerance_seconds,
            )
        except SignatureError as e:
            return _refuse(400, e.reason)
        try:
            event = parse_event(body)
        except MalformedEvent as e:
            return _refuse(400, e.reason)
        record = EventRecord(
            body=body,
            event_id=event.id,
            event_type=event.type,
            created=event.created,
            livemode=event.livemode,
            account=event.account_id,
            api_version=event.api_version,
            received_at=datetime.fromtimestamp(clock(), UTC),
            partition_key=event.partition_key,
        )
        started = time.perf_counter()
        try:
            await run_in_threadpool(event_log.append, record)
        except LogUnavailable:
            return _refuse(503, "event log unavailable, retry later")
        APPEND_SECONDS.observe(time.perf_counter() - started)
        WEBHOOKS_ACCEPTED.labels(event.type).inc()
        return JSONResponse({"received": True})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await run_in_threadpool(event_log.ping)
        except LogUnavailable:
            return JSONResponse({"status": "unavailable", "error": "event log unavailable"}, 503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
        return _refuse(exc.status_code, reason, headers=exc.headers)

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, reason: str, headers: Mapping[str, str] | None = None) -> Response:
    WEBHOOKS_REJECTED.labels(reason).inc()
    return JSONResponse({"error": reason}, status_code=status, headers=headers)
