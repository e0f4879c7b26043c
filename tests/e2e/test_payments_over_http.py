"""A platform's path: commands over HTTP to the real CLI (`up`), which acts through the Stripe
stand-in (`fake-stripe`), whose signed webhooks come back to `up` and out as table rows and
journal lines. Nothing of a command's effect is written by the command itself."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import fresh_database
from tests.e2e.cli import Running, api_token, cli_env, free_port, running
from tests.e2e.test_webhook_to_tables import rows
from tests.support.stripe import returned_to

PUBLIC = "https://shop.example"
STRIPE_KEY = "sk_test_e2e_payments"


@dataclass
class Ledger:
    up: Running
    stripe: Running
    dsn: str
    token: str
    env: dict[str, str]

    def post(self, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        return httpx.post(
            f"{self.up.base_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
            timeout=60,
        )

    def customer(self, method: str, key: str) -> str:
        made = self.post(
            "/customers",
            {"email": f"{key}@example.com", "name": key, "payment_method": method},
            f"customer-{key}",
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def pay(
        self, method: str, key: str, amount: int = 2000, currency: str = "eur"
    ) -> httpx.Response:
        owner = self.customer(method, key)
        return self.post(
            "/payments",
            {"customer": owner, "amount": amount, "currency": currency, "payment_method": method},
            f"payment-{key}",
        )

    def stand_in(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        answer = httpx.request(
            method,
            f"{self.stripe.base_url}/v1{path}",
            data=params,
            auth=(STRIPE_KEY, ""),
            timeout=30,
        )
        assert answer.is_success, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "billing_ledger", *argv],
            env=cli_env(self.env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def payment_row(ledger: Ledger, intent: str, status: str) -> dict[str, Any]:
    found = rows(
        ledger.dsn,
        "SELECT * FROM billing.payment_transactions "
        "WHERE stripe_payment_intent_id = %s AND status = %s",
        intent,
        status,
        timeout=30,
    )
    assert found, f"no {status} row for {intent}"
    return found[0]


@pytest.fixture(scope="module")
def ledger(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    workdir = tmp_path_factory.mktemp("payments-e2e")
    stripe_port = free_port()
    with fresh_database(postgres_server_url) as dsn:
        env = {
            "DATABASE_URL": dsn,
            "STRIPE_API_KEY": STRIPE_KEY,
            "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
            "PUBLIC_BASE_URL": PUBLIC,
            "LOG_LEVEL": "DEBUG",
            "LOG_FORMAT": "json",
        }
        with running("up", env, workdir) as up:
            hook = f"{up.base_url}/webhooks/stripe"
            fake_args = ["--port", str(stripe_port), "--webhook-url", hook, "--settle-seconds", "2"]
            with running("fake-stripe", {}, workdir, args=fake_args, port=stripe_port) as stripe:
                token = api_token(env, "customers:write,payments:write,read")
                yield Ledger(up, stripe, dsn, token, env)


def test_3d_secure_shows_requires_action_then_succeeds_after_the_challenge(ledger: Ledger) -> None:
    answer = ledger.pay("pm_card_authenticationRequired", "three-ds")
    waiting = answer.json()
    assert (answer.status_code, waiting["status"]) == (202, "requires_action"), answer.text
    assert waiting["confirmation_url"].startswith(f"{PUBLIC}/pay/{waiting['id']}?link=")
    assert waiting["client_secret"]
    payment_row(ledger, waiting["id"], "requires_action")
    challenge = httpx.post(waiting["next_action"]["redirect_to_url"]["url"])
    assert challenge.status_code == 303
    back, appended = returned_to(challenge.headers["location"])
    assert (back, appended["redirect_status"]) == (waiting["confirmation_url"], "succeeded")
    paid = payment_row(ledger, waiting["id"], "succeeded")
    assert (paid["amount"], paid["amount_received"], paid["payment_method_type"]) == (
        2000,
        2000,
        "card",
    )
    lines = rows(
        ledger.dsn,
        "SELECT l.ledger_account, l.debit_cents, l.credit_cents FROM "
        "billing.journal_lines l JOIN billing.journal_entries e ON e.id = l.entry_id "
        "WHERE e.source_object = %s ORDER BY l.debit_cents DESC",
        waiting["id"],
        expect=2,
    )
    assert [tuple(r.values()) for r in lines] == [("stripe_balance", 2000, 0), ("revenue", 0, 2000)]


def test_a_declined_card_gives_the_decline_message_and_a_failed_payment_row(ledger: Ledger) -> None:
    answer = ledger.pay("pm_card_chargeDeclined", "declined")
    failed = answer.json()
    assert answer.status_code == 402
    assert (failed["error"], failed["code"], failed["decline_code"]) == (
        "Your card was declined.",
        "card_declined",
        "generic_decline",
    )
    payment_row(ledger, failed["id"], "requires_payment_method")
    found = rows(
        ledger.dsn,
        "SELECT * FROM billing.payment_transactions WHERE "
        "stripe_payment_intent_id = %s AND failure_code IS NOT NULL",
        failed["id"],
    )
    row = found[0]
    assert (row["failure_code"], row["decline_code"], row["failure_message"]) == (
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    )


def test_sepa_debit_goes_processing_then_succeeded(ledger: Ledger) -> None:
    answer = ledger.pay("pm_sepa_debit", "sepa")
    assert (answer.status_code, answer.json()["status"]) == (202, "processing")
    intent = answer.json()["id"]
    assert payment_row(ledger, intent, "processing")["payment_method_type"] == "sepa_debit"
    assert payment_row(ledger, intent, "succeeded")["amount_received"] == 2000


def test_a_partial_refund_posts_its_journal_entry(ledger: Ledger) -> None:
    paid = ledger.pay("pm_card_visa", "refund").json()
    payment_row(ledger, paid["id"], "succeeded")
    refund = ledger.post(f"/payments/{paid['id']}/refunds", {"amount": 750}, "refund-750")
    assert refund.status_code == 201, refund.text
    refund_id = refund.json()["id"]
    lines = rows(
        ledger.dsn,
        "SELECT l.ledger_account, l.debit_cents, l.credit_cents, e.transition "
        "FROM billing.journal_lines l JOIN billing.journal_entries e ON e.id = l.entry_id "
        "WHERE e.source_object = %s ORDER BY l.debit_cents DESC",
        refund_id,
        expect=2,
    )
    assert [tuple(r.values()) for r in lines] == [
        ("refunds", 750, 0, "refunded"),
        ("stripe_balance", 0, 750, "refunded"),
    ]
    assert rows(
        ledger.dsn,
        "SELECT 1 FROM billing.payment_transactions WHERE "
        "stripe_payment_intent_id = %s AND amount_refunded = 750",
        paid["id"],
    )
    read = httpx.get(
        f"{ledger.up.base_url}/api/v1/payments/{paid['id']}",
        headers={"Authorization": f"Bearer {ledger.token}"},
    )
    assert (read.status_code, read.json()["amount_refunded"]) == (200, 750)
    listed = httpx.get(  # the finance list, read as billing_reader by `up`
        f"{ledger.up.base_url}/api/v1/refunds/{refund_id}",
        headers={"Authorization": f"Bearer {ledger.token}"},
    )
    assert (listed.status_code, listed.json()["payment_intent"]) == (200, paid["id"])


def test_a_repeated_key_charges_once_also_under_concurrency(ledger: Ledger) -> None:
    owner = ledger.customer("pm_card_visa", "once")
    before = len(ledger.stand_in("GET", "/payment_intents", limit=100)["data"])
    body = {"customer": owner, "amount": 4200, "currency": "usd", "payment_method": "pm_card_visa"}
    with ThreadPoolExecutor(8) as workers:
        answers = list(
            workers.map(lambda _: ledger.post("/payments", body, "charge-once"), range(8))
        )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 7
    again = ledger.post("/payments", body, "charge-once")
    assert again.json()["id"] == answers[0].json()["id"]
    assert ledger.post("/payments", {**body, "amount": 1}, "charge-once").status_code == 422
    assert len(ledger.stand_in("GET", "/payment_intents", limit=100)["data"]) == before + 1


def test_an_open_invoice_is_paid_again_with_another_method(ledger: Ledger) -> None:
    owner = ledger.customer("pm_card_chargeDeclined", "invoice")
    ledger.stand_in("POST", "/invoiceitems", customer=owner, amount=3100, currency="eur")
    draft = ledger.stand_in("POST", "/invoices", customer=owner)
    ledger.stand_in("POST", f"/invoices/{draft['id']}/finalize")
    declined = ledger.post(f"/invoices/{draft['id']}/pay", {}, "invoice-first")
    assert declined.status_code == 402 and declined.json()["decline_code"] == "generic_decline"
    paid = ledger.post(
        f"/invoices/{draft['id']}/pay", {"payment_method": "pm_card_visa"}, "invoice-again"
    )
    assert (paid.status_code, paid.json()["status"]) == (200, "paid")
    assert rows(
        ledger.dsn,
        "SELECT 1 FROM billing.invoices WHERE stripe_invoice_id = %s "
        "AND status = 'paid' AND amount_remaining = 0",
        draft["id"],
        timeout=30,
    )


CAUGHT_UP = """
SELECT (SELECT count(*) FROM eventlog.stripe_events),
       (SELECT coalesce(max(notification_id), 0) FROM eventstore.billing_tracking)
         >= (SELECT coalesce(max(position), 0) FROM eventlog.stripe_events),
       (SELECT min(position) FROM billing.projection_tracking)
         = (SELECT coalesce(max(notification_id), 0) FROM eventstore.billing_events)
