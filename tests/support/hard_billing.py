"""The money side of the hard histories (hard_histories.py): invoices, their payments by card or
SEPA debit (some failing), refunds and disputes; and what a life emits, with the truth kept."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support import stripe as se
from tests.support.stripe import ApiShape, previous_attributes

DAY = 86_400
PERIOD = 30 * DAY
START = 1_767_225_600  # 2026-01-01T00:00:00Z
Document = dict[str, Any]
Key = tuple[str, bool, str]  # (account, livemode, Stripe id)

COUPONS: dict[str, dict[str, Any]] = {
    "SAVE20": {"duration": "forever", "percent_off": 20, "amount_off": None},
    "FIVE_OFF": {"duration": "forever", "percent_off": None, "amount_off": 500},
    "FREE": {"duration": "forever", "percent_off": 100, "amount_off": None},
    "HALF3M": {"duration": "repeating", "percent_off": 50, "amount_off": None},
}


@dataclass
class History:
    """Events in Stripe's order, and the truth they were built from."""

    events: list[Document] = field(default_factory=list)
    last: dict[Key, Document] = field(default_factory=dict)  # each object's last event
    subscriptions: dict[Key, list[tuple[int, Document]]] = field(default_factory=dict)
    coupons: dict[Key, dict[str, Any]] = field(default_factory=dict)  # discount id → coupon
    # The customer's own discounts: (start, end or None, coupon id), in the order applied.
    customer_discounts: dict[Key, list[tuple[int, int | None, str]]] = field(default_factory=dict)
    invoice_of: dict[Key, str] = field(default_factory=dict)  # PaymentIntent → its invoice


def coupon_object(coupon_id: str, created: int = START) -> Document:
    terms = COUPONS[coupon_id]
    months = 3 if terms["duration"] == "repeating" else None
    return se.stripe_object(
        "coupon", id=coupon_id, currency="usd", duration_in_months=months, created=created, **terms
    )


class LifeBase:
    """One customer's life in one scope: what it emits, and the truth kept as it goes."""

    def __init__(
        self,
        rng: random.Random,
        account: str,
        livemode: bool,
        index: int,
        end: int,
        history: History,
        emitted: list[tuple[int, int, Document]],
        start: int = START,
    ) -> None:
        self.rng, self.end, self.start = rng, end, start
        self.account, self.livemode, self.index = account, livemode, index
        self.history, self.emitted = history, emitted
        self.api = ApiShape.PRE_BASIL if self.rng.random() < 0.3 else ApiShape.BASIL
        self.currency = "eur" if self.rng.random() < 0.3 else "usd"
        self.customer_id = f"cus_{index}"
        self.card = f"pm_{index}"
        self.customer: Document = {}
        self.sub: Document = {}
        self.serial = 0

    def key(self, stripe_id: str) -> Key:
        return (self.account, self.livemode, stripe_id)

    def emit(self, event_type: str, obj: Document, at: int, before: Document | None = None) -> bool:
        """Emit `obj` as an event of `event_type` at `at` (unless the history has ended by
        then: False), with the previous_attributes of its change from `before`."""
        if at >= self.end:
            return False
        previous = previous_attributes(before, obj) if before is not None else None
        document = se.event(
            event_type,
            copy.deepcopy(obj),
            event_id=f"evt_{self.rng.getrandbits(64):016x}",
            created=at,
            livemode=self.livemode,
            account=self.account or None,
            previous_attributes=previous,
            api=self.api,
        )
        self.emitted.append((at, len(self.emitted), document))
        self.history.last[self.key(obj["id"])] = document
        if obj.get("object") == "subscription":
            snapshots = self.history.subscriptions.setdefault(self.key(obj["id"]), [])
            snapshots.append((at, copy.deepcopy(obj)))
        return True

    def change(self, event_type: str, obj: Document, at: int, mutate: Callable[[], None]) -> bool:
        before = copy.deepcopy(obj)
        mutate()
        return self.emit(event_type, obj, at, before)

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.index}_{self.serial}"

    def set_status(
        self, status: str, at: int, event_type: str = "customer.subscription.updated"
    ) -> None:
        def mutate() -> None:
            self.sub["status"] = status
            if status == "canceled":
                self.sub["canceled_at"] = at
                self.sub["ended_at"] = at

        self.change(event_type, self.sub, at, mutate)

    def activate(self, at: int) -> None:
        if self.sub["status"] != "active":
            self.set_status("active", at)


