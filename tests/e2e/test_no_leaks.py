"""No secret, signature, raw body, email or address in any log line or error message.

Every log of a real run is captured — the CLI subprocess's whole output, and the in-process
logging of an ingest app fed the same requests — and scanned for the sensitive values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from billing_ledger.infra.logs import JsonFormatter
from tests.e2e.cli import running
from tests.e2e.test_webhook_to_tables import rows
from tests.integration.test_ingest_http import Edge
from tests.support.http_server import serving
from tests.support.stripe import customer, event
from tests.support.webhooks import SECRET, body_of, signed_headers

EMAIL = "grace.hopper.leak@example.com"
ADDRESS_LINE = "1701 Arlington Leakproof Avenue"
BODY_FRAGMENT = "leak-canary-7f3a9c"


def requests() -> list[tuple[bytes, dict[str, str]]]:
    """A valid event, a forged one, signed non-JSON, and a signed event the processor rejects."""
    person = customer(
        "cus_Leak",
        email=EMAIL,
        address={
            "line1": ADDRESS_LINE,
            "city": "Arlington",
            "country": "US",
            "line2": None,
            "postal_code": "22201",
            "state": "VA",
        },
        description=BODY_FRAGMENT,
    )
    valid = body_of(event("customer.created", person))
    forged = body_of(event("customer.updated", person))
    not_json = f"{BODY_FRAGMENT} {EMAIL} {ADDRESS_LINE}".encode()
    poison = body_of(
        event(
            "customer.subscription.created",
            {
                "id": "sub_Leak",
                "object": "subscription",
                "customer": EMAIL,
                "description": BODY_FRAGMENT,
            },
        )
    )
    return [
        (valid, signed_headers(valid)),
        (forged, signed_headers(forged, "whsec_attacker_" + BODY_FRAGMENT)),
        (not_json, signed_headers(not_json)),
        (poison, signed_headers(poison)),
    ]


def send_all(base_url: str) -> list[str]:
    """Deliver every request; return the signature header values and the answers' texts."""
    sent: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for body, headers in requests():
            response = client.post("/webhooks/stripe", content=body, headers=headers)
            sent.append(headers["Stripe-Signature"])
            sent.append(response.text)
    return sent


def assert_clean(text: str, signatures: list[str]) -> None:
    for needle in [SECRET, EMAIL, ADDRESS_LINE, BODY_FRAGMENT, *signatures]:
        assert needle not in text, f"leaked {needle[:12]}…"
    for signature in signatures:
        assert signature.split("v1=")[-1] not in text


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.formatter_ = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.formatter_.format(record))
        self.lines.append(repr(record.__dict__))  # args, extras, exc_info: everything it holds


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_cli_logs_structured_lines_and_leaks_nothing(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    with running("up", env, tmp_path) as app:
        answers = send_all(app.base_url)
        rows(database_url, "SELECT 1 FROM eventlog.dead_letters WHERE source = 'processor'")
        rows(database_url, "SELECT 1 FROM billing.stripe_customers")
    output = app.log()
    signatures = [a for a in answers if a.startswith("t=")]
    assert_clean(output, signatures)
    assert_clean("".join(a for a in answers if not a.startswith("t=")), signatures)
    structured = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    accepted = [line for line in structured if line["message"] == "webhook accepted"]
    assert accepted and {"event_id", "event_type", "account", "livemode", "latency_ms"} <= set(
        accepted[0]
    )
    assert any(line.get("outcome") == "dead_lettered" for line in structured)


def test_in_process_logging_leaks_nothing(database_url: str, captured: Capture) -> None:
    edge = Edge(database_url)
    try:
        with serving(edge.app()) as base_url:
            answers = send_all(base_url)
    finally:
        edge.close()
    signatures = [a for a in answers if a.startswith("t=")]
    assert captured.lines, "the ingest app logs every webhook"
    assert_clean("\n".join(captured.lines), signatures)
