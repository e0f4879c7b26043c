"""The real CLI on the Kafka log while its broker is down: a broker of the test's own (never the
shared one), started late, killed and restarted. The service rides the outage out: it answers
503 meanwhile and serves as soon as the broker answers again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.chaos_services import PrivateBroker
from tests.e2e.cli import running
from tests.e2e.test_webhook_to_tables import (
    assert_rows,
    deliver_customer_and_subscription,
    rows,
)
from tests.stripe_events import body_of, customer, event, signed_headers

RECOVERY_SECONDS = 60.0
TIMEOUT_SECONDS = 2.0
MARGIN_SECONDS = 3.0
BODY = body_of(event("customer.created", customer("cus_Outage")))


def kafka_env(database_url: str, broker: PrivateBroker, topic: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "EVENT_LOG": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_TOPIC": topic,
    }


def post_webhook(client: httpx.Client) -> httpx.Response:
    return client.post("/webhooks/stripe", content=BODY, headers=signed_headers(BODY))


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {RECOVERY_SECONDS}s: {what}")
        time.sleep(0.5)


def test_up_started_while_the_broker_is_down_serves_once_it_answers(
    database_url: str, private_broker: PrivateBroker, kafka_topic: str, tmp_path: Path
) -> None:
    env = kafka_env(database_url, private_broker, kafka_topic)
    with (
        running("up", env, tmp_path, ready=False) as app,
        httpx.Client(base_url=app.base_url, timeout=60) as client,
    ):
        assert client.get("/readyz").status_code == 503
        assert post_webhook(client).status_code == 503
        private_broker.start()
        eventually(lambda: client.get("/readyz").status_code == 200, "/readyz answers 200")
        deliver_customer_and_subscription(app.base_url)
        assert_rows(database_url)


def test_answers_come_within_the_log_timeout_while_the_broker_is_down(
    database_url: str, private_broker: PrivateBroker, kafka_topic: str, tmp_path: Path
) -> None:
    private_broker.start()
    env = {
        **kafka_env(database_url, private_broker, kafka_topic),
        "EVENT_LOG_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    with (
        running("up", env, tmp_path) as app,
        httpx.Client(base_url=app.base_url, timeout=60) as client,
    ):
        private_broker.kill()
        answers: list[Callable[[], httpx.Response]] = [
            lambda: client.get("/readyz"),
            lambda: post_webhook(client),
        ]
        for answer in answers:
            started = time.monotonic()
            assert answer().status_code == 503
            # A bound on behaviour, not a benchmark: loose on purpose.
            assert time.monotonic() - started < TIMEOUT_SECONDS + MARGIN_SECONDS
        private_broker.start()
        eventually(lambda: post_webhook(client).status_code == 200, "the webhook is accepted")
        deliver_customer_and_subscription(app.base_url)
        assert_rows(database_url)
        assert rows(
            database_url,
            "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = 'cus_Outage'",
        )
