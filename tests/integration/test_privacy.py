"""Crypto-shredding end to end on a real database: personal values are unreadable in the log,
the event store and every table without their key; `forget` redacts exactly what a rebuild
redacts and changes no amount; later events of a forgotten person stay redacted; the master
key can be rotated, and a wrong or missing one is refused at startup in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from billing_ledger.infra.master_key import generate_text
from billing_ledger.schemas.personal import REDACTED
from tests.e2e.cli import cli_env
from tests.pipeline import Pipeline
from tests.support.stripe import (
    charge,
    customer,
    event,
    invoice,
    invoice_payment,
    mandate,
    payment_intent,
    setup_intent,
    subscription,
    tax_id,
)

EMAIL = "grace.hopper.private@example.com"
NAME = "Grace Brewster Hopper"
STREET = "1 Compiler Way"
TAX_ID = "DE999888777"
NEEDLES = (EMAIL, NAME, STREET, TAX_ID)
ADDRESS = {
    "line1": STREET,
    "line2": None,
    "city": "Arlington",
    "state": "VA",
    "postal_code": "22201",
    "country": "US",
}


def history(email: str = EMAIL) -> list[dict[str, Any]]:
    """Grace's month: she subscribes, is invoiced and pays by card."""
    grace = customer("cus_Test1", email=email, name=NAME, address=ADDRESS, phone="+1 555 0100")
    paying = charge(billing_details={"email": email, "name": NAME, "address": ADDRESS})
    return [
        event("customer.created", grace),
        event("customer.tax_id.created", tax_id(value=TAX_ID), created=1_767_225_601),
        event("customer.subscription.created", subscription()),
        event(
            "invoice.paid",
            invoice(
                status="paid",
                amount_paid=2000,
                customer_email=email,
                customer_name=NAME,
                invoice_pdf="https://pay.stripe.com/invoice/acct_1/in_Test1/pdf",
                hosted_invoice_url="https://invoice.stripe.com/i/acct_1/in_Test1",
            ),
        ),
        event("payment_intent.succeeded", payment_intent(receipt_email=email)),
        event("charge.succeeded", paying),
        event("invoice_payment.paid", invoice_payment()),
    ]


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    for document in history():
        opened.deliver(document)
    opened.process_all()
    yield opened
    opened.close()


