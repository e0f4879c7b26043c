"""A user's path: start the real CLI, POST signed Stripe events over HTTP, read the tables."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from billing_ledger.domain.identity import stripe_uuid
from tests.e2e.cli import cli_env, running
from tests.support.stripe import (
    charge,
    customer,
    event,
    invoice,
    invoice_payment,
    payment_intent,
    subscription,
)
from tests.support.webhooks import deliver

USER_ID = "0b6a3f0e-6a52-4c1e-9a43-7d2d5e0c9f11"
BUSINESS_ID = "5f0c7a52-3c7e-4e9a-b1a4-2a1f0d6c8e21"


def rows(
    dsn: str, query: str, *params: Any, expect: int = 1, timeout: float = 60
) -> list[dict[str, Any]]:
    """Poll until the query returns `expect` rows (the pipeline is asynchronous)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, row_factory=dict_row, autocommit=True) as conn:
        while True:
            found = conn.execute(query, params).fetchall()
            if len(found) >= expect or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def deliver_customer_and_subscription(base_url: str) -> None:
    with httpx.Client(timeout=30) as client:
        created = deliver(
            client,
            base_url,
            event(
                "customer.created",
                customer("cus_E2E", metadata={"user_id": USER_ID}),
                created=1_767_225_600,
            ),
        )
        assert created.status_code == 200, created.text
        assert created.json() == {"received": True}
        sub = deliver(
            client,
            base_url,
            event(
                "customer.subscription.created",
                subscription(
                    "sub_E2E", "cus_E2E", quantity=3, metadata={"business_id": BUSINESS_ID}
                ),
                created=1_767_225_605,
            ),
        )
        assert sub.status_code == 200, sub.text


def assert_rows(dsn: str) -> None:
    customers = rows(
        dsn, "SELECT * FROM billing.stripe_customers WHERE stripe_customer_id = 'cus_E2E'"
    )
    assert len(customers) == 1
    row = customers[0]
    assert row["id"] == stripe_uuid("", False, "cus_E2E")
    assert (row["account_id"], row["livemode"], row["email"]) == ("", False, "cus_e2e@example.com")
    assert str(row["user_id"]) == USER_ID
    assert row["created_at"].timestamp() == 1_767_225_600
    subscriptions = rows(
        dsn, "SELECT * FROM billing.subscriptions WHERE stripe_subscription_id = 'sub_E2E'"
    )
    assert len(subscriptions) == 1
    sub = subscriptions[0]
    assert sub["customer_id"] == row["id"]
    assert str(sub["business_id"]) == BUSINESS_ID
    assert (sub["status"], sub["plan_id"], sub["cancel_at_period_end"]) == (
        "active",
        "price_Pro",
        False,
    )
    assert sub["current_period_end"].timestamp() == 1_769_904_000
    assert sub["updated_at"].timestamp() == 1_767_225_605
    items = rows(
        dsn, "SELECT * FROM billing.subscription_items WHERE subscription_id = %s", sub["id"]
    )
    assert [(i["price_id"], i["quantity"], i["unit_amount"], i["currency"]) for i in items] == [
        ("price_Pro", 3, 2000, "usd")
    ]


def test_postgres_log_from_webhook_to_tables(database_url: str, tmp_path: Path) -> None:
    with running("up", {"DATABASE_URL": database_url}, tmp_path) as app:
        deliver_customer_and_subscription(app.base_url)
        assert_rows(database_url)


@pytest.mark.kafka
def test_kafka_log_from_webhook_to_tables(
    database_url: str, kafka_bootstrap: str, kafka_topic: str, tmp_path: Path
) -> None:
    kafka = {
        "EVENT_LOG": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": kafka_topic,
    }
    with running("up", {"DATABASE_URL": database_url, **kafka}, tmp_path) as app:
        deliver_customer_and_subscription(app.base_url)
        assert_rows(database_url)


@pytest.mark.kafka
def test_kafka_ingest_and_process_as_separate_processes(
    database_url: str, kafka_bootstrap: str, kafka_topic: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "EVENT_LOG": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": kafka_topic,
    }
    with running("ingest", env, tmp_path) as ingest:
        deliver_customer_and_subscription(ingest.base_url)
    # Ingest is stopped: the records wait in Kafka until a processor comes.
    with running("process", env, tmp_path, http=False):
        assert_rows(database_url)


def test_duplicate_delivery_yields_one_row_and_one_aggregate_change(
    database_url: str, tmp_path: Path
) -> None:
    document = event("customer.created", customer("cus_Dup"))
    with running("up", {"DATABASE_URL": database_url}, tmp_path) as app, httpx.Client() as client:
        for _ in range(5):
            assert deliver(client, app.base_url, document).status_code == 200
        rows(database_url, "SELECT 1 FROM eventstore.billing_tracking WHERE notification_id >= 5")
        assert len(rows(database_url, "SELECT * FROM billing.stripe_customers")) == 1
    with psycopg.connect(database_url) as conn:
        logged = conn.execute("SELECT count(*) FROM eventlog.stripe_events").fetchone()
        changes = conn.execute("SELECT count(*) FROM eventstore.billing_events").fetchone()
    assert logged == (5,)  # every delivery is kept in the log of record
    assert changes == (1,)  # but applied once


