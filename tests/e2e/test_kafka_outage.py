"""The real CLI on the Kafka log while its broker is down: a broker of the test's own (never the
shared one), started late, killed and restarted. The service rides the outage out: it answers
503 meanwhile and serves as soon as the broker answers again."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.chaos_services import PrivateBroker
from billing_ledger.infra.logs import REPEAT_SECONDS
from tests.e2e.cli import Running, free_port, running
from tests.e2e.test_webhook_to_tables import (
    assert_rows,
    deliver_customer_and_subscription,
    rows,
)
from tests.support.stripe import customer, event
from tests.support.webhooks import body_of, signed_headers

OUTAGE_SECONDS = 8.0
SASL_PASSWORD = "kafka-sasl-password-canary"
RECOVERY_SECONDS = 60.0
TIMEOUT_SECONDS = 2.0
MARGIN_SECONDS = 3.0
BODY = body_of(event("customer.created", customer("cus_Outage")))
# The processes of `up` with Kafka clients of their own, each limiting its repeats: the
# webhook endpoint's (HTTP_PROCESSES of them) and the processor (a child process under `up`).
HTTP_PROCESSES = 2
CLIENT_PROCESSES = HTTP_PROCESSES + 1


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
        "LOG_FORMAT": "json",
        "HTTP_PROCESSES": str(HTTP_PROCESSES),
    }
    with (
        running("up", env, tmp_path, split=True) as app,
        httpx.Client(base_url=app.base_url, timeout=60) as client,
    ):
        outage = time.monotonic()
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
    # The consumer, the producer and the admin client all saw the outage: still our lines only,
    # each client message at most once per REPEAT_SECONDS in each process.
    refusals = connection_refusals(logged_lines(app))
    assert refusals, "the clients' connection failures are reported"
    bound = CLIENT_PROCESSES * (1 + (time.monotonic() - outage) // REPEAT_SECONDS)
    assert max(refusals.values()) <= bound, refusals


def test_log_lines_stay_ours_and_repeats_are_bounded_while_no_broker_answers(
    database_url: str, kafka_topic: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "EVENT_LOG": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "KAFKA_TOPIC": kafka_topic,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "ledger",
        "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "HTTP_PROCESSES": str(HTTP_PROCESSES),
    }
    with (
        running("up", env, tmp_path, ready=False, split=True) as app,
        httpx.Client(base_url=app.base_url, timeout=60) as client,
    ):
        deadline = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < deadline:
            assert client.get("/readyz").status_code == 503
            assert post_webhook(client).status_code == 503
    refusals = connection_refusals(logged_lines(app))
    assert refusals, "the clients' connection failures are reported"
    assert max(refusals.values()) <= CLIENT_PROCESSES, refusals.most_common(3)
    assert sum(refusals.values()) <= 10 * CLIENT_PROCESSES, refusals
    assert SASL_PASSWORD not in app.log()


def logged_lines(app: Running) -> list[dict[str, object]]:
    """Every stderr line, each one JSON log line of ours; stdout holds only what the CLI says to
    its user (where it listens, that it stopped), never a log line."""
    assert app.errors is not None
    logged = [json.loads(line) for line in app.errors.read_text().splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in logged)
    for line in app.output.read_text().splitlines():
        assert line.startswith(("billing-ledger ", "  ")), line
    return logged


def connection_refusals(logged: list[dict[str, object]]) -> Counter[tuple[object, str]]:
    """Lines reporting a refused connection, by logger and message shape (numbers ignored)."""
    return Counter(
        (line["logger"], re.sub(r"\d+", "#", str(line["message"])))
        for line in logged
        if re.search(r"Connection refused|ECONNREFUSED", str(line["message"]))
    )
