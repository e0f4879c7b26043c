"""`billing-ledger send-sample`: sign the shipped sample events, post them, show the rows.

For newcomers without a Stripe account: it signs with the first configured webhook secret,
exactly as Stripe would, so the running instance verifies and stores them like real deliveries.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from importlib import resources
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from billing_ledger.infra.database import running_embedded_url
from billing_ledger.ingest.app import WEBHOOK_PATH
from billing_ledger.ingest.signature import sign
from billing_ledger.settings import Settings

ROWS_TIMEOUT_SECONDS = 10.0


def send_sample(settings: Settings, args: argparse.Namespace) -> int:
    url = args.url or f"http://{settings.HOST}:{settings.PORT}"
    dsn = settings.DATABASE_URL or running_embedded_url(settings.BILLING_LEDGER_HOME)
    return send_samples(url, settings.webhook_secrets()[0], dsn)


def sample_events() -> list[dict[str, Any]]:
    text = resources.files("billing_ledger").joinpath("samples/events.json").read_text("utf-8")
    events: list[dict[str, Any]] = json.loads(text)
    return events


def post_signed(client: httpx.Client, url: str, body: bytes, secret: str) -> httpx.Response:
    header = sign(body, secret, int(time.time()))
    return client.post(
        url,
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def send_samples(base_url: str, secret: str, dsn: str | None) -> int:
    """Post every sample; print each answer and then the rows they produced. Returns exit code."""
    url = base_url.rstrip("/") + WEBHOOK_PATH
    failures = 0
    with httpx.Client(timeout=10.0) as client:
        for event in sample_events():
            body = json.dumps(event).encode()
            try:
                response = post_signed(client, url, body, secret)
            except httpx.HTTPError as e:
                print(f"cannot reach {url}: {e}. Is `billing-ledger up` running?")
                return 1
            print(f"{event['type']:<36} {event['id']:<36} -> {response.status_code}")
            failures += response.status_code != 200
    if failures:
        print(f"{failures} sample(s) refused: is STRIPE_WEBHOOK_SECRETS the server's?")
        return 1
    if dsn is None:
        print("rows: set DATABASE_URL (or run `up` on the embedded database) to see them")
        return 0
    _print_rows(dsn)
    return 0


def _print_rows(dsn: str) -> None:
    customer_ids = sorted(
        {
            e["data"]["object"]["id"]
            for e in sample_events()
            if e["type"].startswith("customer.") and e["data"]["object"]["object"] == "customer"
        }
    )
    queries = {
        "billing.stripe_customers": (
            "SELECT stripe_customer_id, email, name, user_id, default_payment_method, "
            "created_at, updated_at FROM billing.stripe_customers "
            "WHERE stripe_customer_id = ANY(%s) ORDER BY stripe_customer_id"
        ),
        "billing.subscriptions": (
            "SELECT s.stripe_subscription_id, c.stripe_customer_id, s.status, s.plan_id, "
            "s.cancel_at_period_end, s.current_period_end, s.updated_at "
            "FROM billing.subscriptions s JOIN billing.stripe_customers c ON c.id = s.customer_id "
            "WHERE c.stripe_customer_id = ANY(%s) ORDER BY s.stripe_subscription_id"
        ),
        "billing.invoices": (
            "SELECT i.stripe_invoice_id, i.status, i.total, i.tax, i.amount_remaining, i.currency, "
            "i.paid_at FROM billing.invoices i JOIN billing.stripe_customers c "
            "ON c.id = i.customer_id WHERE c.stripe_customer_id = ANY(%s)"
        ),
        "billing.payment_transactions": (
            "SELECT p.stripe_payment_intent_id, p.status, p.amount, p.currency, "
            "i.stripe_invoice_id FROM billing.payment_transactions p "
            "JOIN billing.stripe_customers c ON c.id = p.customer_id "
            "LEFT JOIN billing.invoices i ON i.id = p.invoice_id "
            "WHERE c.stripe_customer_id = ANY(%s)"
        ),
    }
    deadline = time.monotonic() + ROWS_TIMEOUT_SECONDS
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        while True:
            results = {t: conn.execute(q, (customer_ids,)).fetchall() for t, q in queries.items()}
            settled = (
                all(results.values())
                and all(row["status"] == "canceled" for row in results["billing.subscriptions"])
                and all(row["status"] == "paid" for row in results["billing.invoices"])
            )
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    for table, rows in results.items():
        print(f"\n{table}")
        for row in rows:
            print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    run = os.environ.get("BILLING_LEDGER_COMMAND", "billing-ledger")
    print(f"\nnext: `{run} mrr`, `{run} ledger balances`, `{run} status`")
    print(
        "The samples are test-mode events (livemode false): in SQL, select `NOT livemode` "
        "(the README's queries select live mode)."
    )
