"""The journal's invariants over generated histories, without I/O: any order and duplication
of a history gives the same balances; every entry balances; receivables match open invoices;
reversals point at what they reverse; redelivery posts nothing."""

from __future__ import annotations

from itertools import permutations
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_ledger.ledger.posting import MONEY_EVENTS, post, sources_of
from tests.support.books import Books
from tests.support.ledger_histories import any_delivery, billing_history
from tests.support.stripe import (
    ApiShape,
    customer,
    event,
    invoice,
    payment_intent,
    payment_method,
    subscription,
)

Document = dict[str, Any]


@st.composite
def history_and_delivery(draw: st.DrawFn) -> tuple[list[Document], list[Document]]:
    docs = draw(billing_history())
    return docs, draw(any_delivery(docs))


@settings(max_examples=150, deadline=None)
@given(history_and_delivery())
def test_order_and_duplication_do_not_change_final_balances(
    case: tuple[list[Document], list[Document]],
) -> None:
    in_order, delivered = case
    expected, books = Books(), Books()
    expected.deliver(*in_order)
    books.deliver(*delivered)
    assert books.balances() == expected.balances()
    assert_invariants(books)


@settings(max_examples=50, deadline=None)
@given(billing_history())
def test_redelivering_everything_posts_nothing(docs: list[Document]) -> None:
    books = Books()
    books.deliver(*docs)
    assert books.deliver(*docs) == []


@settings(max_examples=50, deadline=None)
@given(billing_history(), st.randoms(use_true_random=False))
def test_replaying_domain_events_in_any_order_posts_nothing(docs: list[Document], rng: Any) -> None:
    books = Books()
    books.deliver(*docs)
    replay = list(books.projected)
    rng.shuffle(replay)
    assert [entry for domain_event in replay for entry in books.project(domain_event)] == []


@settings(max_examples=50, deadline=None)
@given(billing_history())
def test_only_money_events_post_or_read_entries(docs: list[Document]) -> None:
    # The journal reads MONEY_EVENTS only (the projector decodes no other for it): no other
    # domain event may have rules.
    books = Books()
    books.deliver(
        event("customer.created", customer()),
        event("customer.subscription.created", subscription()),
        event("payment_method.attached", payment_method()),
        *docs,
    )
    others = [e for e in books.projected if not isinstance(e, MONEY_EVENTS)]
    assert len(others) >= 3
    assert [(sources_of(e), post(e, {})) for e in others] == [([], [])] * len(others)


def assert_invariants(books: Books) -> None:
    for entry in books.entries.values():
        assert entry.lines, entry
        assert entry.imbalances() == {}, entry
        if entry.reversal_of is not None:
            reversed_ = books.entries[(entry.source_object, entry.reversal_of)]
            if entry.kind != "dispute_funds_reinstated":
                assert sorted(line.amount for line in entry.lines) == sorted(
                    -line.amount for line in reversed_.lines
                )
    reversed_keys = [(e.source_object, e.reversal_of) for e in books.entries.values()]
    reversed_keys = [key for key in reversed_keys if key[1] is not None]
    assert len(reversed_keys) == len(set(reversed_keys))  # nothing is reversed twice
    # The receivable of each invoice is its amount_remaining while open, else nothing.
    for source, _ in books.entries:
        if source.startswith("in_"):
            state = books.state(source)
            owed = state["amount_remaining"] if state["status"] == "open" else 0
            receivable = sum(
                line.amount
                for entry in books.history(source).values()
                for line in entry.lines
                if line.ledger_account == "accounts_receivable"
            )
            assert receivable == owed, (source, state["status"])


def test_a_payment_an_old_shape_invoice_names_is_no_sale_of_its_own_in_any_order() -> None:
    """Before API 2025-03-31 the invoice names its PaymentIntent; the intent may name none."""
    old = ApiShape.PRE_BASIL
    paid = invoice(status="paid", amount_paid=2000, intent_id="pi_Test1", api=old)
    history = [
        event("payment_intent.succeeded", payment_intent(api=old), created=100, api=old),
        event("invoice.finalized", invoice(intent_id="pi_Test1", api=old), created=90, api=old),
        event("invoice.paid", paid, created=100, api=old),
    ]
    for order in permutations(history):
        books = Books()
        books.deliver(*order)
        assert books.balances() == {("revenue", "usd"): -2000, ("stripe_balance", "usd"): 2000}
        assert_invariants(books)