class Billing(LifeBase):
    """Invoices and how they are paid."""

    def amount(self, at: int) -> int:
        total = 0
        for item in self.sub["items"]["data"]:
            price, quantity = item["price"], item["quantity"]
            if price["billing_scheme"] != "tiered":
                total += price["unit_amount"] * quantity
            elif price["tiers_mode"] == "volume":
                tier = price["tiers"][0] if quantity <= 5 else price["tiers"][1]
                total += tier["unit_amount"] * quantity + (tier["flat_amount"] or 0)
            else:
                low, high = price["tiers"]
                total += low["unit_amount"] * min(quantity, 5) + low["flat_amount"]
                total += high["unit_amount"] * max(quantity - 5, 0)
        coupon = self.coupon_at(at)
        if coupon is not None and coupon["percent_off"] is not None:
            total -= total * coupon["percent_off"] // 100
        elif coupon is not None and self.currency == "usd":
            total = max(total - coupon["amount_off"], 0)
        return total

    def coupon_at(self, at: int) -> dict[str, Any] | None:
        """The coupon the subscription's invoice at `at` applies: its own, else its customer's."""
        own = self.sub["discounts"]
        if own:
            return self.history.coupons[self.key(own[0])]
        applied = self.history.customer_discounts.get(self.key(self.customer_id), [])
        for start, end, coupon_id in applied:
            if start <= at and (end is None or at < end):
                return {"id": coupon_id, **COUPONS[coupon_id]}
        return None

    def bill(self, at: int) -> Document:
        """A draft invoice for the period from `at`, finalized an hour later."""
        invoice_id = self.next_id("in")
        total = self.amount(at)
        tax = total // 5 if self.currency == "eur" else 0
        pre_basil = self.api is ApiShape.PRE_BASIL
        invoice = se.invoice(
            invoice_id,
            self.customer_id,
            subscription_id=self.sub["id"],
            status="draft",
            total=total + tax,
            tax=tax,
            currency=self.currency,
            api=self.api,
            created=at,
        )
        self.emit("invoice.created", invoice, at)

        def finalize() -> None:
            invoice.update(status="open", number=f"N-{invoice_id}")
            invoice["status_transitions"]["finalized_at"] = at + 3600
            if pre_basil:
                invoice["payment_intent"] = f"pi_{invoice_id.removeprefix('in_')}"

        if self.change("invoice.finalized", invoice, at + 3600, finalize) and pre_basil:
            self.history.invoice_of[self.key(invoice["payment_intent"])] = invoice_id
        if not pre_basil:
            invoice["payment_intent"] = None
        return invoice

    def collect(self, invoice: Document, start: int) -> bool:
        """The invoice's payment: by card, or by SEPA debit; False if it was written off."""
        at = start + 3601
        if invoice["amount_due"] == 0:
            self.paid(invoice, None, at)
            self.activate(at + 1)
            return True
        pi_id = invoice.get("payment_intent") or f"pi_{invoice['id'].removeprefix('in_')}"
        names_invoice = self.api is ApiShape.BASIL or self.rng.random() < 0.6
        intent = self.intent(pi_id, invoice, "requires_payment_method", start + 3600, names_invoice)
        self.emit("payment_intent.created", intent, start + 3600)
        sepa = self.rng.random() < 0.25
        if sepa:
            intent.update(status="processing", payment_method_types=["sepa_debit"])
            self.emit("payment_intent.processing", intent, at)
            charge = self.charge(
                f"ch_{pi_id}_0", intent, "pending", "sepa_debit", names_invoice, at
            )
            self.emit("charge.pending", charge, at)
            at += 3 * DAY
            if self.rng.random() < 0.3:  # the debit failed: past due, then a card or nothing
                charge.update(status="failed", paid=False, failure_code="insufficient_funds")
                self.emit("charge.failed", charge, at)
                error = {"code": "insufficient_funds", "message": "Insufficient funds."}
                intent.update(status="requires_payment_method", last_payment_error=error)
                self.emit("payment_intent.payment_failed", intent, at)
                self.change(
                    "invoice.payment_failed", invoice, at, lambda: invoice.update(attempted=True)
                )
                if self.sub["status"] == "active":
                    self.set_status("past_due", at + 1)
                at += 2 * DAY
                if self.rng.random() < 0.4:
                    self.write_off(invoice, at + 8 * DAY)
                    return False
            else:
                charge.update(status="succeeded", paid=True)
                self.succeed(intent, charge, invoice, at)
                self.after_payment(intent, charge, at)
                self.activate(at + 2)
                return True
        charge = self.charge(f"ch_{pi_id}_1", intent, "succeeded", "card", names_invoice, at)
        self.succeed(intent, charge, invoice, at)
        self.after_payment(intent, charge, at)
        self.activate(at + 2)
        return True

    def intent(
        self, pi_id: str, invoice: Document, status: str, at: int, names: bool = True
    ) -> Any:
        return se.payment_intent(
            pi_id,
            self.customer_id,
            status=status,
            amount=invoice["amount_due"],
            currency=self.currency,
            invoice_id=invoice["id"] if self.api is ApiShape.PRE_BASIL and names else None,
            api=self.api,
            payment_method=self.card,
            created=at,
        )

    def charge(
        self, charge_id: str, intent: Document, status: str, method: str, names: bool, at: int
    ) -> Any:
        """A charge made at `at` (a backfill, listing a payment's charges at one moment,
        tells its latest by when each was made)."""
        return se.charge(
            charge_id,
            intent["id"],
            status=status,
            amount=intent["amount"],
            currency=self.currency,
            method_type=method,
            invoice_id=intent.get("invoice") if names else None,
            api=self.api,
            customer=self.customer_id,
            payment_method=self.card,
            created=at,
        )

    def succeed(self, intent: Document, charge: Document, invoice: Document, at: int) -> None:
        intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
        intent["latest_charge"] = charge["id"]
        self.emit("payment_intent.succeeded", intent, at)
        self.emit("charge.succeeded", charge, at)
        self.paid(invoice, intent["id"], at + 1)

    def paid(self, invoice: Document, pi_id: str | None, at: int) -> None:
        def pay() -> None:
            invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
            invoice["status_transitions"]["paid_at"] = at

        self.change("invoice.paid", invoice, at, pay)
        self.emit("invoice.payment_succeeded", invoice, at)
        if pi_id is not None and self.api is ApiShape.BASIL:
            link = se.invoice_payment(
                f"inpay_{invoice['id'].removeprefix('in_')}",
                invoice["id"],
                pi_id,
                amount_paid=invoice["amount_paid"],
                currency=self.currency,
                livemode=self.livemode,
                created=at,
            )
            if self.emit("invoice_payment.paid", link, at):
                self.history.invoice_of[self.key(pi_id)] = invoice["id"]

    def write_off(self, invoice: Document, at: int) -> None:
        def uncollectible() -> None:
            invoice["status"] = "uncollectible"
            invoice["status_transitions"]["marked_uncollectible_at"] = at

        self.change("invoice.marked_uncollectible", invoice, at, uncollectible)
        self.set_status("canceled", at + 1, "customer.subscription.deleted")

    def after_payment(self, intent: Document, charge: Document, at: int) -> None:
        """Sometimes a refund (partial, full, or one that fails), sometimes a dispute."""
        rng, amount = self.rng, intent["amount"]
        if rng.random() < 0.2:
            asked = at + rng.randrange(DAY, 10 * DAY)
            part = rng.choice([amount, max(amount // 2, 1)])
            refund_id = f"re_{charge['id'].removeprefix('ch_')}"
            refund = se.refund(
                refund_id,
                intent["id"],
                amount=part,
                status="pending",
                currency=self.currency,
                charge=charge["id"],
                created=asked,
            )
            self.emit("refund.created", refund, asked)
            fate = rng.choice(["succeeded", "succeeded", "failed"])
            reason = "lost_or_stolen_card" if fate == "failed" else None
            refund.update(status=fate, failure_reason=reason)
            self.emit("refund.updated", refund, asked + DAY)
            if fate == "succeeded":
                charge.update(amount_refunded=part, refunded=part == amount)
                self.emit("charge.refunded", charge, asked + DAY)
        elif rng.random() < 0.15:
            opened = at + rng.randrange(5 * DAY, 20 * DAY)
            dispute_id = f"dp_{charge['id'].removeprefix('ch_')}"

            def dispute(status: str, moved: list[int]) -> Any:
                return se.dispute(
                    dispute_id,
                    intent["id"],
                    status=status,
                    amount=amount,
                    currency=self.currency,
                    balance_transactions=moved,
                    charge=charge["id"],
                    created=opened,
                )

            withdrawn = dispute("needs_response", [-amount])
            self.emit("charge.dispute.created", withdrawn, opened)
            self.emit("charge.dispute.funds_withdrawn", withdrawn, opened)
            closed = opened + 20 * DAY
            if rng.random() < 0.5:
                won = dispute("won", [-amount, amount])
                self.emit("charge.dispute.closed", won, closed)
                self.emit("charge.dispute.funds_reinstated", won, closed)
            else:
                self.emit("charge.dispute.closed", dispute("lost", [-amount]), closed)
