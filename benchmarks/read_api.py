"""Read API benchmark: the finance lists (`GET /api/v1/…`) over real HTTP on large tables.

    python -m benchmarks.read_api [--rows 100000] [--runs 9]

The tables are filled by SQL (`generate_series`), not by processing a history (100,000
payments would take minutes to process and the API only reads the rows): `--rows` customers,
payment transactions and subscriptions (each with one or two items), over three years of
`created_at` with ties within a second, three accounts, both modes and three currencies, then
ANALYZEd. The API runs in this process (uvicorn in a thread) on the application's role, reading
as billing_reader, as `up` serves it. Each request runs once to warm up, then `--runs` times
over one keep-alive connection; the median is reported (wall time in the client, the answer's
JSON parsed). A full walk pages through every payment with limit=1000.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import uvicorn
from starlette.types import ASGIApp

from benchmarks.infra import conditions, fresh_database, postgres_server
from billing_ledger import bootstrap
from billing_ledger.settings import Settings
from billing_ledger.web.finance_listings import PAYMENTS
from billing_ledger.web.listing import encode_cursor
from billing_ledger.web.tokens import TokenStore

SCOPE = """
    (ARRAY['', '', 'acct_1Bench'])[1 + i % 3] AS account_id, i % 10 <> 0 AS livemode,
    timestamptz '2024-01-01 00:00:00+00' + ((i * 7919) % (3 * 365 * 86400 / 2)) * 2
        * interval '1 second' AS created_at
"""
FILL = (
    f"""INSERT INTO billing.stripe_customers (id, account_id, livemode, stripe_customer_id,
        email, name, created_at, updated_at)
    SELECT gen_random_uuid(), account_id, livemode, 'cus_B' || i, 'c' || i || '@example.com',
        'Customer ' || i, created_at, created_at
    FROM (SELECT i, {SCOPE} FROM generate_series(1, %(rows)s) AS i) s""",
    f"""INSERT INTO billing.payment_transactions (id, account_id, livemode,
        stripe_payment_intent_id, amount, amount_received, amount_refunded, currency, status,
        payment_method_type, failure_code, created_at, updated_at)
    SELECT gen_random_uuid(), account_id, livemode, 'pi_B' || i, 1000 + i % 9000,
        CASE WHEN i % 20 = 0 THEN 0 ELSE 1000 + i % 9000 END, 0,
        (ARRAY['eur', 'usd', 'gbp'])[1 + i % 3],
        CASE WHEN i % 20 = 0 THEN 'requires_payment_method' ELSE 'succeeded' END, 'card',
        CASE WHEN i % 20 = 0 THEN 'card_declined' END, created_at, created_at
    FROM (SELECT i, {SCOPE} FROM generate_series(1, %(rows)s) AS i) s""",
    f"""INSERT INTO billing.subscriptions (id, account_id, livemode, stripe_subscription_id,
        customer_id, status, plan_id, cancel_at_period_end, created_at, updated_at)
    SELECT gen_random_uuid(), account_id, livemode, 'sub_B' || i, gen_random_uuid(),
        (ARRAY['active', 'active', 'past_due', 'canceled', 'trialing'])[1 + i % 5],
        'price_' || i % 7, false, created_at, created_at
    FROM (SELECT i, {SCOPE} FROM generate_series(1, %(rows)s) AS i) s""",
    """INSERT INTO billing.subscription_items (id, account_id, livemode, subscription_id,
        stripe_subscription_item_id, price_id, quantity, unit_amount, currency, interval,
        interval_count, usage_type)
    SELECT gen_random_uuid(), s.account_id, s.livemode, s.id,
        'si_' || substr(s.stripe_subscription_id, 5) || '_' || n, s.plan_id, 1, 2900, 'eur',
        'month', 1, 'licensed'
    FROM billing.subscriptions s, generate_series(1, 2) AS n
    WHERE n = 1 OR right(s.stripe_subscription_id, 1) IN ('0', '5')""",
)


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def fill(dsn: str, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in FILL:
            conn.execute(statement.replace("%(rows)s", str(int(rows))).encode())
        for table in ("stripe_customers", "payment_transactions", "subscriptions"):
            conn.execute(f"ANALYZE billing.{table}".encode())
        conn.execute(b"ANALYZE billing.subscription_items")


def middle_cursor(dsn: str) -> str:
    """The cursor of the page that starts halfway through the payments."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT created_at, id FROM billing.payment_transactions ORDER BY created_at, id "
            "OFFSET (SELECT count(*) / 2 FROM billing.payment_transactions) LIMIT 1"
        ).fetchone()
    assert row is not None
    return encode_cursor(PAYMENTS.name, row)


