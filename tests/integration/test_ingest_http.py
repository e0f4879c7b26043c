"""The webhook endpoint over HTTP against a real Postgres log: what is refused appends nothing.

The table below is the contract of the edge: every refusal has a status, a JSON reason from a
bounded set (also the /metrics label) and leaves the log of record untouched.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from billing_ledger import bootstrap
from billing_ledger.eventlog.dead_letters import DeadLetters
from billing_ledger.eventlog.secret_usage import SecretUsage, fingerprint
from billing_ledger.infra.master_key import FileMasterKey
from billing_ledger.ingest.app import REFUSAL_REASONS, create_app
from billing_ledger.ingest.sealing import Sealer
from billing_ledger.ingest.signature import sign
from tests.support.http_server import serving
from tests.support.stripe import customer, event
from tests.support.webhooks import MASTER_KEY, SECRET, body_of, signed_headers

URL = "/webhooks/stripe"
LIMIT = 4096


class Edge:
    """The ingest app's durable parts, opened on one test database."""

    def __init__(self, dsn: str) -> None:
        self.log = bootstrap.postgres_event_log(dsn)
        self.log.open()
        self.pool = bootstrap.connection_pool(dsn)
        self.dead_letters = DeadLetters(self.pool)
        self.dead_letters.create_table()
        self.secret_usage = SecretUsage(self.pool)
        self.secret_usage.create_table()
        master = FileMasterKey.from_text(MASTER_KEY, "the suite's master key")
        self.keys = bootstrap.key_store(self.pool, master)
        self.sealer = Sealer(self.keys)

    def app(self, secrets: list[str] | None = None, **options: Any) -> Any:
        return create_app(
            self.log,
            secrets or [SECRET, "whsec_second"],
            dead_letters=self.dead_letters,
            secret_usage=self.secret_usage,
            sealer=self.sealer,
            **options,
        )

    def close(self) -> None:
        self.log.close()
        self.pool.close()


@pytest.fixture
def edge(database_url: str) -> Iterator[Edge]:
    opened = Edge(database_url)
    yield opened
    opened.close()


