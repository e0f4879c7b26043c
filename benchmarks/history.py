"""Seeded, realistic Stripe event histories for benchmarks and the chaos run.

Each customer lives its own billing life, drawn from a random generator seeded by
`(seed, customer index)`: sign-up, a payment method, sometimes a tax id, a subscription that may
start on a trial (which converts or is canceled), monthly or yearly invoices paid by card, failed
payments retried up to three times (past_due, then recovered or canceled with the invoice marked
uncollectible), upgrades and downgrades, cancellations at period end, reactivations, refunds and
disputes, in four currencies (JPY is zero-decimal). Events created before 2025-03-31 use the
earlier API shapes (period on the subscription, `invoice.subscription`/`tax`/`payment_intent`,
`payment_intent.invoice`); later ones the current shapes (periods on items, `invoice.parent`,
`total_taxes`, `invoice_payment.paid` links). Bodies are built on Stripe's sample objects
(tests/support/stripe.py), about 3 KB each.

`history()` streams events in `created` order (ties broken by customer, then by the order of
one life), holding only a few pending events per customer: a million events never sit in memory.
The same shape and seed always give the same events, byte for byte.
"""

from __future__ import annotations

import heapq
import json
import random
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from tests.support import stripe as se
from tests.support.stripe import ApiShape

DAY = 86_400
MONTH = 2_629_746  # an average Gregorian month, in seconds
YEAR = 31_556_952
START = 1_704_067_200  # 2024-01-01T00:00:00Z
CUTOVER = (
    1_743_379_200  # 2025-03-31: Stripe API version "basil" changed invoice/subscription shapes
)
# The moments every invoice of the measured histories carries: the sample objects' day, not
# the invoice's own (kept so that the histories stay those the figures were measured on).
SAMPLE_DAY = 1_767_225_600

CURRENCIES = (("usd", 55), ("eur", 25), ("gbp", 12), ("jpy", 8))
# Monthly unit amounts in minor units per currency (JPY has none); yearly plans cost 10 months.
PLANS = {
    "starter": {"usd": 900, "eur": 900, "gbp": 800, "jpy": 1200},
    "pro": {"usd": 2900, "eur": 2700, "gbp": 2400, "jpy": 4000},
    "business": {"usd": 9900, "eur": 8900, "gbp": 7900, "jpy": 13000},
}
TIERS = tuple(PLANS)
TAX_RATE = {"usd": 0, "eur": 20, "gbp": 20, "jpy": 10}  # percent, exclusive

Document = dict[str, Any]
Pending = tuple[int, int, int, Callable[[], Document]]  # (created, customer, seq, build)


@dataclass(frozen=True)
class Shape:
    """What history to generate: how many customers sign up over how many months."""

    seed: int = 7
    customers: int = 20_000
    months: int = 24
    start: int = START

    @property
    def end(self) -> int:
        return self.start + self.months * MONTH


def history(shape: Shape, limit: int | None = None) -> Iterator[Document]:
    """Stripe event documents in `created` order; at most `limit` of them."""
    lives = (_Life(shape, index).events() for index in range(shape.customers))
    for count, (_, _, _, build) in enumerate(heapq.merge(*lives)):
        if limit is not None and count >= limit:
            return
        yield build()


def bodies(shape: Shape, limit: int | None = None) -> Iterator[bytes]:
    """The same history as raw webhook bodies (what Stripe would POST)."""
    for document in history(shape, limit):
        yield json.dumps(document, separators=(",", ":")).encode()


def _shape(created: int) -> ApiShape:
    return ApiShape.BASIL if created >= CUTOVER else ApiShape.PRE_BASIL


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


