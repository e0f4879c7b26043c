"""A finance user's path: signed invoice webhooks POSTed to the real CLI over HTTP come out as
double-entry lines in `billing.journal_entries` and `billing.journal_lines`, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.cli import running
from tests.e2e.test_webhook_to_tables import rows
from tests.support.stripe import event, invoice
from tests.support.webhooks import deliver

FINALIZED_AT = 1_767_225_600
PAID_AT = FINALIZED_AT + 3600
TOTAL, TAX = 2400, 400

LINES = """
SELECT e.transition, e.kind, e.stripe_event_id, extract(epoch FROM e.occurred_at)::bigint AS at,
       l.ledger_account, l.customer_id, l.debit_cents, l.credit_cents, l.currency
FROM billing.journal_entries e JOIN billing.journal_lines l ON l.entry_id = e.id
WHERE e.source_object = 'in_J'
ORDER BY e.occurred_at, l.debit_cents DESC, l.ledger_account
"""
JOURNAL = (
    "SELECT * FROM billing.journal_entries ORDER BY id",
    "SELECT * FROM billing.journal_lines ORDER BY id",
)
# The processor has applied the log up to the given position, and the journal has projected
# every domain event there is: whatever those deliveries change has been written.
CAUGHT_UP = """
SELECT 1 WHERE (SELECT max(notification_id) FROM eventstore.billing_tracking) >= %s
  AND (SELECT position FROM billing.projection_tracking WHERE projection = 'journal')
    = (SELECT max(notification_id) FROM eventstore.billing_events)
"""


def webhooks() -> list[dict[str, Any]]:
    """Stripe's two events of an invoice's life: finalized (2,400 of which 400 tax), then paid."""
    finalized = invoice(
        "in_J",
        "cus_J",
        total=TOTAL,
        tax=TAX,
        transitions={"finalized_at": FINALIZED_AT},
    )
    paid = invoice(
        "in_J",
        "cus_J",
        status="paid",
        total=TOTAL,
        tax=TAX,
        amount_paid=TOTAL,
        transitions={"finalized_at": FINALIZED_AT, "paid_at": PAID_AT},
    )
    return [
        event("invoice.finalized", finalized, event_id="evt_J_finalized", created=FINALIZED_AT),
        event("invoice.paid", paid, event_id="evt_J_paid", created=PAID_AT),
    ]


def post(client: httpx.Client, base_url: str, documents: list[dict[str, Any]]) -> None:
    for document in documents:
        response = deliver(client, base_url, document)
        assert (response.status_code, response.json()) == (200, {"received": True})


def test_an_invoice_finalized_then_paid_posts_its_journal_lines_once(
    database_url: str, tmp_path: Path
) -> None:
    with running("up", {"DATABASE_URL": database_url}, tmp_path) as app, httpx.Client() as client:
        post(client, app.base_url, webhooks())
        lines = [tuple(row.values()) for row in rows(database_url, LINES, expect=5)]
        finalized = ("finalized", "invoice_finalized", "evt_J_finalized", FINALIZED_AT)
        paid = ("paid", "invoice_paid", "evt_J_paid", PAID_AT)
        assert lines == [
            (*finalized, "accounts_receivable", "cus_J", TOTAL, 0, "usd"),
            (*finalized, "revenue", "cus_J", 0, TOTAL - TAX, "usd"),
            (*finalized, "tax_payable", "cus_J", 0, TAX, "usd"),
            (*paid, "stripe_balance", "cus_J", TOTAL, 0, "usd"),
            (*paid, "accounts_receivable", "cus_J", 0, TOTAL, "usd"),
        ]
        assert rows(database_url, CAUGHT_UP, 2), "the deliveries were not all projected"
        journal = [rows(database_url, query, expect=0) for query in JOURNAL]

        post(client, app.base_url, webhooks())  # Stripe delivers both again
        assert rows(database_url, CAUGHT_UP, 4), "the redelivery was not processed"
        assert [rows(database_url, query, expect=0) for query in JOURNAL] == journal