@pytest.fixture
def base_url(edge: Edge) -> Iterator[str]:
    with serving(edge.app(max_body_bytes=LIMIT, body_read_timeout_seconds=0.5)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        yield http


def query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def logged(database_url: str) -> int:
    return int(query(database_url, "SELECT count(*) FROM eventlog.stripe_events")[0][0])


def rejected_metric(client: httpx.Client, reason: str) -> float:
    prefix = f'billing_ledger_webhooks_rejected_total{{reason="{reason}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


BODY = body_of(event("customer.created", customer("cus_H")))
LIVE_BODY = body_of(event("customer.created", customer("cus_L"), livemode=True))
NOW = int(time.time())
JSON = {"Content-Type": "application/json; charset=utf-8"}


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason"),
    [
        (JSON, BODY, 400, "missing Stripe-Signature header"),
        ({**JSON, "Stripe-Signature": "nonsense"}, BODY, 400, "malformed Stripe-Signature header"),
        (
            {**JSON, "Stripe-Signature": "t=abc,v1=00"},
            BODY,
            400,
            "malformed timestamp in Stripe-Signature header",
        ),
        (
            {**JSON, "Stripe-Signature": "v1=00"},
            BODY,
            400,
            "no timestamp in Stripe-Signature header",
        ),
        (
            {**JSON, "Stripe-Signature": f"t={NOW},v0=00"},
            BODY,
            400,
            "no v1 signature in Stripe-Signature header",
        ),
        (lambda: signed_headers(b"other body"), BODY, 400, "no signature matches the payload"),
        (
            lambda: signed_headers(BODY, "whsec_unknown"),
            BODY,
            400,
            "no signature matches the payload",
        ),
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
        (signed_headers(b"x" * 5000), b"x" * 5000, 413, "body exceeds the size limit"),
        (
            {**signed_headers(BODY), "Content-Type": "text/plain"},
            BODY,
            415,
            "content type must be application/json",
        ),
        (
            {**signed_headers(BODY), "Content-Type": "application/json; charset=latin-1"},
            BODY,
            415,
            "content type must be application/json",
        ),
        (
            {k: v for k, v in signed_headers(BODY).items() if k != "Content-Type"},
            BODY,
            415,
            "content type must be application/json",
        ),
    ],
)
def test_refusals_name_the_reason_and_append_nothing(
    client: httpx.Client,
    database_url: str,
    headers: dict[str, str] | Callable[[], dict[str, str]],
    body: bytes,
    status: int,
    reason: str,
) -> None:
    # Headers signed now, when their timestamp matters: collection can be minutes earlier.
    sent = headers() if callable(headers) else headers
    assert reason in REFUSAL_REASONS
    before = rejected_metric(client, reason)
    response = client.post(URL, content=body, headers=sent)
    assert (response.status_code, response.json()) == (status, {"error": reason})
    assert logged(database_url) == 0
    assert query(database_url, "SELECT count(*) FROM eventlog.dead_letters") == [(0,)]
    assert rejected_metric(client, reason) == before + 1


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        (b"not json", "body is not valid JSON", "body is not valid JSON"),
        (b"[1]", "body is not a JSON object", "body is not a JSON object"),
        (
            b'{"id": "evt_1"}',
            "body is not a Stripe event",
            "not a Stripe event: invalid created, data, livemode, type",
        ),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_dead_lettered_not_logged(
    client: httpx.Client, database_url: str, body: bytes, reason: str, detail: str
) -> None:
    response = client.post(URL, content=body, headers=signed_headers(body))
    assert (response.status_code, response.json()) == (400, {"error": reason})
    assert logged(database_url) == 0
    kept = query(
        database_url,
        "SELECT source, reason, body, log_name, position FROM eventlog.dead_letters",
    )
    assert kept == [("ingest", detail, body, None, None)]


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n{"
        )
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'{"error":"body exceeds the size limit"}')


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    chunk = b"x" * 1024
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(LIMIT // len(chunk) + 1):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        # No terminating chunk: the answer must come without waiting for the end of the body.
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_slow_body_times_out_with_408(base_url: str, database_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        headers = signed_headers(BODY)
        sock.sendall(
            b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Stripe-Signature: {headers['Stripe-Signature']}\r\n".encode()
            + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
            + BODY[:10]
        )
        answer = _read_response(sock)  # the rest of the body never comes
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert answer.endswith(b'{"error":"body not received in time"}')
    assert logged(database_url) == 0


def _read_response(sock: socket.socket) -> bytes:
    """Read one HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        received = sock.recv(65536)
        assert received, f"connection closed before a response: {data!r}"
        data += received
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        received = sock.recv(65536)
        assert received
        body += received
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("mode", "body", "status", "answer"),
    [
        ("test", LIVE_BODY, 400, {"error": "live event on a test-mode endpoint"}),
        ("live", BODY, 400, {"error": "test event on a live-mode endpoint"}),
        ("test", BODY, 200, {"received": True}),
        ("live", LIVE_BODY, 200, {"received": True}),
        (None, LIVE_BODY, 200, {"received": True}),
    ],
)
def test_livemode_must_match_a_configured_mode(
    edge: Edge,
    database_url: str,
    mode: str | None,
    body: bytes,
    status: int,
    answer: dict[str, Any],
) -> None:
    with serving(edge.app(stripe_mode=mode)) as url, httpx.Client(base_url=url) as client:
        response = client.post(URL, content=body, headers=signed_headers(body))
    assert (response.status_code, response.json()) == (status, answer)
    assert logged(database_url) == (1 if status == 200 else 0)


def test_a_signed_event_is_appended_before_200(client: httpx.Client, database_url: str) -> None:
    response = client.post(URL, content=BODY, headers=signed_headers(BODY))
    assert (response.status_code, response.json()) == (200, {"received": True})
    assert logged(database_url) == 1


def test_stripe_content_type_with_charset_is_accepted(
    client: httpx.Client, database_url: str
) -> None:
    headers = {**signed_headers(BODY), "Content-Type": "Application/JSON; Charset=UTF-8"}
    assert client.post(URL, content=BODY, headers=headers).status_code == 200
    assert logged(database_url) == 1


def test_the_second_secret_verifies_during_rotation(
    client: httpx.Client, database_url: str
) -> None:
    response = client.post(URL, content=BODY, headers=signed_headers(BODY, "whsec_second"))
    assert response.status_code == 200
    assert logged(database_url) == 1


def test_each_secret_records_when_and_how_often_it_verified(
    client: httpx.Client, database_url: str
) -> None:
    for _ in range(2):
        client.post(URL, content=BODY, headers=signed_headers(BODY, "whsec_second"))
    usage = query(database_url, "SELECT fingerprint, verified_count FROM eventlog.secret_usage")
    assert usage == [(fingerprint("whsec_second"), 2)]
    assert "whsec_second" not in fingerprint("whsec_second")


def test_unknown_event_types_are_kept(client: httpx.Client, database_url: str) -> None:
    body = body_of(event("radar.early_fraud_warning.created", {"id": "issfr_1", "object": "x"}))
    assert client.post(URL, content=body, headers=signed_headers(body)).status_code == 200
    assert logged(database_url) == 1


def test_wrong_method_and_unknown_path_answer_json(client: httpx.Client) -> None:
    before = rejected_metric(client, "method not allowed")
    wrong = client.get(URL)
    assert (wrong.status_code, wrong.json()) == (405, {"error": "method not allowed"})
    assert rejected_metric(client, "method not allowed") == before + 1
    missing = client.post("/nowhere", content=BODY, headers=signed_headers(BODY))
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    before = rejected_metric(client, "not found")
    slashed = client.post(URL + "/", content=BODY, headers=signed_headers(BODY))
    assert (slashed.status_code, slashed.json()) == (404, {"error": "not found"})
    assert rejected_metric(client, "not found") == before + 1


def test_log_outage_answers_503_so_stripe_retries(edge: Edge) -> None:
    unreachable = bootstrap.postgres_event_log(
        "host=127.0.0.1 port=1 dbname=none connect_timeout=1"
    )
    app = create_app(
        unreachable,
        [SECRET],
        dead_letters=edge.dead_letters,
        secret_usage=edge.secret_usage,
        sealer=edge.sealer,
    )
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
