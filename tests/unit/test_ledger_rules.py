"""Posting rules, one case each, through real aggregates and the pure rules (no I/O)."""

from __future__ import annotations

from typing import Any

from tests.support.books import Books
from tests.support.stripe import dispute, event, invoice, invoice_payment, payment_intent, refund

T = 1_767_225_600


def taxed_invoice(status: str, **fields: Any) -> dict[str, Any]:
    """The invoice these cases post: 1,200, of which 200 is tax."""
    return invoice(status=status, total=1200, tax=200, **fields)


def transitions(books: Books) -> list[str]:
    return sorted(f"{source} {transition}" for source, transition in books.entries)


def test_finalized_invoice_posts_receivable_revenue_and_tax() -> None:
    books = Books()
    books.deliver(event("invoice.finalized", taxed_invoice("open")))
    assert books.balances() == {
        ("accounts_receivable", "usd"): 1200,
        ("revenue", "usd"): -1000,
        ("tax_payable", "usd"): -200,
    }
    (entry,) = books.entries.values()
    assert (entry.transition, entry.kind) == ("finalized", "invoice_finalized")


def test_the_two_events_stripe_sends_for_one_payment_post_once() -> None:
    books = Books()
    paid = taxed_invoice("paid", amount_paid=1200, transitions={"paid_at": T + 5})
    books.deliver(
        event("invoice.finalized", taxed_invoice("open"), created=T),
        event("invoice.paid", paid, created=T + 5),
        event("invoice.payment_succeeded", paid, created=T + 5),
    )
    assert transitions(books) == ["in_Test1 finalized", "in_Test1 paid"]
    assert books.balances() == {
        ("stripe_balance", "usd"): 1200,
        ("revenue", "usd"): -1000,
        ("tax_payable", "usd"): -200,
    }


def test_an_invoice_seen_first_as_paid_posts_finalized_and_paid() -> None:
    books = Books()
    books.deliver(event("invoice.paid", taxed_invoice("paid", amount_paid=1200), created=T + 5))
    assert transitions(books) == ["in_Test1 finalized", "in_Test1 paid"]


def test_paid_out_of_band_lands_in_other_receipts() -> None:
    books = Books()
    paid = taxed_invoice("paid", amount_paid=1200, paid_out_of_band=True)
    books.deliver(event("invoice.paid", paid))
    assert books.balances()[("other_receipts", "usd")] == 1200
    assert ("stripe_balance", "usd") not in books.balances()


def test_uncollectible_then_paid_reverses_the_write_off_before_the_payment() -> None:
    books = Books()
    posted = books.deliver(
        event("invoice.finalized", taxed_invoice("open"), created=T),
        event("invoice.marked_uncollectible", taxed_invoice("uncollectible"), created=T + 1),
        event("invoice.paid", taxed_invoice("paid", amount_paid=1200), created=T + 2),
    )
    assert [e.transition for e in posted] == [
        "finalized",
        "written_off",
        "written_off:reversal",
        "paid",
    ]
    assert posted[2].reversal_of == "written_off"
    assert ("bad_debt", "usd") not in books.balances()
    assert books.receivable_of("cus_Test1") == 0


def test_uncollectible_invoice_is_written_off_to_bad_debt() -> None:
    books = Books()
    books.deliver(event("invoice.marked_uncollectible", taxed_invoice("uncollectible")))
    assert books.balances()[("bad_debt", "usd")] == 1200
    assert books.receivable_of("cus_Test1") == 0


def test_voided_invoice_reverses_its_finalization() -> None:
    books = Books()
    posted = books.deliver(
        event("invoice.finalized", taxed_invoice("open"), created=T),
        event("invoice.voided", taxed_invoice("void"), created=T + 1),
    )
    assert [(e.transition, e.reversal_of) for e in posted] == [
        ("finalized", None),
        ("finalized:reversal", "finalized"),
    ]
    assert books.balances() == {}


