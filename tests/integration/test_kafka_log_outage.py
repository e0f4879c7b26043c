"""The Kafka log when no broker answers: it opens at once and refuses in bounded time, and a
client setting that no broker could accept is a configuration error at once."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from billing_ledger.errors import ConfigurationError
from billing_ledger.eventlog.kafka import KafkaEventLog
from billing_ledger.eventlog.port import LogUnavailable
from tests.e2e.cli import free_port
from tests.integration.test_eventlog_contract import record

QUICK_SECONDS = 3.0
TIMEOUT_SECONDS = 1.0


def unanswered() -> list[str]:
    """An address where nothing listens."""
    return [f"127.0.0.1:{free_port()}"]


def test_opens_at_once_while_no_broker_answers_and_is_not_ready() -> None:
    event_log = KafkaEventLog(unanswered(), "test.unanswered")
    started = time.monotonic()
    event_log.open()
    try:
        assert time.monotonic() - started < QUICK_SECONDS
        with pytest.raises(LogUnavailable):
            event_log.ping()
    finally:
        event_log.close()
    assert time.monotonic() - started < 2 * QUICK_SECONDS


def test_appends_refuse_within_the_timeout_while_no_broker_answers() -> None:
    event_log = KafkaEventLog(unanswered(), "test.unanswered", timeout=TIMEOUT_SECONDS)
    event_log.open()
    try:
        for append in (event_log.append, lambda r: asyncio.run(event_log.append_async(r))):
            started = time.monotonic()
            with pytest.raises(LogUnavailable):
                append(record(1))
            assert time.monotonic() - started < TIMEOUT_SECONDS + QUICK_SECONDS
        started = time.monotonic()
        with pytest.raises(LogUnavailable):
            event_log.ping()
        assert time.monotonic() - started < TIMEOUT_SECONDS + QUICK_SECONDS
    finally:
        event_log.close()


def test_tls_files_no_client_can_load_are_a_configuration_error(tmp_path: Path) -> None:
    event_log = KafkaEventLog(
        unanswered(),
        "test.unanswered",
        client_options={"security_protocol": "SSL", "ssl_cafile": str(tmp_path / "absent.pem")},
    )
    with pytest.raises(ConfigurationError, match="ssl.ca.location"):
        event_log.open()


@pytest.mark.kafka
def test_reading_the_head_warns_about_nothing(
    kafka_bootstrap: str, kafka_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    event_log = KafkaEventLog(kafka_bootstrap.split(","), kafka_topic, partitions=1)
    event_log.open()
    try:
        event_log.append(record(1))
        with caplog.at_level(logging.WARNING):
            assert list(event_log.head().values()) == [0]
    finally:
        event_log.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # kafka-python times its own event loop: on a busy machine a slow poll is noted, which
    # says nothing of ours.
    assert [w for w in warnings if "blocking the event loop" not in w] == []
