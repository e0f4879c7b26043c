"""Seeded billing histories harder than the other tests': what is left of the domain's gaps shows
when the pipeline is held against them (tests/integration/test_hard_histories.py).

`hard_history(Shape(seed))` gives the events of three scopes whose objects share ids (platform
test mode, platform live mode, a Connect account), in Stripe's order, with the truth they were
built from (each object's last snapshot, each subscription's snapshots, the coupons behind every
discount). Each customer's life, drawn from `random.Random` seeded by (seed, scope, customer):
- sign-up, its card set as default in the same second (a nested change) or later;
- subscriptions of one item, of several, or with a tiered price (graduated or volume, tiers
  expanded); trials that convert, that lapse into `paused` (resumed later or not) or that end
  canceled; first invoices abandoned at 3-D Secure (`incomplete_expired`, invoice voided);
- forever coupons, percent-off, amount-off (usd: no effect on eur customers) and 100%-off, on
  the customer (applied, some removed later) or on the subscription; a repeating one too;
- renewals paid by card, or by SEPA debit that takes three days and may fail (past due, a card
  retry, or written off and canceled);
- several quantity changes of one item within one second (told only inside `items.data`),
  pause_collection set and cleared, cancellation at period end;
- partial, full and failed refunds; disputes won and lost;
- the current API shape, or the earlier one, where some payments name no invoice (only their
  invoice names them).
Event ids are random, as Stripe's: they never happen to tell the order. `deliveries` shuffles
a history as Stripe delivers it: spread over three days, 40% of events twice, some much later.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from functools import partial
from typing import Any

from tests.support import stripe as se
from tests.support.hard_billing import (
    COUPONS,
    DAY,
    PERIOD,
    START,
    Billing,
    Document,
    History,
    coupon_object,
)
from tests.support.stripe import ApiShape

__all__ = ["SCOPES", "History", "Shape", "deliveries", "hard_history"]

SCOPES = (("", False), ("", True), ("acct_1HardConnect", False))


@dataclass(frozen=True)
class Shape:
    seed: int
    customers: int = 4  # per scope
    months: int = 3
    start: int = START  # when the history begins (epoch seconds)
    joining_days: int = 10  # customers sign up over this many days from `start`
    scopes: tuple[tuple[str, bool], ...] = SCOPES  # (account, livemode) of each scope made


def hard_history(shape: Shape) -> History:
    history = History()
    emitted: list[tuple[int, int, Document]] = []
    for account, livemode in shape.scopes:
        for coupon_id in COUPONS:
            coupon = se.event(
                "coupon.created",
                coupon_object(coupon_id, shape.start),
                event_id=f"evt_coupon_{coupon_id}_{account}_{livemode}",
                created=shape.start - DAY,
                livemode=livemode,
                account=account or None,
            )
            emitted.append((shape.start - DAY, len(emitted), coupon))
        end = shape.start + shape.months * PERIOD
        for index in range(shape.customers):
            rng = random.Random(f"{shape.seed}:{account}:{livemode}:{index}")
            life = _Life(rng, account, livemode, index, end, history, emitted, shape.start)
            life.live(shape.joining_days * DAY)
    history.events = [document for _, _, document in sorted(emitted, key=lambda e: e[:2])]
    return history


def deliveries(events: list[Document], seed: int) -> list[Document]:
    """`events` as Stripe delivers them: each within three days of its `created`; 40% twice
    (within the three days), and some of those again much later (a week to a month)."""
    rng = random.Random(f"delivery:{seed}")
    timed: list[tuple[float, Document]] = []
    for document in events:
        at = document["created"]
        timed.append((at + rng.uniform(0, 3 * DAY), document))
        if rng.random() < 0.4:
            late = rng.random() < 0.25
            delay = rng.uniform(7 * DAY, 30 * DAY) if late else rng.uniform(0, 3 * DAY)
            timed.append((at + delay, document))
    return [copy.deepcopy(document) for _, document in sorted(timed, key=lambda t: t[0])]


class _Life(Billing):
    """A customer's sign-up, coupons and subscriptions (Billing: their invoices, payments)."""

    def live(self, joining: int) -> None:
        rng = self.rng
        t = self.start + rng.randrange(0, joining)
        self.customer = se.customer(self.customer_id, created=t, name=f"Customer {self.index}")
        self.emit("customer.created", self.customer, t)
        self.emit("payment_method.attached", se.payment_method(self.card, self.customer_id), t)
        card_set_at = t if rng.random() < 0.6 else t + rng.randrange(60, DAY)

        def set_card() -> None:
            self.customer["invoice_settings"]["default_payment_method"] = self.card

        self.change("customer.updated", self.customer, card_set_at, set_card)
        if rng.random() < 0.35:  # after the card was set: a customer's snapshots go forward
            self.customer_coupon(card_set_at + rng.randrange(0, 20 * DAY))
        self.subscribe(t + rng.randrange(60, DAY))

    def customer_coupon(self, at: int) -> None:
        coupon_id = self.rng.choice(["SAVE20", "FIVE_OFF", "FREE", "SAVE20"])
        discount = self.discount(f"di_c_{self.index}", coupon_id, at, subscription=None)
        self.emit("customer.discount.created", discount, at)
        self.change("customer.updated", self.customer, at, lambda: self._set_discount(discount))
        removed = at + self.rng.randrange(20 * DAY, 60 * DAY) if self.rng.random() < 0.4 else None
        if removed is not None and removed >= self.end:
            removed = None
        applied = self.history.customer_discounts.setdefault(self.key(self.customer_id), [])
        applied.append((at, removed, coupon_id))
        if removed is not None:
            self.emit("customer.discount.deleted", discount, removed)
            self.change(
                "customer.updated", self.customer, removed, lambda: self._set_discount(None)
            )

    def _set_discount(self, discount: Document | None) -> None:
        self.customer["discount"] = copy.deepcopy(discount)

    def discount(self, discount_id: str, coupon_id: str, at: int, subscription: str | None) -> Any:
        terms = {"id": coupon_id, "currency": "usd", **COUPONS[coupon_id]}
        self.history.coupons[self.key(discount_id)] = terms
        discount = se.stripe_object(
            "discount",
            id=discount_id,
            customer=self.customer_id,
            subscription=subscription,
            start=at,
            end=None,
            source={"type": "coupon", "coupon": coupon_id},
        )
        if self.api is ApiShape.PRE_BASIL:  # the coupon embedded, as earlier versions send it
            discount.pop("source")
            discount["coupon"] = coupon_object(coupon_id, self.start)
        return discount

    def items(self, period: tuple[int, int]) -> list[Document]:
        rng, sub_id = self.rng, f"sub_{self.index}_{self.serial}"
        kind = rng.choice(["one", "several", "tiered"])
        interval = rng.choice(["month", "month", "year"])
        made = [
            se.subscription_item(
                f"si_{self.index}_{self.serial}_0",
                sub_id,
                price_id="price_base",
                unit_amount=rng.choice([900, 2000, 4900]),
                quantity=rng.randint(1, 3),
                currency=self.currency,
                interval=interval,
                period=period,
            )
        ]
        if kind == "several":
            made.append(
                se.subscription_item(
                    f"si_{self.index}_{self.serial}_1",
                    sub_id,
                    price_id="price_seats",
                    unit_amount=700,
                    quantity=rng.randint(1, 5),
                    currency=self.currency,
                    interval=interval,
                    period=period,
                )
            )
        if kind == "tiered":
            tiers = [{"up_to": 5, "unit_amount": 1000, "flat_amount": 500}, {"unit_amount": 800}]
            made.append(
                se.subscription_item(
                    f"si_{self.index}_{self.serial}_1",
                    sub_id,
                    price_id="price_tiered",
                    unit_amount=None,
                    quantity=rng.randint(1, 8),
                    currency=self.currency,
                    interval=interval,
                    tiers=tiers,
                    tiers_mode=rng.choice(["graduated", "volume"]),
                    period=period,
                )
            )
        return made

    def subscribe(self, t: int) -> None:
        rng = self.rng
        self.serial += 1
        sub_id = f"sub_{self.index}_{self.serial}"
        trial = rng.random() < 0.35
        period = (t, t + (14 * DAY if trial else PERIOD))
        own_discounts = []
        if rng.random() < 0.2:
            coupon_id = rng.choice(["SAVE20", "HALF3M", "FIVE_OFF"])
            own = self.discount(f"di_s_{self.index}", coupon_id, t, subscription=sub_id)
            own_discounts = [own["id"]]
        self.sub = se.subscription(
            sub_id,
            self.customer_id,
            status="trialing" if trial else "incomplete",
            items=self.items(period),
            currency=self.currency,
            period=period,
            created=t,
            trial_end=period[1] if trial else None,
            pause_collection=None,
            discounts=own_discounts,
            api=self.api,
        )
        self.emit("customer.subscription.created", self.sub, t)
        if own_discounts:
            self.emit("customer.discount.created", own, t)
        if trial:
            self.end_trial(period[1])
        elif self.rng.random() < 0.12:
            self.abandoned_at_3ds(t)
        else:
            self.renew(t)

    def end_trial(self, at: int) -> None:
        fate = self.rng.choices(["converts", "paused", "canceled"], weights=(70, 15, 15))[0]
        if fate == "canceled":
            self.set_status("canceled", at, "customer.subscription.deleted")
        elif fate == "paused":
            self.set_status("paused", at, "customer.subscription.paused")
            if self.rng.random() < 0.5:
                resumed = at + self.rng.randrange(5 * DAY, 30 * DAY)
                self.set_status("active", resumed, "customer.subscription.resumed")
                self.renew(resumed)
        else:
            self.renew(at)

    def abandoned_at_3ds(self, t: int) -> None:
        """The first invoice's payment waits for 3-D Secure that never comes: after 23 hours
        the subscription expires, the invoice is voided, its payment canceled."""
        invoice = self.bill(t)
        pi_id = invoice["payment_intent"] or f"pi_{invoice['id'].removeprefix('in_')}"
        intent = self.intent(pi_id, invoice, "requires_payment_method", t + 3600)
        self.emit("payment_intent.created", intent, t + 3600)
        intent["status"] = "requires_action"
        self.emit("payment_intent.requires_action", intent, t + 3601)
        expired = t + 23 * 3600
        self.set_status("incomplete_expired", expired)
        self.change("invoice.voided", invoice, expired, lambda: self._void(invoice, expired))
        intent.update(status="canceled", cancellation_reason="void_invoice", canceled_at=expired)
        self.emit("payment_intent.canceled", intent, expired)

    def _void(self, invoice: Document, at: int) -> None:
        invoice["status"] = "void"
        invoice["status_transitions"]["voided_at"] = at

    def renew(self, start: int) -> None:
        """Bill the period from `start`, then what happens during it; then the next one."""
        while start < self.end and self.sub["status"] not in ("canceled", "incomplete_expired"):
            length = self.period_length()
            if self.sub_period_start() != start:
                self.change(
                    "customer.subscription.updated",
                    self.sub,
                    start,
                    partial(self._period, start, length),
                )
            if not self.collect(self.bill(start), start):
                return
            if self.during(start):
                return
            start += length

    def sub_period_start(self) -> int:
        first = self.sub["items"]["data"][0]
        return int(first.get("current_period_start") or self.sub["current_period_start"])

    def _period(self, start: int, length: int) -> None:
        for item in self.sub["items"]["data"]:
            if "current_period_start" in item:
                item.update(current_period_start=start, current_period_end=start + length)
        if "current_period_start" in self.sub:
            self.sub.update(current_period_start=start, current_period_end=start + length)

    def during(self, start: int) -> bool:
        """What happens within a period, after its invoice was settled (at most 14 days in),
        in this order: seat changes, a pause of collection, a cancellation at its end (True:
        the subscription ended). A subscription's snapshots go forward in time, as Stripe's."""
        rng, end = self.rng, start + self.period_length()
        if rng.random() < 0.35:  # the seats of one item changed two or three times in a second
            at = start + rng.randrange(15 * DAY, 20 * DAY)
            item = rng.choice(self.sub["items"]["data"])
            for _ in range(rng.randint(2, 3)):
                quantity = rng.choice([q for q in range(1, 7) if q != item["quantity"]])

                def seats(item: Document = item, quantity: int = quantity) -> None:
                    item["quantity"] = quantity

                self.change("customer.subscription.updated", self.sub, at, seats)
        if rng.random() < 0.15:
            paused = start + rng.randrange(20 * DAY, 21 * DAY)
            pause = {"behavior": "void", "resumes_at": paused + 2 * DAY}
            for at, value in ((paused, pause), (paused + 2 * DAY, None)):
                self.change(
                    "customer.subscription.updated",
                    self.sub,
                    at,
                    partial(self.sub.update, pause_collection=value),
                )
        if rng.random() < 0.12:
            self.change(
                "customer.subscription.updated",
                self.sub,
                start + rng.randrange(24 * DAY, 28 * DAY),
                partial(self.sub.update, cancel_at_period_end=True),
            )
            self.set_status("canceled", end, "customer.subscription.deleted")
            return True
        return False

    def period_length(self) -> int:
        interval = self.sub["items"]["data"][0]["price"]["recurring"]["interval"]
        return 365 * DAY if interval == "year" else PERIOD