"""


def settled(dsn: str, quiet_seconds: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until no webhook has arrived for a while and everything is processed and projected."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute(CAUGHT_UP).fetchone()
            assert found is not None
            count, processed, projected = found
            if count != last:
                last, since = count, time.monotonic()
            elif processed and projected and time.monotonic() - since >= quiet_seconds:
                return
            time.sleep(0.2)
    raise AssertionError("the pipeline did not settle")


def test_the_cli_takes_a_3d_secure_payment_and_refunds_part_of_it(ledger: Ledger) -> None:
    made = ledger.cli(
        "customers",
        "create",
        "--email",
        "cli@example.com",
        "--name",
        "CLI",
        "--payment-method",
        "pm_card_authenticationRequired",
    )
    assert made.returncode == 0, made.stderr
    owner = json.loads(made.stdout)["id"]
    argv = (
        "payments",
        "create",
        "--customer",
        owner,
        "--amount",
        "1500",
        "--currency",
        "eur",
        "--payment-method",
        "pm_card_authenticationRequired",
        "--idempotency-key",
        "cli-pay",
    )
    paying = ledger.cli(*argv)
    assert paying.returncode == 0, paying.stderr
    waiting = json.loads(paying.stdout)
    assert waiting["status"] == "requires_action"
    assert waiting["confirmation_url"].startswith(f"{PUBLIC}/pay/{waiting['id']}?link=")
    assert json.loads(ledger.cli(*argv).stdout)["id"] == waiting["id"]  # the same key: once
    httpx.post(waiting["next_action"]["redirect_to_url"]["url"])
    payment_row(ledger, waiting["id"], "succeeded")
    refunded = ledger.cli("payments", "refund", waiting["id"], "--amount", "500")
    assert refunded.returncode == 0, refunded.stderr
    assert json.loads(refunded.stdout)["amount"] == 500
    assert rows(
        ledger.dsn,
        "SELECT 1 FROM billing.payment_transactions WHERE "
        "stripe_payment_intent_id = %s AND amount_refunded = 500",
        waiting["id"],
    )
    declined = ledger.cli(
        "payments",
        "create",
        "--customer",
        owner,
        "--amount",
        "100",
        "--currency",
        "eur",
        "--payment-method",
        "pm_card_chargeDeclined",
    )
    assert (
        declined.returncode == 1
        and json.loads(declined.stdout)["decline_code"] == "generic_decline"
    )


def test_the_ledger_checks_and_a_replay_verifies_after_the_flows(ledger: Ledger) -> None:
    settled(ledger.dsn)
    with psycopg.connect(ledger.dsn) as conn:
        record = conn.execute(
            "SELECT (SELECT count(*) FROM ops.commands), (SELECT count(*) FROM ops.command_events)"
        ).fetchone()
    check = ledger.cli("ledger", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    replay = ledger.cli("replay", "--verify")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    with psycopg.connect(ledger.dsn) as conn:
        assert (
            conn.execute(
                "SELECT (SELECT count(*) FROM ops.commands), "
                "(SELECT count(*) FROM ops.command_events)"
            ).fetchone()
            == record
        )
        kept = str(conn.execute("SELECT json_agg(e) FROM ops.command_events e").fetchone())
    logged = ledger.up.log() + ledger.stripe.log()
    for secret in (STRIPE_KEY, ledger.token, "three-ds@example.com", "_secret_"):
        assert secret not in logged, f"the logs show {secret[:12]}…"
        assert secret not in kept, f"the command record holds {secret[:12]}…"