class _Life:
    """One customer's billing life. Events are produced period by period; those that fall
    later (refunds, disputes) wait in a small heap until the clock reaches them."""

    def __init__(self, shape: Shape, index: int) -> None:
        self.shape = shape
        self.index = index
        self.rng = random.Random(f"{shape.seed}:{index}")
        self.customer = f"cus_H{index:08d}"
        self.currency = _weighted(self.rng, CURRENCIES)
        self.pending: list[Pending] = []
        self.seq = 0
        self.serial = 0
        self.subscription = ""
        self.tier = "starter"
        self.quantity = 1
        self.interval = "month"
        self.status = "incomplete"
        self.period_start = 0
        self.subscribed_at = 0
        self.signed_up = 0

    # -- the life -----------------------------------------------------------------------------

    def events(self) -> Iterator[Pending]:
        rng, shape = self.rng, self.shape
        t = shape.start + int(rng.random() * (shape.end - shape.start))
        self.signed_up = t
        self._emit(t, "customer.created", partial(self._customer))
        self._emit(t + 20, "payment_method.attached", partial(self._payment_method))
        if rng.random() < 0.12:
            self._emit(t + 40, "customer.tax_id.created", partial(self._tax_id))
        subscribed = True
        while subscribed and t < shape.end:
            t = yield from self._subscribe(t + 60)
            yield from self._flush(t)
            subscribed = rng.random() < 0.15  # churned customers sometimes come back
            t += int(rng.uniform(1, 4) * MONTH)
        yield from self._flush(None)

    def _subscribe(self, t: int) -> Generator[Pending, None, int]:
        """One subscription from creation to cancellation (or the end of history)."""
        rng = self.rng
        self.serial += 1
        self.subscription = f"sub_H{self.index:08d}{self.serial:02d}"
        self.subscribed_at = t
        self.tier = rng.choices(TIERS, weights=(50, 35, 15))[0]
        self.quantity = rng.choices((1, 2, 3, 5), weights=(70, 15, 10, 5))[0]
        self.interval = "year" if rng.random() < 0.2 else "month"
        if rng.random() < 0.35:
            self.status = "trialing"
            self.period_start = t
            trial_end = t + 14 * DAY
            self._sub_event(t, "customer.subscription.created", trial_end=trial_end)
            self._sub_event(trial_end - 3 * DAY, "customer.subscription.trial_will_end")
            yield from self._flush(trial_end)
            if rng.random() > 0.65:
                return self._cancel(trial_end, {"status": "trialing"})
            t = trial_end
        else:
            self.status = "incomplete"
            self.period_start = t
            self._sub_event(t, "customer.subscription.created")
        while t < self.shape.end:
            self.period_start = t
            if not self._bill(t):
                return self._cancel(t + 12 * DAY, {"status": "past_due"})
            yield from self._flush(t)
            t = self._period_end()
            changed_at = self.period_start + int(rng.uniform(2, 25) * DAY)
            roll = rng.random()
            if roll < 0.04:
                self._change_plan(changed_at, up=True)
            elif roll < 0.07:
                self._change_plan(changed_at, up=False)
            elif roll < 0.10:
                self._emit(changed_at, "customer.updated", partial(self._customer, changed=True))
            elif roll < 0.16:
                self._sub_event(
                    changed_at, "customer.subscription.updated", {"cancel_at_period_end": False}
                )
                return self._cancel(t, {"status": self.status})
        return t

    def _bill(self, t: int) -> bool:
        """One invoice and its payment attempts; False if the invoice could not be collected."""
        rng = self.rng
        self.serial += 1
        n = f"{self.index:08d}{self.serial:02d}"
        invoice, intent = f"in_H{n}", f"pi_H{n}"
        total = self._amount() * (10 if self.interval == "year" else 1)
        tax = total * TAX_RATE[self.currency] // 100
        total += tax
        money = {"invoice": invoice, "intent": intent, "total": total, "tax": tax, "at": t}
        self._invoice_event(t, "invoice.created", money, "draft")
        self._invoice_event(t + 3600, "invoice.finalized", money, "open")
        self._intent_event(t + 3600, "payment_intent.created", money, "requires_payment_method")
        for attempt in range(4):
            at = t + 3601 + attempt * 3 * DAY
            charge = f"ch_H{n}{attempt}"
            fails = rng.random() < (0.08 if attempt == 0 else 0.4)
            if fails:
                self._intent_event(at, "payment_intent.payment_failed", money, "failed", charge)
                self._charge_event(at, "charge.failed", money, charge, "failed")
                self._invoice_event(at + 1, "invoice.payment_failed", money, "open")
                if self.status != "past_due":
                    self._sub_status(at + 1, "past_due")
                continue
            self._intent_event(at, "payment_intent.succeeded", money, "succeeded", charge)
            self._charge_event(at, "charge.succeeded", money, charge, "succeeded")
            self._invoice_event(at + 1, "invoice.paid", money, "paid")
            self._invoice_event(at + 1, "invoice.payment_succeeded", money, "paid")
            if at >= CUTOVER:
                self._emit(at + 1, "invoice_payment.paid", partial(self._link, money))
            if self.status != "active":
                self._sub_status(at + 2, "active")
            self._after_payment(at, money, charge)
            return True
        self._invoice_event(t + 12 * DAY, "invoice.marked_uncollectible", money, "uncollectible")
        return False

    def _after_payment(self, at: int, money: dict[str, Any], charge: str) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            refunded = money["total"] if rng.random() < 0.6 else money["total"] // 2
            when = at + int(rng.uniform(1, 10) * DAY)
            refund = f"re_{charge.removeprefix('ch_')}"
            self._charge_event(when, "charge.refunded", money, charge, "succeeded", refunded, at)
            self._emit(when, "refund.created", partial(self._refund, money, refund, refunded))
        elif roll < 0.037:
            dispute = f"dp_{charge.removeprefix('ch_')}"
            opened = at + int(rng.uniform(5, 40) * DAY)
            outcome = "won" if rng.random() < 0.4 else "lost"
            for offset, event_type, status in (
                (0, "charge.dispute.created", "needs_response"),
                (1, "charge.dispute.funds_withdrawn", "needs_response"),
                (20 * DAY, "charge.dispute.updated", "under_review"),
                (45 * DAY, "charge.dispute.closed", outcome),
            ):
                build = partial(self._dispute, money, dispute, charge, status, opened)
                self._emit(opened + offset, event_type, build)
            if outcome == "won":
                build = partial(self._dispute, money, dispute, charge, "won", opened)
                self._emit(opened + 45 * DAY + 1, "charge.dispute.funds_reinstated", build)

    def _change_plan(self, at: int, *, up: bool) -> None:
        previous = {"quantity": self.quantity, "plan": self._price_id()}
        position = TIERS.index(self.tier)
        if up and position < len(TIERS) - 1 and self.rng.random() < 0.6:
            self.tier = TIERS[position + 1]
        elif up:
            self.quantity += 1
        elif self.quantity > 1:
            self.quantity -= 1
        elif position > 0:
            self.tier = TIERS[position - 1]
        self._sub_event(at, "customer.subscription.updated", {"items": previous})

    def _cancel(self, at: int, previous: dict[str, Any]) -> int:
        self.status = "canceled"
        self._sub_event(at, "customer.subscription.deleted", previous, canceled_at=at)
        return at

    def _sub_status(self, at: int, status: str) -> None:
        previous = {"status": self.status}
        self.status = status
        self._sub_event(at, "customer.subscription.updated", previous)

    def _period_end(self) -> int:
        return self.period_start + (YEAR if self.interval == "year" else MONTH)

    def _amount(self) -> int:
        return PLANS[self.tier][self.currency] * self.quantity

    def _price_id(self) -> str:
        return f"price_{self.tier}_{self.interval}_{self.currency}"

    # -- queueing -----------------------------------------------------------------------------

    def _emit(
        self,
        created: int,
        event_type: str,
        build: Callable[[int], Document],
        previous: dict[str, Any] | None = None,
    ) -> None:
        if created >= self.shape.end:
            return
        self.seq += 1
        envelope = partial(self._envelope, self.seq, event_type, created, build, previous)
        entry: Pending = (created, self.index, self.seq, envelope)
        heapq.heappush(self.pending, entry)

    def _flush(self, until: int | None) -> Iterator[Pending]:
        while self.pending and (until is None or self.pending[0][0] < until):
            yield heapq.heappop(self.pending)

    def _envelope(
        self,
        seq: int,
        event_type: str,
        created: int,
        build: Callable[[int], Document],
        previous: dict[str, Any] | None,
    ) -> Document:
        return se.event(
            event_type,
            build(created),
            event_id=f"evt_H{self.shape.seed:02d}{self.index:08d}{seq:05d}",
            created=created,
            livemode=True,
            previous_attributes=previous,
            api=_shape(created),
        )

    # -- Stripe objects -----------------------------------------------------------------------

    def _customer(self, created: int, *, changed: bool = False) -> Document:
        user = uuid.UUID(int=random.Random(f"{self.shape.seed}:{self.index}:u").getrandbits(128))
        return se.customer(
            self.customer,
            email=f"billing+{self.index}{'-new' if changed else ''}@example.com",
            name=f"Company {self.index}",
            created=self.signed_up,
            metadata={"user_id": str(user)},
            invoice_settings={"default_payment_method": f"pm_H{self.index:08d}"},
        )

    def _payment_method(self, created: int) -> Document:
        return se.payment_method(f"pm_H{self.index:08d}", self.customer, created=created)

    def _tax_id(self, created: int) -> Document:
        return se.tax_id(f"txi_H{self.index:08d}", self.customer, f"DE{self.index:09d}")

    def _sub_event(
        self,
        at: int,
        event_type: str,
        previous: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        state = {
            "status": self.status,
            "price_id": self._price_id(),
            "unit_amount": PLANS[self.tier][self.currency],
            "quantity": self.quantity,
            "interval": self.interval,
            "period": (self.period_start, self._period_end()),
            "created": self.subscribed_at,
            **fields,
        }
        build = partial(self._subscription, self.subscription, state)
        self._emit(at, event_type, build, previous)

    def _subscription(self, subscription: str, state: dict[str, Any], created: int) -> Document:
        start, end = state["period"]
        obj = se.subscription(
            subscription,
            self.customer,
            status=state["status"],
            price_id=state["price_id"],
            unit_amount=state["unit_amount"],
            quantity=state["quantity"],
            currency=self.currency,
            created=state["created"],
            trial_end=state.get("trial_end"),
            canceled_at=state.get("canceled_at"),
            cancel_at_period_end=state.get("cancel_at_period_end", False),
            metadata={"business_id": str(uuid.UUID(int=self.index + 1))},
            period=(start, end),
            api=_shape(created),
        )
        obj["items"]["data"][0]["price"]["recurring"]["interval"] = state["interval"]
        return obj

    def _invoice_event(self, at: int, event_type: str, money: dict[str, Any], status: str) -> None:
        self._emit(at, event_type, partial(self._invoice, dict(money), status))

    def _invoice(self, money: dict[str, Any], status: str, created: int) -> Document:
        paid = money["total"] if status == "paid" else 0
        api = _shape(created)
        return se.invoice(
            money["invoice"],
            self.customer,
            subscription_id=self.subscription,
            status=status,
            total=money["total"],
            tax=money["tax"],
            amount_paid=paid,
            currency=self.currency,
            transitions={
                "finalized_at": None if status == "draft" else SAMPLE_DAY,
                "paid_at": SAMPLE_DAY + 100 if status == "paid" else None,
            },
            intent_id=money["intent"] if api is ApiShape.PRE_BASIL and status != "draft" else None,
            api=api,
            created=money["at"],
        )

    def _intent_event(
        self,
        at: int,
        event_type: str,
        money: dict[str, Any],
        status: str,
        charge: str | None = None,
    ) -> None:
        self._emit(at, event_type, partial(self._intent, dict(money), status, charge))

    def _intent(
        self, money: dict[str, Any], status: str, charge: str | None, created: int
    ) -> Document:
        error = None
        if status == "failed":
            status = "requires_payment_method"
            error = {"code": "card_declined", "decline_code": "insufficient_funds"}
            error["message"] = "Your card has insufficient funds."
        api = _shape(created)
        return se.payment_intent(
            money["intent"],
            self.customer,
            status=status,
            amount=money["total"],
            currency=self.currency,
            error=error,
            invoice_id=money["invoice"] if api is ApiShape.PRE_BASIL else None,
            api=api,
            payment_method=f"pm_H{self.index:08d}",
            latest_charge=charge,
            created=money["at"] + 3600,
        )

    def _charge_event(
        self,
        at: int,
        event_type: str,
        money: dict[str, Any],
        charge: str,
        status: str,
        refunded: int = 0,
        charged_at: int | None = None,
    ) -> None:
        build = partial(self._charge, dict(money), charge, status, refunded, charged_at or at)
        self._emit(at, event_type, build)

    def _charge(
        self,
        money: dict[str, Any],
        charge: str,
        status: str,
        refunded: int,
        charged_at: int,
        created: int,
    ) -> Document:
        return se.charge(
            charge,
            money["intent"],
            status=status,
            amount=money["total"],
            amount_refunded=refunded,
            currency=self.currency,
            customer=self.customer,
            created=charged_at,
            payment_method=f"pm_H{self.index:08d}",
            invoice_id=money["invoice"] if created < CUTOVER else None,
            api=_shape(created),
        )

    def _link(self, money: dict[str, Any], created: int) -> Document:
        return se.invoice_payment(
            f"inpay_{money['invoice'].removeprefix('in_')}",
            money["invoice"],
            money["intent"],
            amount_paid=money["total"],
            currency=self.currency,
            created=created,
        )

    def _refund(self, money: dict[str, Any], refund: str, amount: int, created: int) -> Document:
        return se.refund(
            refund,
            money["intent"],
            amount=amount,
            currency=self.currency,
            charge=f"ch_{refund.removeprefix('re_')}",
            created=created,
        )

    def _dispute(
        self,
        money: dict[str, Any],
        dispute: str,
        charge: str,
        status: str,
        opened: int,
        created: int,
    ) -> Document:
        return se.dispute(
            dispute,
            money["intent"],
            status=status,
            charge=charge,
            amount=money["total"],
            currency=self.currency,
            created=opened,
        )
