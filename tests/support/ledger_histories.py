"""Generated billing histories for the journal's property tests: invoices through each path
Stripe allows, payments with and without invoices, refunds that succeed or fail, disputes.

Each history is a list of Stripe event documents in Stripe's own order; tests deliver them in
any order, with duplicates. `created` grows along each object's life, except where Stripe sends
two events for one change (`invoice.paid` and `invoice.payment_succeeded`).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.support.stripe import (
    ApiShape,
    dispute,
    event,
    invoice,
    invoice_payment,
    payment_intent,
    refund,
)

Document = dict[str, Any]


class Docs(list[Document]):
    """Stripe event documents that print as one short line each (for hypothesis' reports)."""

    def __repr__(self) -> str:
        return "\n".join(_summary(doc) for doc in self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _summary(doc: Document) -> str:
    obj = doc["data"]["object"]
    fields = ("status", "amount", "total", "amount_due", "amount_paid", "balance_transactions")
    shown = {k: obj[k] for k in fields if k in obj}
    return f"{doc['created']} {doc['type']} {obj['id']} {shown}"


T0 = 1_767_225_600
INVOICE_PATHS = (
    "open",
    "paid",
    "paid_out_of_band",
    "partly_then_paid",
    "uncollectible",
    "uncollectible_then_paid",
    "uncollectible_then_void",
    "void",
)


@st.composite
def invoice_history(draw: st.DrawFn, n: int, account: str | None) -> list[Document]:
    invoice_id, customer_id = f"in_{n}", f"cus_{n % 2}"
    total = draw(st.integers(0, 5_000))
    tax = draw(st.integers(0, total // 5))
    due = total - draw(st.integers(0, total // 4))  # customer credit applied
    path = draw(st.sampled_from(INVOICE_PATHS))
    at = T0 + n * 1000

    def doc(kind: str, t: int, status: str, paid: int = 0, **fields: Any) -> Document:
        moments = {"finalized_at": at + 1, "paid_at": at + 9 if status == "paid" else None}
        obj = invoice(
            invoice_id,
            customer_id,
            status=status,
            total=total,
            tax=tax,
            amount_due=due,
            amount_paid=paid,
            transitions=moments,
            **fields,
        )
        return event(kind, obj, created=t, account=account)

    docs = [doc("invoice.created", at, "draft"), doc("invoice.finalized", at + 1, "open")]
    if path == "partly_then_paid":
        docs.append(doc("invoice.updated", at + 3, "open", paid=due // 2))
    if path in ("paid", "partly_then_paid", "uncollectible_then_paid"):
        docs += [
            doc(kind, at + 9, "paid", paid=due)
            for kind in ("invoice.paid", "invoice.payment_succeeded")
        ]
    if path == "paid_out_of_band":
        docs.append(doc("invoice.paid", at + 9, "paid", paid=due, paid_out_of_band=True))
    if path.startswith("uncollectible"):
        docs.insert(2, doc("invoice.marked_uncollectible", at + 5, "uncollectible"))
    if path in ("void", "uncollectible_then_void"):
        docs.append(doc("invoice.voided", at + 9, "void"))
    return docs


@st.composite
def payment_history(draw: st.DrawFn, n: int, account: str | None) -> list[Document]:
    """A PaymentIntent, one-off or paying an invoice (linked later, or named by an old-shape
    invoice only), with refunds and a dispute."""
    intent_id, at = f"pi_{n}", T0 + n * 1000
    amount = draw(st.integers(1, 5_000))
    docs = [
        event(
            "payment_intent.created",
            payment_intent(intent_id, status="processing", amount=amount),
            created=at,
            account=account,
        ),
        event(
            "payment_intent.succeeded",
            payment_intent(intent_id, amount=amount),
            created=at + 1,
            account=account,
        ),
    ]
    pays = draw(st.sampled_from(["nothing", "an invoice", "an old-shape invoice"]))
    invoice_id = f"in_for_{intent_id}"
    if pays == "an invoice":  # of its own, paid: the link comes after success
        paid = invoice(invoice_id, status="paid", total=amount, tax=0, amount_paid=amount)
        docs += [
            event("invoice.paid", paid, created=at + 2, account=account),
            event(
                "invoice_payment.paid",
                invoice_payment(f"inpay_{n}", invoice_id, intent_id, amount_paid=amount),
                created=at + 2,
                account=account,
            ),
        ]
    if pays == "an old-shape invoice":  # it names the payment; the payment names no invoice
        old = ApiShape.PRE_BASIL
        paid = invoice(
            invoice_id,
            status="paid",
            total=amount,
            amount_paid=amount,
            intent_id=intent_id,
            api=old,
        )
        docs.append(event("invoice.paid", paid, created=at + 2, account=account, api=old))
    for r in range(draw(st.integers(0, 2))):
        refund_id, part = f"re_{n}_{r}", draw(st.integers(1, amount))
        fate = draw(st.sampled_from(["succeeded", "failed", "pending"]))
        docs.append(
            event(
                "refund.created",
                refund(refund_id, intent_id, amount=part, status="pending"),
                created=at + 3 + r * 2,
                account=account,
            )
        )
        if fate != "pending":
            docs.append(
                event(
                    "refund.updated",
                    refund(refund_id, intent_id, amount=part, status=fate),
                    created=at + 4 + r * 2,
                    account=account,
                )
            )
    outcome = draw(st.sampled_from(["none", "inquiry", "lost", "won"]))
    if outcome != "none":
        dispute_id = f"dp_{n}"
        withdrawn = [] if outcome == "inquiry" else [-amount]
        docs.append(
            event(
                "charge.dispute.created",
                dispute(dispute_id, intent_id, amount=amount, balance_transactions=withdrawn),
                created=at + 10,
                account=account,
            )
        )
        if outcome == "won":
            docs.append(
                event(
                    "charge.dispute.closed",
                    dispute(
                        dispute_id,
                        intent_id,
                        status="won",
                        amount=amount,
                        balance_transactions=[-amount, amount],
                    ),
                    created=at + 11,
                    account=account,
                )
            )
    return docs


@st.composite
def billing_history(draw: st.DrawFn, account: str | None = None) -> Docs:
    """Several invoices and payments of one account, in Stripe's order."""
    docs = Docs()
    for n in range(draw(st.integers(1, 3))):
        docs += draw(invoice_history(n, account))
    for n in range(draw(st.integers(0, 2))):
        docs += draw(payment_history(10 + n, account))
    return docs


@st.composite
def any_delivery(draw: st.DrawFn, docs: list[Document]) -> Docs:
    """`docs` in any order, some of them delivered more than once."""
    again = draw(st.lists(st.sampled_from(docs), max_size=len(docs))) if docs else []
    return Docs(draw(st.permutations(docs + again)))
