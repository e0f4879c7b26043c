"""The journal on real Postgres: exactly once, immutable, balanced per statement, reconciled with
the billing tables, order of delivery irrelevant; and `billing-ledger ledger` on top of it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from billing_ledger.cli import main
from billing_ledger.projections.journal_checks import check_journal
from billing_ledger.projections.migrations import READ_SCHEMA
from tests.pipeline import Pipeline
from tests.support.stripe import dispute, event, invoice, invoice_payment, payment_intent, refund
from tests.support.webhooks import body_of

T = 1_767_225_600


def deliver(pipeline: Pipeline, *documents: dict[str, Any]) -> None:
    for document in documents:
        pipeline.append(body_of(document))
    pipeline.process_all()


def balances(pipeline: Pipeline, account: str = "") -> dict[tuple[str, str], int]:
    rows = pipeline.query(
        "SELECT ledger_account, currency, balance_cents FROM billing.account_balances "
        "WHERE account_id = %s AND balance_cents <> 0",
        (account,),
    )
    return {(ledger, currency): balance for ledger, currency, balance in rows}


def check(pipeline: Pipeline) -> list[str]:
    with psycopg.connect(pipeline.dsn) as conn:
        return check_journal(conn, READ_SCHEMA)


def a_month_of_billing() -> list[dict[str, Any]]:
    """Two customers: one pays (both payment events), one is written off then pays out of band,
    an invoice is voided, a one-off payment is partly refunded, a dispute is won."""
    paid = invoice(
        "in_A",
        "cus_A",
        status="paid",
        total=1200,
        tax=200,
        amount_paid=1200,
        transitions={"paid_at": T + 5},
    )
    return [
        event("invoice.finalized", invoice("in_A", "cus_A", total=1200, tax=200), created=T),
        event("invoice.paid", paid, created=T + 5),
        event("invoice.payment_succeeded", paid, created=T + 5),
        event("invoice.finalized", invoice("in_B", "cus_B", total=500, tax=0), created=T),
        event(
            "invoice.marked_uncollectible",
            invoice("in_B", "cus_B", status="uncollectible", total=500, tax=0),
            created=T + 9,
        ),
        event(
            "invoice.paid",
            invoice(
                "in_B",
                "cus_B",
                status="paid",
                total=500,
                tax=0,
                amount_paid=500,
                paid_out_of_band=True,
            ),
            created=T + 20,
        ),
        event("invoice.finalized", invoice("in_C", "cus_B", total=300, tax=50), created=T + 1),
        event("invoice.finalized", invoice("in_D", "cus_B", total=700, tax=0), created=T + 2),
        event(
            "invoice.voided",
            invoice("in_D", "cus_B", status="void", total=700, tax=0),
            created=T + 3,
        ),
        event(
            "payment_intent.succeeded", payment_intent("pi_One", "cus_A", amount=900), created=T + 4
        ),
        event("refund.created", refund("re_1", "pi_One", amount=250, created=T + 6), created=T + 6),
        event(
            "charge.dispute.funds_withdrawn",
            dispute("dp_1", "pi_One", amount=900, balance_transactions=[-900]),
            created=T + 7,
        ),
        event(
            "charge.dispute.closed",
            dispute("dp_1", "pi_One", status="won", amount=900, balance_transactions=[-900, 900]),
            created=T + 8,
        ),
    ]


def test_a_month_of_billing_posts_balanced_reconciled_entries(pipeline: Pipeline) -> None:
    deliver(pipeline, *a_month_of_billing())
    assert balances(pipeline) == {
        ("accounts_receivable", "usd"): 300,  # in_C is open
        ("revenue", "usd"): -(1000 + 500 + 250 + 900),
        ("tax_payable", "usd"): -(200 + 50),
        ("stripe_balance", "usd"): 1200 + 900 - 250,
        ("other_receipts", "usd"): 500,
        ("refunds", "usd"): 250,
    }
    paid_entries = pipeline.query(
        "SELECT transition, stripe_event_id FROM billing.journal_entries "
        "WHERE source_object = 'in_A' ORDER BY occurred_at"
    )
    assert [t for t, _ in paid_entries] == ["finalized", "paid"]  # two payment events, one entry
    assert check(pipeline) == []


def test_redelivery_and_replaying_the_journal_add_no_entry(pipeline: Pipeline) -> None:
    history = a_month_of_billing()
    deliver(pipeline, *history)
    before = pipeline.query("SELECT * FROM billing.journal_entries ORDER BY id")
    deliver(pipeline, *history)  # Stripe retries everything
    pipeline.query(
        "UPDATE billing.projection_tracking SET position = 0 "
        "WHERE projection = 'journal' RETURNING 1"
    )
    pipeline.process_all()  # the journal projection replays every domain event
    assert pipeline.query("SELECT * FROM billing.journal_entries ORDER BY id") == before
    assert check(pipeline) == []


def test_journal_rows_cannot_be_changed_or_removed(pipeline: Pipeline) -> None:
    deliver(pipeline, *a_month_of_billing())
    for statement in (
        "UPDATE billing.journal_lines SET debit_cents = debit_cents + 1",
        "DELETE FROM billing.journal_entries",
    ):
        with pytest.raises(psycopg.errors.RestrictViolation, match="immutable"):
            pipeline.query(statement + " RETURNING 1")


ENTRY = "00000000-0000-0000-0000-00000000000e"
OTHER_ENTRY = "00000000-0000-0000-0000-00000000000f"


def _post_entries(conn: psycopg.Connection[Any], *ids: str) -> None:
    for n, entry in enumerate(ids):
        conn.execute(
            "INSERT INTO billing.journal_entries (id, account_id, livemode, occurred_at, kind, "
            "description, source_object, transition, stripe_event_id) VALUES "
            "(%s, '', false, now(), 'k', 'd', %s, 'finalized', 'evt_X')",
            (entry, f"in_X{n}"),
        )


def _insert_lines(conn: psycopg.Connection[Any], *lines: tuple[str, str, int, int, str]) -> None:
    """One INSERT of (entry, ledger account, debit, credit, currency) lines."""
    conn.execute(
        "INSERT INTO billing.journal_lines (id, account_id, livemode, entry_id, ledger_account, "
        "debit_cents, credit_cents, currency) SELECT gen_random_uuid(), '', false, e, a, d, c, "
        "cur FROM unnest(%s::uuid[], %s::text[], %s::bigint[], %s::bigint[], %s::text[]) "
        "AS u(e, a, d, c, cur)",
        [list(column) for column in zip(*lines, strict=True)],
    )


def test_an_unbalanced_entry_is_refused_by_its_statement(pipeline: Pipeline) -> None:
    with psycopg.connect(pipeline.dsn) as conn:
        _post_entries(conn, ENTRY, OTHER_ENTRY)
        balanced = (ENTRY, "accounts_receivable", 10, 0, "usd"), (ENTRY, "revenue", 0, 10, "usd")
        with pytest.raises(psycopg.errors.CheckViolation, match=f"{OTHER_ENTRY} does not balance"):
            # Balanced in total and in the first entry, not in the second's own currencies.
            _insert_lines(
                conn,
                *balanced,
                (OTHER_ENTRY, "accounts_receivable", 10, 0, "usd"),
                (OTHER_ENTRY, "revenue", 0, 10, "eur"),
            )
        conn.rollback()
        _post_entries(conn, ENTRY)
        # An entry's lines belong in one statement: half of one is refused at once.
        with pytest.raises(psycopg.errors.CheckViolation, match=f"{ENTRY} does not balance in usd"):
            _insert_lines(conn, balanced[0])
        conn.rollback()
        _post_entries(conn, ENTRY, OTHER_ENTRY)
        _insert_lines(
            conn,
            *balanced,
            (OTHER_ENTRY, "stripe_balance", 5, 0, "usd"),
            (OTHER_ENTRY, "revenue", 0, 5, "usd"),
        )
        _insert_lines(conn, *balanced)  # a balanced pair more for an entry that balances
        conn.commit()
        rows = conn.execute(
            "SELECT entry_id::text, sum(debit_cents - credit_cents), count(*) "
            "FROM billing.journal_lines WHERE entry_id IN (%s, %s) GROUP BY 1 ORDER BY 1",
            (ENTRY, OTHER_ENTRY),
        ).fetchall()
    assert rows == [(ENTRY, 0, 4), (OTHER_ENTRY, 0, 2)]


def test_a_line_of_no_entry_is_refused_at_once(pipeline: Pipeline) -> None:
    """The balances summary (migration 0014) dates a line by its entry: none, no line."""
    with (
        psycopg.connect(pipeline.dsn) as conn,
        pytest.raises(psycopg.errors.ForeignKeyViolation, match="written before their entries"),
    ):
        _insert_lines(  # balanced, so that only the missing entry is wrong
            conn, (ENTRY, "accounts_receivable", 10, 0, "usd"), (ENTRY, "revenue", 0, 10, "usd")
        )


def test_check_names_a_receivable_that_does_not_reconcile(pipeline: Pipeline) -> None:
    deliver(pipeline, *a_month_of_billing())
    pipeline.query(
        "UPDATE billing.invoices SET amount_remaining = 299 WHERE stripe_invoice_id = 'in_C' "
        "RETURNING 1"
    )
    assert check(pipeline) == [
        "receivable of cus_B (platform test, usd) is 300 but its open invoices have 299 remaining"
    ]


def test_check_names_a_balances_summary_that_differs_from_its_lines(pipeline: Pipeline) -> None:
    deliver(pipeline, *a_month_of_billing())
    assert check(pipeline) == []
    pipeline.query(
        "UPDATE billing.journal_balances SET debit_cents = debit_cents + 1 "
        "WHERE ledger_account = 'refunds' RETURNING 1"
    )
    from_lines, in_summary = check(pipeline)
    prefix = "balances summary of platform test differs from its lines: refunds"
    assert from_lines.startswith(prefix) and "(lines: debits 250," in from_lines
    assert in_summary.startswith(prefix) and "(summary: debits 251," in in_summary


def test_check_names_revenue_out_of_step_with_invoices(pipeline: Pipeline) -> None:
    deliver(pipeline, *a_month_of_billing())
    pipeline.query(
        "UPDATE billing.invoices SET tax = 0 WHERE stripe_invoice_id = 'in_A' RETURNING 1"
    )
    assert check(pipeline) == [
        "revenue of platform test in usd is 2650 but finalized invoices and payments without "
        "invoice say 2850"
    ]


def test_an_invoice_link_after_the_payment_reverses_the_one_off_sale(pipeline: Pipeline) -> None:
    paid = invoice("in_L", "cus_A", status="paid", total=900, tax=0, amount_paid=900)
    deliver(
        pipeline,
        event("payment_intent.succeeded", payment_intent("pi_L", "cus_A", amount=900), created=T),
        event("invoice.paid", paid, created=T + 1),
    )
    assert balances(pipeline)[("revenue", "usd")] == -1800  # linked only by invoice_payment
    assert check(pipeline) == []  # payment_transactions agrees: no invoice yet
    link = invoice_payment("inpay_L", "in_L", "pi_L", amount_paid=900)
    deliver(pipeline, event("invoice_payment.paid", link, created=T + 2))
    assert balances(pipeline) == {("revenue", "usd"): -900, ("stripe_balance", "usd"): 900}
    reversal = pipeline.query(
        "SELECT r.kind, o.transition FROM billing.journal_entries r "
        "JOIN billing.journal_entries o ON o.id = r.reversal_of"
    )
    assert reversal == [("payment_linked_to_invoice", "one_off_payment")]
    assert check(pipeline) == []


def test_trial_balance_as_of_a_date(pipeline: Pipeline) -> None:
    deliver(pipeline, *a_month_of_billing())
    rows = pipeline.query(
        "SELECT ledger_account, balance_cents FROM billing.trial_balance(to_timestamp(%s)) "
        "WHERE balance_cents <> 0 ORDER BY 1",
        (T + 1,),
    )
    assert rows == [
        ("accounts_receivable", 1200 + 500 + 300),
        ("revenue", -(1000 + 500 + 250)),
        ("tax_payable", -250),
    ]


def test_the_ledger_commands(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    deliver(pipeline, *a_month_of_billing())
    monkeypatch.setenv("DATABASE_URL", pipeline.dsn)
    assert main(["ledger", "check"]) == 0
    assert "ledger check ok: " in capsys.readouterr().out
    assert main(["ledger", "balances", "--as-of", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "(trial balance)" in out and "stripe_balance" in out
    assert main(["ledger", "entries", "--customer", "cus_B"]) == 0
    out = capsys.readouterr().out
    assert "invoice_written_off  in_B written_off" in out
    assert "write_off_reversed  in_B written_off:reversal" in out
    assert main(["ledger", "balances", "--as-of", "yesterday"]) == 2
    assert "not an ISO date" in capsys.readouterr().err
    pipeline.query("UPDATE billing.invoices SET amount_remaining = 0 RETURNING 1")
    assert main(["ledger", "check"]) == 1
    assert "violation: receivable of cus_B" in capsys.readouterr().out


def test_ledger_commands_on_a_database_without_journal_say_so(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["ledger", "check"]) == 2
    assert "no journal in this database yet" in capsys.readouterr().err


@pytest.mark.parametrize("paid_first", [True, False])
def test_an_invoice_paid_then_deleted_in_one_second_stays_paid_and_checks(
    pipeline: Pipeline,
    paid_first: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Impossible in Stripe, but signed: the deletion is kept in the log, applies nothing, and
    is listed as a dead letter when it comes after the payment; the journal stays whole."""
    paid = invoice(status="paid", total=2000, amount_paid=2000, transitions={"paid_at": T + 9})
    history = [
        event("invoice.finalized", invoice(status="open", total=2000), created=T),
        event("invoice.paid", paid, created=T + 9, event_id="evt_a_paid"),
        # An id after the payment's: the id must not decide either.
        event("invoice.deleted", invoice(status="draft"), created=T + 9, event_id="evt_b_del"),
    ]
    deliver(pipeline, *(history if paid_first else [history[2], history[0], history[1]]))
    assert pipeline.query("SELECT status, amount_remaining FROM billing.invoices") == [("paid", 0)]
    assert check(pipeline) == []
    assert balances(pipeline) == {("revenue", "usd"): -2000, ("stripe_balance", "usd"): 2000}
    monkeypatch.setenv("DATABASE_URL", pipeline.dsn)
    assert main(["ledger", "check"]) == 0
    capsys.readouterr()
    assert main(["dead-letters"]) == 0
    listing = capsys.readouterr().out
    contradiction = "invoice.deleted contradicts terminal state paid of in_Test1"
    assert (contradiction in listing) is paid_first
