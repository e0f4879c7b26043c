"""Where one webhook's CPU goes in ingest, step by step (a stopwatch, not HTTP).

    python -m benchmarks.ingest_steps --bodies 4000

Each step of `POST /webhooks/stripe` is run over the same signed ~3 KB bodies the ingest
benchmark posts, in this process, and timed in CPU time (time.thread_time, or process_time
where worker threads share the work), so the figures hold on a busy machine: verifying the
signature, parsing the envelope, sealing (from the body as parsed once: its personal fields
found and tokenised, the body sealed, the facts written as JSON), the durable append to the
Postgres log from 64 concurrent callers (the Python side: the worker-thread hop and the
group-commit writer; PostgreSQL's own CPU is not in it), the log line (JSON, to a file), the
metrics, the response object; then the whole app through ASGI with 64 concurrent requests
(the secret-usage counted in its appends; everything but the HTTP server, whose share is what
the bare endpoint of `benchmarks.ingest --targets bare` costs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from benchmarks.history import Shape, bodies
from benchmarks.infra import MASTER_KEY_TEXT, conditions, fresh_database, postgres_server
from billing_ledger import bootstrap
from billing_ledger.eventlog.port import EventRecord
from billing_ledger.infra import logs
from billing_ledger.infra.metrics import APPEND_SECONDS, WEBHOOKS_ACCEPTED
from billing_ledger.ingest import app as ingest_app
from billing_ledger.ingest import sealing
from billing_ledger.ingest.signature import sign, verify
from billing_ledger.schemas import fastjson
from billing_ledger.schemas.envelope import parse_event
from billing_ledger.schemas.personal import facts_of
from billing_ledger.settings import Settings
from tests.support.webhooks import SECRET

CONCURRENCY = 64


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=4000)
    args = parser.parse_args()
    print(f"ingest steps  {conditions()}")
    raw = list(bodies(Shape(seed=11, customers=max(1, args.bodies // 50)), args.bodies))
    now = int(time.time())
    headers = [sign(body, SECRET, now) for body in raw]
    events = [parse_event(body) for body in raw]
    n = len(raw)
    rows: list[tuple[str, float]] = []

    def step(name: str, seconds: float) -> None:
        rows.append((name, seconds / n * 1e6))
        print(f"  {name:<52} {seconds / n * 1e6:8.1f} µs", flush=True)

    step(
        "verify signature (HMAC-SHA256)",
        _cpu(
            lambda: _drain(
                verify(b, h, [SECRET], now=now) for b, h in zip(raw, headers, strict=True)
            )
        ),
    )
    step("parse envelope (parse_event)", _cpu(lambda: _drain(parse_event(b) for b in raw)))
    with postgres_server() as server, fresh_database(server) as dsn:
        with bootstrap.connection_pool(dsn, 4) as pool:
            sealer = bootstrap.sealer(pool, bootstrap.master_key(_settings(dsn), dsn))
            for event, body in zip(events, raw, strict=True):
                sealer.seal(event, body)  # every key created once: the steady state follows
            documents = [fastjson.loads(b) for b in raw]
            step(
                "seal, keys in memory (seal_async, body parsed once), of which:",
                _cpu_async(
                    lambda: _each(
                        [
                            sealer.seal_async(e, b, d)
                            for e, b, d in zip(events, raw, documents, strict=True)
                        ]
                    )
                ),
            )
            keys = [
                sealer._keys.cached_subject_key(e.account_id, e.livemode, *_subject(e))
                for e in events
            ]
            step(
                "  . personal fields tokenised (facts_of)",
                _cpu(
                    lambda: _drain(
                        facts_of(fastjson.loads(b), k[1].seal_value)
                        for b, k in zip(raw, keys, strict=True)
                        if k and k[1]
                    )
                )
                - _cpu(lambda: _drain(fastjson.loads(b) for b in raw)),
            )
            step(
                "  . body sealed (AES-GCM)",
                _cpu(
                    lambda: _drain(
                        k[1].seal_body(b, e.id)
                        for b, e, k in zip(raw, events, keys, strict=True)
                        if k and k[1]
                    )
                ),
            )
            step(
                "  . facts written (orjson)",
                _cpu(lambda: _drain(sealing._dumps(d) for d in documents)),
            )
            records = [_record(e, b) for e, b in zip(events, raw, strict=True)]
            step(
                "build the log record",
                _cpu(lambda: _drain(_record(e, b) for e, b in zip(events, raw, strict=True))),
            )
            event_log = bootstrap.postgres_event_log(dsn)
            event_log.open()
            try:
                step(
                    "durable append, Python side (64 concurrent)",
                    _cpu_async(
                        lambda: _concurrently([event_log.append_async(r) for r in records]),
                        threads=True,
                    ),
                )
            finally:
                event_log.close()
            with open(os.devnull, "w") as sink:
                logs.configure("json", "INFO", sink)
                log = logging.getLogger("billing_ledger.ingest.app")

                def log_lines() -> None:
                    for e in events:
                        fields = {**ingest_app._event_fields(e), "outcome": "accepted"}
                        log.info("webhook accepted", extra={**fields, "latency_ms": 1.234})

                def count() -> None:
                    for e in events:
                        WEBHOOKS_ACCEPTED.labels(e.type).inc()
                        APPEND_SECONDS.observe(0.01)

                step("log line (JSON, written to /dev/null)", _cpu(log_lines))
                step("metrics (accepted counter, append histogram)", _cpu(count))
                step(
                    "response object (JSONResponse)",
                    _cpu(lambda: _drain(JSONResponse({"received": True}) for _ in raw)),
                )
                whole = _whole_app(dsn, pool, raw, headers)
                step("whole app through ASGI (64 concurrent, keys in memory; no HTTP)", whole)
    return 0


def _settings(dsn: str) -> Settings:
    return Settings(
        STRIPE_WEBHOOK_SECRETS=[SECRET],
        DATABASE_URL=dsn,
        BILLING_LEDGER_MASTER_KEY=MASTER_KEY_TEXT,  # type: ignore[arg-type]
    )


def _subject(event: Any) -> tuple[str | None, str]:
    from billing_ledger.schemas.personal import data_subject

    return data_subject(event)


def _record(event: Any, body: bytes) -> EventRecord:
    return EventRecord(
        body=body,
        event_id=event.id,
        event_type=event.type,
        created=event.created,
        livemode=event.livemode,
        account=event.account_id,
        api_version=event.api_version,
        received_at=datetime.now(UTC),
        partition_key=event.partition_key,
        sealed=body,
        data_subject="cus_x",
        verified_with="fp",
    )


def _whole_app(dsn: str, pool: Any, raw: list[bytes], headers: list[str]) -> float:
    settings = _settings(dsn)
    with bootstrap.opened_event_log(settings, dsn) as event_log:
        app = bootstrap.ingest_app(settings, event_log, pool, bootstrap.master_key(settings, dsn))

        async def one(body: bytes, header: str) -> None:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/webhooks/stripe",
                "raw_path": b"/webhooks/stripe",
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"stripe-signature", header.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
                "client": ("127.0.0.1", 1),
                "server": ("127.0.0.1", 8000),
            }
            sent = False

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    await asyncio.sleep(3600)
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            status: list[int] = []

            async def send(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])

            await app(scope, receive, send)
            if status != [200]:
                raise SystemExit(f"the app answered {status}")

        def requests() -> Any:
            return _concurrently([one(b, h) for b, h in zip(raw, headers, strict=True)])

        _cpu_async(requests, threads=True)  # the first pass loads every customer's key
        return _cpu_async(requests, threads=True)


async def _each(calls: list[Any]) -> None:
    for call in calls:
        await call


async def _concurrently(calls: list[Any]) -> None:
    queue = list(reversed(calls))

    async def worker() -> None:
        while queue:
            await queue.pop()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _drain(results: Iterable[object]) -> None:
    """Consume `results` without keeping them (live objects would make the GC's passes, and
    so every step, dearer than in the server)."""
    deque(results, maxlen=0)


def _cpu(work: Callable[[], object]) -> float:
    started = time.thread_time()
    work()
    return time.thread_time() - started


def _cpu_async(work: Callable[[], Any], *, threads: bool = False) -> float:
    """CPU seconds of running `work()`'s coroutine on a new asyncio loop (not uvloop, as the
    server runs: this thread only, or the whole process when worker threads take part)."""
    clock = time.process_time if threads else time.thread_time
    started = clock()
    asyncio.run(work())
    return clock() - started


if __name__ == "__main__":
    raise SystemExit(main())
