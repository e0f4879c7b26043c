from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from billing_ledger.infra import logs


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_event_fields(restore_root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("json", "INFO", stream)
    logging.getLogger("billing_ledger.test").info(
        "webhook accepted",
        extra={
            "event_id": "evt_1",
            "event_type": "customer.created",
            "livemode": False,
            "account": "",
            "outcome": "accepted",
            "latency_ms": 1.5,
        },
    )
    line = json.loads(stream.getvalue())
    assert line["message"] == "webhook accepted"
    assert (line["event_id"], line["outcome"], line["latency_ms"]) == ("evt_1", "accepted", 1.5)
    assert line["level"] == "info"


def test_auto_is_text_on_a_terminal(restore_root_logging: None) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    logs.configure("auto", "INFO", stream)
    logging.getLogger("billing_ledger.test").info("hello", extra={"outcome": "ok"})
    assert "hello  outcome=ok" in stream.getvalue()
    assert not stream.getvalue().startswith("{")


def test_exception_messages_are_not_logged(restore_root_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("json", "INFO", stream)
    try:
        raise ValueError("input_value='ada@example.com'")
    except ValueError:
        logging.getLogger("billing_ledger.test").exception("cannot apply evt_1")
    line = json.loads(stream.getvalue())
    assert line["error"].startswith("ValueError at ")
    assert "ada@example.com" not in stream.getvalue()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def configured(clock: Clock, secrets: tuple[str, ...] = ()) -> io.StringIO:
    stream = io.StringIO()
    logs.configure("json", "INFO", stream, secrets=secrets, clock=clock)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def refused(logger: logging.Logger, port: int, after_ms: int) -> None:
    logger.error(
        "%s [%s] %s",
        "FAIL",
        "rdkafka#producer-1",
        f"127.0.0.1:{port}/bootstrap: Connect failed: Connection refused (after {after_ms}ms)",
    )


def test_a_kafka_client_repeating_itself_is_heard_once_per_interval(
    restore_root_logging: None,
) -> None:
    clock = Clock()
    stream = configured(clock)
    client = logging.getLogger("librdkafka")
    for n in range(50):  # numbers (ports, timings, counts) do not make a message new
        refused(client, 9092, n)
        clock.now += 0.1
    clock.now += logs.REPEAT_SECONDS
    refused(client, 9092, 7)
    written = lines(stream)
    assert len(written) == 2
    assert "suppressed" not in written[0]
    assert written[1]["suppressed"] == 49
    assert written[1]["logger"] == "librdkafka"


def test_each_kafka_python_logger_and_message_has_its_own_allowance(
    restore_root_logging: None,
) -> None:
    clock = Clock()
    stream = configured(clock)
    for _ in range(10):
        logging.getLogger("kafka.net.manager").error("Connection failed: ECONNREFUSED")
        logging.getLogger("kafka.net.connection").error("Connection lost: ECONNREFUSED")
        logging.getLogger("kafka.net.manager").warning("Bootstrap bootstrap-0 not ready")
    assert len(lines(stream)) == 3


def test_our_own_lines_are_never_held_back(restore_root_logging: None) -> None:
    clock = Clock()
    stream = configured(clock)
    for _ in range(20):
        logging.getLogger("billing_ledger.ingest.app").info("webhook accepted")
    assert len(lines(stream)) == 20


def test_configured_secrets_never_reach_a_line(restore_root_logging: None) -> None:
    clock = Clock()
    stream = configured(clock, secrets=("kafka-sasl-s3cret",))
    logging.getLogger("kafka.admin").warning("configuration: %s", {"password": "kafka-sasl-s3cret"})
    assert "kafka-sasl-s3cret" not in stream.getvalue()
    assert lines(stream)[0]["message"] == "configuration: {'password': '***'}"
