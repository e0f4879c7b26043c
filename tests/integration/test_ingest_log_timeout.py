"""A log that never answers does not hold an answer back: /readyz and webhooks answer 503 within
the log timeout (Stripe and load balancers give up on slow endpoints), whatever the adapter."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping

import httpx
import pytest

from billing_ledger import bootstrap
from billing_ledger.eventlog.port import EventLog, EventRecord, LoggedEvent, PositionLookup
from billing_ledger.infra.master_key import FileMasterKey
from billing_ledger.ingest.app import create_app
from billing_ledger.ingest.sealing import Sealer
from tests.support.http_server import serving
from tests.support.stripe import customer, event
from tests.support.webhooks import MASTER_KEY, SECRET, body_of, signed_headers

TIMEOUT_SECONDS = 0.5
MARGIN_SECONDS = 3.0
BODY = body_of(event("customer.created", customer("cus_Stuck")))


class SilentLog(EventLog):
    """Blocks every call that would reach the log until released (a broker that accepts the
    connection and never answers). `append_async` is the port's default: `append` in a thread."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def append(self, record: EventRecord) -> None:
        self.released.wait()

    def ping(self) -> None:
        self.released.wait()

    def follow(
        self, processed: PositionLookup, stop: threading.Event, batch_size: int = 500
    ) -> Generator[list[LoggedEvent], None, None]:
        raise NotImplementedError
        yield []

    def replay(
        self, processed: PositionLookup, until: Mapping[str, int], batch_size: int = 500
    ) -> Iterator[list[LoggedEvent]]:
        raise NotImplementedError

    def has_follower(self) -> bool:
        raise NotImplementedError

    def head(self) -> dict[str, int]:
        raise NotImplementedError

    def close(self) -> None:
        self.released.set()


class SilentAsyncLog(SilentLog):
    """Awaits an acknowledgement that never comes (as the Kafka log awaits its delivery report)."""

    async def append_async(self, record: EventRecord) -> None:
        await asyncio.Event().wait()


class NoDeadLetters:
    def keep_rejected(self, body: bytes, reason: str) -> None:
        raise AssertionError("not expected here")


class NoUsage:
    def record(self, secret_fingerprint: str, count: int = 1) -> None:
        raise AssertionError("nothing is accepted here")


@pytest.fixture(params=[SilentLog, SilentAsyncLog])
def client(request: pytest.FixtureRequest, database_url: str) -> Iterator[httpx.Client]:
    silent: SilentLog = request.param()
    pool = bootstrap.connection_pool(database_url)
    master = FileMasterKey.from_text(MASTER_KEY, "the suite's master key")
    app = create_app(
        silent,
        [SECRET],
        dead_letters=NoDeadLetters(),
        secret_usage=NoUsage(),
        sealer=Sealer(bootstrap.key_store(pool, master)),
        log_timeout_seconds=TIMEOUT_SECONDS,
    )
    try:
        with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            yield http
    finally:
        silent.close()
        pool.close()


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_readiness_answers_503_within_the_log_timeout(client: httpx.Client) -> None:
    response, elapsed = timed(lambda: client.get("/readyz"))
    assert response.status_code == 503
    assert elapsed < TIMEOUT_SECONDS + MARGIN_SECONDS


def test_a_webhook_the_log_does_not_acknowledge_in_time_gets_503(client: httpx.Client) -> None:
    response, elapsed = timed(
        lambda: client.post("/webhooks/stripe", content=BODY, headers=signed_headers(BODY))
    )
    assert (response.status_code, response.json()) == (
        503,
        {"error": "event log unavailable, retry later"},
    )
    assert elapsed < TIMEOUT_SECONDS + MARGIN_SECONDS