def cli(dsn: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_ledger", *args],
        env=cli_env({"DATABASE_URL": dsn, **env}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def every_table_as_text(dsn: str, skip_schemas: tuple[str, ...] = ()) -> dict[str, str]:
    """Every row of every table of every schema of the database, as text (bytea decoded
    byte for byte), by table: what anyone reading the database could read."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
        tables: dict[tuple[str, str], list[str]] = {}
        for schema, table, column, data_type in columns:
            if schema in skip_schemas:
                continue
            shown = (
                f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            )
            tables.setdefault((schema, table), []).append(shown)
        return {
            f"{schema}.{table}": "\n".join(
                str(row[0])
                for row in conn.execute(
                    f'SELECT concat_ws(\' \', {", ".join(shown)}) FROM "{schema}"."{table}"'
                )
            )
            for (schema, table), shown in tables.items()
        }


def assert_unreadable(texts: dict[str, str]) -> None:
    for table, text in texts.items():
        for needle in NEEDLES:
            assert needle not in text, f"{needle!r} readable in {table}"


def personal(pipeline: Pipeline) -> tuple[Any, ...]:
    [row] = pipeline.query(
        "SELECT email, name, tax_id, billing_address FROM billing.stripe_customers"
    )
    return tuple(row)


def books(pipeline: Pipeline) -> dict[str, list[tuple[Any, ...]]]:
    """Everything that is not personal: amounts, statuses, dates, MRR and the journal."""
    return {
        "invoices": pipeline.query(
            "SELECT id, amount_due, amount_paid, total, tax, currency, status, paid_at "
            "FROM billing.invoices ORDER BY id"
        ),
        "payments": pipeline.query(
            "SELECT id, amount, amount_received, status, invoice_id, customer_id "
            "FROM billing.payment_transactions ORDER BY id"
        ),
        "subscriptions": pipeline.query("SELECT * FROM billing.subscriptions ORDER BY id"),
        "mrr": pipeline.query("SELECT * FROM billing.mrr_monthly ORDER BY month, currency"),
        "movements": pipeline.query("SELECT * FROM billing.mrr_movements ORDER BY month, kind"),
        "journal": pipeline.query(
            "SELECT ledger_account, customer_id, debit_cents, credit_cents, currency "
            "FROM billing.journal_lines ORDER BY 1, 2, 3, 4"
        ),
    }


def test_personal_values_are_readable_only_in_the_tables_while_the_key_exists(
    pipeline: Pipeline,
) -> None:
    assert personal(pipeline) == (EMAIL, NAME, TAX_ID, ADDRESS)
    [links] = pipeline.query(
        "SELECT invoice_pdf, receipt_url FROM billing.invoices, billing.payment_transactions"
    )
    assert all(link and link.startswith("https://") for link in links)
    assert_unreadable(every_table_as_text(pipeline.dsn, skip_schemas=("billing",)))
    [(sealed, subject, verified_with)] = pipeline.query(
        "SELECT count(sealed), min(data_subject), min(verified_with) FROM eventlog.stripe_events"
    )
    assert (sealed, subject, verified_with) == (len(history()), "cus_Test1", "test-secret")


def test_forget_redacts_what_a_rebuild_redacts_and_keeps_the_books(pipeline: Pipeline) -> None:
    before = books(pipeline)
    forgot = cli(pipeline.dsn, "forget", "cus_Test1")
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert "forgot cus_Test1" in forgot.stdout
    assert personal(pipeline) == (REDACTED, REDACTED, REDACTED, None)
    [links] = pipeline.query("SELECT invoice_pdf, hosted_invoice_url FROM billing.invoices")
    assert links == (REDACTED, REDACTED)
    assert books(pipeline) == before
    assert_unreadable(every_table_as_text(pipeline.dsn))

    rebuilt = cli(pipeline.dsn, "replay", "--from-log", "--verify")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "identical" in rebuilt.stdout
    assert pipeline.tables("billing_rebuild") == pipeline.tables()
    checked = cli(pipeline.dsn, "ledger", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [(actor, detail, when)] = pipeline.query(
        "SELECT actor, detail, occurred_at FROM billing.audit_log WHERE action = 'forget'"
    )
    assert actor and when and detail["subject"] == "cus_Test1"
    assert detail["keys_erased"] == ["cus_Test1", "pi_Test1"]  # its payment, linked


def test_a_forgotten_persons_later_events_stay_redacted(pipeline: Pipeline) -> None:
    assert cli(pipeline.dsn, "forget", "cus_Test1").returncode == 0
    deadline = time.monotonic() + 10  # the erasure reaches this process's cache by NOTIFY
    while pipeline.keys.cached_subject_key("", False, "cus_Test1", "cus_Test1") is not None:
        assert time.monotonic() < deadline, "the erasure never reached the ingest's cache"
        time.sleep(0.05)
    later = customer("cus_Test1", email="grace.again@example.com", name=NAME, address=ADDRESS)
    pipeline.deliver(event("customer.updated", later, created=1_767_300_000))
    pipeline.deliver(event("customer.created", later))  # a redelivery
    pipeline.deliver(event("customer.deleted", {**later, "deleted": True}, created=1_767_400_000))
    pipeline.process_all()
    assert personal(pipeline) == (REDACTED, REDACTED, REDACTED, None)
    texts = every_table_as_text(pipeline.dsn)
    assert_unreadable(texts)
    assert "grace.again" not in "".join(texts.values())
    [(facts_only,)] = pipeline.query(
        "SELECT count(*) FROM eventlog.stripe_events WHERE sealed IS NULL"
    )
    assert facts_only == 3
    [deleted] = pipeline.query("SELECT deleted_at FROM billing.stripe_customers")
    assert deleted[0] is not None
    rebuilt = cli(pipeline.dsn, "replay", "--from-log", "--verify")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr


def test_a_mandate_is_its_customers_and_forgotten_with_them(pipeline: Pipeline) -> None:
    """A mandate names no customer, but the IP address its customer accepted it from is theirs:
    its events are sealed under the key of the customer whose SetupIntent names it."""
    ip_address = "198.51.100.23"
    saving = setup_intent(method_id="pm_Sepa", mandate="mandate_1", status="requires_action")
    pipeline.deliver(event("setup_intent.requires_action", saving))
    pipeline.deliver(
        event(
            "mandate.updated",
            mandate("mandate_1", "pm_Sepa", ip_address=ip_address),
            previous_attributes={"status": "pending"},
            created=1_767_225_700,
        )
    )
    pipeline.process_all()
    exported = cli(pipeline.dsn, "export", "cus_Test1")
    assert exported.returncode == 0, exported.stderr
    assert ip_address in exported.stdout  # the customer's, handed over with the rest
    assert ip_address not in "".join(every_table_as_text(pipeline.dsn).values())
    assert cli(pipeline.dsn, "forget", "cus_Test1").returncode == 0
    after = cli(pipeline.dsn, "export", "cus_Test1")
    assert after.returncode == 0, after.stderr
    assert ip_address not in after.stdout
    assert any(
        entry["event_type"] == "mandate.updated" and entry["erased"]
        for entry in json.loads(after.stdout)["events"]
    )


def test_export_hands_over_everything_held_and_after_forget_only_facts(
    pipeline: Pipeline,
) -> None:
    exported = cli(pipeline.dsn, "export", "cus_Test1")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["subject"] == "cus_Test1" and document["livemode"] is False
    assert len(document["events"]) == len(history())
    assert document["events"][0]["event"]["data"]["object"]["email"] == EMAIL
    assert document["tables"]["stripe_customers"][0]["email"] == EMAIL
    assert document["tables"]["invoices"] and document["tables"]["journal_lines"]

    assert cli(pipeline.dsn, "forget", "cus_Test1").returncode == 0
    after = cli(pipeline.dsn, "export", "cus_Test1")
    assert after.returncode == 0, after.stderr
    assert not any(needle in after.stdout for needle in NEEDLES)
    document = json.loads(after.stdout)
    assert all(entry["erased"] for entry in document["events"])
    assert document["data_keys"][0]["erased_at"] is not None
    assert [entry["action"] for entry in document["audit_log"]] == ["export", "forget"]


def test_rotation_rewraps_the_keys_and_the_old_master_key_is_refused(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    new_key = tmp_path / "new-master.key"
    rotated = cli(pipeline.dsn, "keys", "rotate", "--new-key-file", str(new_key))
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "data key(s) re-wrapped" in rotated.stdout

    old = cli(pipeline.dsn, "replay", "--verify")
    assert old.returncode == 2
    assert old.stderr.count("\n") == 1 and "wrong master key" in old.stderr
    new = cli(
        pipeline.dsn,
        "replay",
        "--verify",
        "--restart",
        BILLING_LEDGER_MASTER_KEY_FILE=str(new_key),
    )
    assert new.returncode == 0, new.stdout + new.stderr
    [(email,)] = pipeline.query("SELECT email FROM billing_rebuild.stripe_customers")
    assert email == EMAIL


def test_a_wrong_or_missing_master_key_is_one_line_at_startup(pipeline: Pipeline) -> None:
    wrong = cli(pipeline.dsn, "replay", BILLING_LEDGER_MASTER_KEY=generate_text())
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "wrong master key" in wrong.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "billing_ledger", "replay"],
        env={**cli_env({"DATABASE_URL": pipeline.dsn}), "BILLING_LEDGER_MASTER_KEY": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.count("\n") == 1 and "no master key" in missing.stderr
