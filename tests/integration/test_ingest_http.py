"""The webhook endpoint over HTTP against a real Postgres log: what is refused appends nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from billing_ledger.eventlog.postgres import PostgresEventLog
from billing_ledger.ingest.app import create_app
from billing_ledger.ingest.signature import sign
from tests.http_server import serving
from tests.stripe_events import SECRET, body_of, customer, event, signed_headers

URL = "/webhooks/stripe"


@pytest.fixture
def event_log(database_url: str) -> Iterator[PostgresEventLog]:
    opened = PostgresEventLog(database_url)
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def client(event_log: PostgresEventLog) -> Iterator[httpx.Client]:
    app = create_app(event_log, [SECRET, "whsec_second"], max_body_bytes=4096)
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        yield http


def logged(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM eventlog.stripe_events").fetchone()
    assert row is not None
    return int(row[0])


BODY = body_of(event("customer.created", customer("cus_H")))
NOW = int(time.time())


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason"),
    [
        ({}, BODY, 400, "missing Stripe-Signature header"),
        ({"Stripe-Signature": "nonsense"}, BODY, 400, "malformed Stripe-Signature header"),
        (signed_headers(b"other body"), BODY, 400, "no signature matches the payload"),
        (signed_headers(BODY, "whsec_unknown"), BODY, 400, "no signature matches the payload"),
        (
            signed_headers(BODY, timestamp=NOW - 3600),
            BODY,
            400,
            "timestamp outside the tolerance (too old)",
        ),
        (
            signed_headers(BODY, timestamp=NOW + 3600),
            BODY,
            400,
            "timestamp outside the tolerance (in the future)",
        ),
        (signed_headers(b"not json"), b"not json", 400, "body is not valid JSON"),
        (signed_headers(b"[1]"), b"[1]", 400, "body is not a JSON object"),
        (signed_headers(b"x" * 5000), b"x" * 5000, 413, "body exceeds the size limit"),
    ],
)
def test_refusals_name_the_reason_and_append_nothing(
    client: httpx.Client,
    database_url: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    reason: str,
) -> None:
    response = client.post(URL, content=body, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": reason})
    assert logged(database_url) == 0
    metrics = client.get("/metrics").text
    assert f'billing_ledger_webhooks_rejected_total{{reason="{reason}"}}' in metrics


def test_a_signed_event_is_appended_before_200(client: httpx.Client, database_url: str) -> None:
    response = client.post(URL, content=BODY, headers=signed_headers(BODY))
    assert (response.status_code, response.json()) == (200, {"received": True})
    assert logged(database_url) == 1


def test_the_second_secret_verifies_during_rotation(
    client: httpx.Client, database_url: str
) -> None:
    response = client.post(URL, content=BODY, headers=signed_headers(BODY, "whsec_second"))
    assert response.status_code == 200
    assert logged(database_url) == 1


def test_unknown_event_types_are_kept(client: httpx.Client, database_url: str) -> None:
    body = body_of(event("radar.early_fraud_warning.created", {"id": "issfr_1", "object": "x"}))
    assert client.post(URL, content=body, headers=signed_headers(body)).status_code == 200
    assert logged(database_url) == 1


def test_wrong_method_and_unknown_path_answer_json(client: httpx.Client) -> None:
    assert (client.get(URL).status_code, client.get(URL).json()) == (
        405,
        {"error": "method not allowed"},
    )
    missing = client.post("/nowhere", content=BODY, headers=signed_headers(BODY))
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})


def test_log_outage_answers_503_so_stripe_retries(database_url: str) -> None:
    unreachable = PostgresEventLog("host=127.0.0.1 port=1 dbname=none connect_timeout=1")
    app = create_app(unreachable, [SECRET])
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.post(URL, content=BODY, headers=signed_headers(BODY))
        assert (response.status_code, response.json()) == (
            503,
            {"error": "event log unavailable, retry later"},
        )
        assert client.get("/readyz").status_code == 503
    unreachable.close()


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_header_signed_with_sign_helper_matches_stripe_format() -> None:
    assert sign(b"{}", SECRET, 1).startswith("t=1,v1=")