def test_embedded_default_sends_samples_and_stops_without_orphans(
    home: Path, tmp_path: Path
) -> None:
    env = {"BILLING_LEDGER_HOME": str(home)}
    with running("up", env, tmp_path) as app:
        assert "database:  user=billing_ledger_app " in app.log()  # never the superuser
        sample = subprocess.run(
            [sys.executable, "-m", "billing_ledger", "send-sample", "--url", app.base_url],
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sample.returncode == 0, sample.stdout + sample.stderr
        assert "billing.stripe_customers" in sample.stdout
        assert "email=ada@example.com" in sample.stdout
        assert "cancel_at_period_end=True" in sample.stdout
        assert "status=canceled" in sample.stdout  # the story ends: the period ran out
        assert "NOT livemode" in sample.stdout  # how to find test-mode rows in SQL
        finance = _finance_psql(app.log())
        assert finance.returncode == 0, finance.stderr
        assert finance.stdout.split() == ["cus_SampleAda"]  # read as billing_reader
    assert not _postgres_running_in(home), "the embedded server outlived `up`"


def test_a_missing_webhook_secret_is_a_startup_error(tmp_path: Path) -> None:
    env = cli_env({"BILLING_LEDGER_HOME": str(tmp_path / "home")})
    del env["STRIPE_WEBHOOK_SECRETS"]
    result = subprocess.run(
        [sys.executable, "-m", "billing_ledger", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "STRIPE_WEBHOOK_SECRETS is not set" in result.stderr
    assert not (tmp_path / "home").exists(), "nothing may start before the settings are valid"


def _finance_psql(app_log: str) -> subprocess.CompletedProcess[str]:
    """The `finance:` command `up` prints, run as a user would paste it."""
    [line] = [line for line in app_log.splitlines() if line.strip().startswith("finance:")]
    command = line.split("finance:", 1)[1].strip()
    query = "SELECT stripe_customer_id FROM billing.stripe_customers WHERE NOT livemode"
    return subprocess.run(
        ["bash", "-c", f"{command} -Atc {shlex.quote(query)}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _postgres_running_in(home: Path) -> bool:
    pgdata = str((home / "pgdata").resolve())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline and cmdline[0].endswith(b"postgres") and pgdata.encode() in cmdline:
                return True
    return False


def test_invoice_and_payment_rows_over_http(database_url: str, tmp_path: Path) -> None:
    paid = invoice(
        "in_E2E",
        "cus_E2E",
        subscription_id="sub_E2E",
        status="paid",
        total=2400,
        tax=400,
        amount_paid=2400,
        transitions={"finalized_at": 1_767_225_600, "paid_at": 1_767_225_700},
    )
    documents = [
        event(
            "invoice_payment.paid",
            invoice_payment("inpay_E2E", "in_E2E", "pi_E2E", amount_paid=2400),
        ),
        event("payment_intent.succeeded", payment_intent("pi_E2E", "cus_E2E", amount=2400)),
        event("charge.succeeded", charge("ch_E2E", "pi_E2E", amount=2400, wallet="google_pay")),
        event("invoice.paid", paid, created=1_767_225_700),
        event("customer.subscription.created", subscription("sub_E2E", "cus_E2E")),
    ]
    with running("up", {"DATABASE_URL": database_url}, tmp_path) as app, httpx.Client() as client:
        for document in documents:
            assert deliver(client, app.base_url, document).status_code == 200
        [payment] = rows(
            database_url,
            "SELECT p.*, i.stripe_invoice_id, s.stripe_subscription_id "
            "FROM billing.payment_transactions p "
            "JOIN billing.invoices i ON i.id = p.invoice_id "
            "JOIN billing.subscriptions s ON s.id = p.subscription_id",
        )
    assert (payment["stripe_invoice_id"], payment["stripe_subscription_id"]) == (
        "in_E2E",
        "sub_E2E",
    )
    assert (payment["status"], payment["amount"], payment["currency"]) == ("succeeded", 2400, "usd")
    assert (payment["payment_method_type"], payment["wallet"]) == ("card", "google_pay")
    assert payment["receipt_url"] == "https://pay.stripe.com/receipts/ch_E2E"
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        [row] = conn.execute("SELECT * FROM billing.invoices").fetchall()
    assert (row["status"], row["total"], row["tax"], row["amount_remaining"]) == (
        "paid",
        2400,
        400,
        0,
    )
    assert row["paid_at"].timestamp() == 1_767_225_700
