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