def median_ms(client: httpx.Client, path: str, params: dict[str, str], runs: int) -> Any:
    times: list[float] = []
    answer: dict[str, Any] = {}
    for run in range(runs + 1):
        started = time.perf_counter()
        response = client.get(path, params=params)
        answer = response.json()
        if run:
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(times), len(answer["data"])


def walk_seconds(client: httpx.Client, path: str) -> tuple[float, int, int]:
    started, rows, pages, cursor = time.perf_counter(), 0, 0, None
    while True:
        answer = client.get(
            path, params={"limit": "1000", **({"cursor": cursor} if cursor else {})}
        )
        page = answer.json()
        rows, pages = rows + len(page["data"]), pages + 1
        if not page["has_more"]:
            return time.perf_counter() - started, rows, pages
        cursor = page["next_cursor"]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    print(f"read API benchmark  {conditions()}")
    with postgres_server() as server, fresh_database(server) as superuser_dsn:
        dsn = bootstrap.app_role_dsn(superuser_dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            bootstrap.prepare_live_schemas(conn)
        started = time.perf_counter()
        fill(dsn, args.rows)
        print(
            f"filled {args.rows:,} customers, payments and subscriptions (with items) "
            f"in {time.perf_counter() - started:.1f}s (SQL, then ANALYZE)"
        )
        with bootstrap.api_pool(dsn) as pool:
            token = TokenStore(pool)
            token.create_table()
            secret = token.create("bench", ["read"])
            with (
                serving(bootstrap.web_api(Settings(), pool)) as url,
                httpx.Client(
                    base_url=f"{url}/api/v1",
                    headers={"Authorization": f"Bearer {secret}"},
                    timeout=60,
                ) as client,
            ):
                middle = middle_cursor(dsn)
                cases: list[tuple[str, str, dict[str, str]]] = [
                    ("payments, first page (limit 100)", "/payments", {}),
                    ("payments, page halfway in (cursor)", "/payments", {"cursor": middle}),
                    ("payments, limit 1000", "/payments", {"limit": "1000"}),
                    (
                        "payments, filtered (account, mode, eur, one month)",
                        "/payments",
                        {
                            "account": "",
                            "livemode": "true",
                            "currency": "eur",
                            "since": "2025-06-01",
                            "until": "2025-07-01",
                        },
                    ),
                    (
                        "payments, failed only (status)",
                        "/payments",
                        {"status": "requires_payment_method"},
                    ),
                    ("customers, first page (limit 100)", "/customers", {}),
                    ("subscriptions with items (limit 100)", "/subscriptions", {}),
                    (
                        "subscriptions, active in eur (limit 100)",
                        "/subscriptions",
                        {"status": "active,past_due", "currency": "eur"},
                    ),
                ]
                for label, path, params in cases:
                    ms, rows = median_ms(client, path, params, args.runs)
                    print(f"  {label:<52} median {ms:8.2f} ms over {args.runs} runs ({rows} rows)")
                seconds, rows, pages = walk_seconds(client, "/payments")
                print(
                    f"  {'payments, full walk (limit 1000)':<52} {seconds:8.2f} s: {rows:,} rows "
                    f"in {pages} pages, {rows / seconds:,.0f} rows/s"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