def test_customer_credit_applied_and_partial_payment() -> None:
    books = Books()
    books.deliver(
        event("invoice.finalized", taxed_invoice("open", amount_due=1000), created=T),
        event(
            "invoice.updated",
            taxed_invoice("open", amount_due=1000, amount_paid=400),
            created=T + 1,
        ),
    )
    assert books.balances() == {
        ("accounts_receivable", "usd"): 600,  # == amount_remaining
        ("customer_credit", "usd"): 200,
        ("stripe_balance", "usd"): 400,
        ("revenue", "usd"): -1000,
        ("tax_payable", "usd"): -200,
    }
    books.deliver(
        event(
            "invoice.paid", taxed_invoice("paid", amount_due=1000, amount_paid=1000), created=T + 2
        )
    )
    assert books.receivable_of("cus_Test1") == 0
    assert books.balances()[("stripe_balance", "usd")] == 1000


def test_pre_payment_credit_note_revises_the_finalization() -> None:
    books = Books()
    posted = books.deliver(
        event("invoice.finalized", taxed_invoice("open"), created=T),
        event(
            "invoice.updated",
            taxed_invoice("open", amount_due=900, pre_payment_credit_notes_amount=300),
            created=T + 1,
        ),
    )
    assert [e.transition for e in posted] == ["finalized", "finalized:reversal", "finalized#2"]
    assert posted[1].kind == "invoice_revised"
    assert books.balances()[("credit_notes", "usd")] == 300
    assert books.receivable_of("cus_Test1") == 900


def test_refunds_keyed_by_refund_id_and_a_failed_refund_reversed() -> None:
    books = Books()
    books.deliver(
        event("refund.created", refund("re_1", "pi_1", amount=300), created=T),
        event("refund.created", refund("re_2", "pi_1", amount=200, status="pending"), created=T),
        event("refund.failed", refund("re_2", "pi_1", amount=200, status="failed"), created=T + 1),
    )
    assert transitions(books) == ["re_1 refunded", "re_2 refunded", "re_2 refunded:reversal"]
    assert books.balances() == {("refunds", "usd"): 300, ("stripe_balance", "usd"): -300}


def test_a_refund_seen_first_as_failed_posts_nothing() -> None:
    books = Books()
    books.deliver(event("refund.failed", refund("re_1", "pi_1", amount=300, status="failed")))
    assert books.entries == {}


def test_dispute_funds_withdrawn_then_reinstated() -> None:
    books = Books()
    books.deliver(
        event("charge.dispute.created", dispute(amount=1200, balance_transactions=[]), created=T)
    )
    assert books.entries == {}  # an inquiry, or no money moved yet
    books.deliver(
        event(
            "charge.dispute.funds_withdrawn",
            dispute(amount=1200, balance_transactions=[-1200]),
            created=T + 1,
        ),
        event(
            "charge.dispute.closed",
            dispute(status="won", amount=1200, balance_transactions=[-1200, 1200]),
            created=T + 2,
        ),
    )
    withdrawn, reinstated = sorted(books.entries.values(), key=lambda e: e.occurred_at)
    assert reinstated.reversal_of == withdrawn.transition == "funds_withdrawn:txn_dp_Test1_0"
    assert books.balances() == {}


def test_a_payment_without_invoice_is_a_sale_reversed_when_a_link_arrives() -> None:
    books = Books()
    books.deliver(event("payment_intent.succeeded", payment_intent("pi_1", amount=1200), created=T))
    assert books.balances() == {("stripe_balance", "usd"): 1200, ("revenue", "usd"): -1200}
    books.deliver(
        event(
            "invoice_payment.paid",
            invoice_payment("inpay_1", "in_1", "pi_1", amount_paid=1200),
            created=T + 1,
        )
    )
    assert transitions(books) == ["pi_1 one_off_payment", "pi_1 one_off_payment:reversal"]
    assert books.balances() == {}


def test_a_payment_linked_first_posts_nothing() -> None:
    books = Books()
    books.deliver(
        event(
            "invoice_payment.paid",
            invoice_payment("inpay_1", "in_1", "pi_1", amount_paid=1200),
            created=T,
        ),
        event("payment_intent.succeeded", payment_intent("pi_1", amount=1200), created=T),
    )
    assert books.entries == {}


def test_every_posted_entry_balances() -> None:
    books = Books()
    books.deliver(event("invoice.paid", taxed_invoice("paid", amount_paid=1200)))
    assert all(entry.imbalances() == {} for entry in books.entries.values())
