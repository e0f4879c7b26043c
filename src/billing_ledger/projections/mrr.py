"""The MRR projection: keeps every subscription snapshot (with the coupons behind its
discounts) and, at the end of each batch, recomputes the movements of the customers whose
history changed and the monthly totals of their account. See mrr_rules.py for the rules.

Everything is derived from the set of snapshots, never from the order they arrived in, so any
delivery order (and any replay) gives the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from billing_ledger.domain.customer import Customer
from billing_ledger.domain.discount import DELETED, Coupon, Discount
from billing_ledger.domain.ordering import Version
from billing_ledger.domain.state import CouponTerms, CustomerPart
from billing_ledger.domain.stripe_object import StripeObject, as_kind, part_of
from billing_ledger.domain.subscription import Subscription
from billing_ledger.projections.bulk import BulkWriter
from billing_ledger.projections.mrr_clock import MrrClock, definition_of
from billing_ledger.projections.mrr_definitions import STRIPE
from billing_ledger.projections.mrr_rules import (
    CustomerDiscountFact,
    Point,
    customer_discounts,
    customer_month_ends,
    discount_in_force,
    month_start,
    months,
    movements,
)
from billing_ledger.projections.sqltext import in_schema

Cursor = psycopg.Cursor[Any]
Scope = tuple[str, bool]  # (account_id, livemode)
SUBSCRIPTION_EVENTS = (Subscription.Recorded, Subscription.Revised, Subscription.Backfilled)
STATEFUL = (StripeObject.Recorded, StripeObject.Revised)
SubscriptionEvent = Subscription.Recorded | Subscription.Revised | Subscription.Backfilled
CUSTOMER_EVENTS = (Customer.Recorded, Customer.Revised, Customer.Backfilled)
CustomerEvent = Customer.Recorded | Customer.Revised | Customer.Backfilled
DISCOUNT_EVENTS = (Discount.Recorded, Discount.Revised, Discount.Backfilled)
DiscountEvent = Discount.Recorded | Discount.Revised | Discount.Backfilled
FACT_COLUMNS = (
    "account_id",
    "livemode",
    "customer_id",
    "stripe_event_id",
    "created",
    "from_customer",
    "discount_id",
    "coupon_id",
    "coupon",
    "start",
    "ended",
)
INSERT_FACT = (
    "INSERT INTO {schema}.mrr_customer_discounts (account_id, livemode, customer_id, "
    "stripe_event_id, created, from_customer, discount_id, coupon_id, coupon, start, ended) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1"
)
POINT_COLUMNS = (
    "subscription_id",
    "stripe_event_id",
    "account_id",
    "livemode",
    "customer_id",
    "created",
    "status",
    "attributes",
    "previous_attributes",
    "previous_state_digest",
    "state",
    "discount_ids",
)
MOVEMENT_COLUMNS = (
    "account_id",
    "livemode",
    "month",
    "currency",
    "customer_id",
    "kind",
    "amount_cents",
)
CustomerKey = tuple[str, bool, str | None]  # (account_id, livemode, Stripe customer id)


def _customer_order(key: CustomerKey) -> tuple[str, bool, bool, str]:
    account_id, livemode, customer = key
    return account_id, livemode, customer is None, customer or ""


class MrrProjection:
    name = "mrr"
    reads = (StripeObject.Recorded, StripeObject.Revised, StripeObject.Backfilled)

    def __init__(self, schema: str, *, deferred: bool = False) -> None:
        """`deferred` (a rebuild): batches store points, coupons and horizons only, and
        `recompute_all` derives every customer's movements and the monthly totals once at the
        end, instead of once per batch each customer appears in."""
        self._schema_name = schema
        self.deferred = deferred
        self._dirty_customers: set[CustomerKey] = set()
        self._dirty_scopes: set[Scope] = set()
        # The batch's extent of each scope's months (first subscription month, last month),
        # written once per scope at flush instead of once per event.
        self._horizons: dict[Scope, tuple[date | None, date]] = {}
        self._clock = MrrClock(schema)
        self._bulk = BulkWriter(schema)
        self._points: list[tuple[Any, ...]] = []  # the batch's, in POINT_COLUMNS' order
        # A deferred projection's customer discount facts (FACT_COLUMNS), written at flush.
        self._facts: list[tuple[Any, ...]] = []
        self._definition = STRIPE  # read from the schema at each flush (a swap may change it)

    def _sql(self, text: str) -> str:
        return in_schema(text, self._schema_name)

    def prepare(self, cur: Cursor, events: Sequence[object]) -> None:
        """Nothing to read ahead: each event carries what its rows need. (Forgets the points
        a failed batch left unwritten.)"""
        self._points, self._facts = [], []

    def project(self, cur: Cursor, event: object) -> None:
        if not isinstance(
            event, StripeObject.Recorded | StripeObject.Revised | StripeObject.Backfilled
        ):
            return
        scope = (event.account_id, event.livemode)
        self._clock.saw(scope, event.created)
        self._extend_horizon(scope, event.created, isinstance(event, SUBSCRIPTION_EVENTS))
        if isinstance(event, SUBSCRIPTION_EVENTS):
            self._point(cur, event)
        elif isinstance(event, Coupon.Recorded | Coupon.Revised):
            self._coupon(cur, event)
        elif isinstance(event, DISCOUNT_EVENTS):
            if not isinstance(event, Discount.Backfilled):
                self._discount(cur, event)
            self._discount_fact(cur, event)
        elif isinstance(event, CUSTOMER_EVENTS):
            self._customer_fact(cur, event)

    def flush(self, cur: Cursor) -> None:
        """Recompute what this batch changed, inside the batch's transaction."""
        self._bulk.write(cur, "mrr_points", POINT_COLUMNS, self._points, "ON CONFLICT DO NOTHING")
        self._bulk.write(
            cur, "mrr_customer_discounts", FACT_COLUMNS, self._facts, "ON CONFLICT DO NOTHING"
        )
        self._points, self._facts = [], []
        self._definition = definition_of(cur, self._schema_name)
        # A deferred projection recomputes everyone at the end: no past_due clock to follow.
        self._dirty_customers |= self._clock.advance(
            cur, STRIPE if self.deferred else self._definition
        )
        for scope, (first, last) in sorted(self._horizons.items()):
            self._write_horizon(cur, scope, first, last)
        self._horizons.clear()
        if self.deferred:
            self._dirty_customers.clear()
            self._dirty_scopes.clear()
            return
        by_scope: dict[Scope, list[str | None]] = defaultdict(list)
        for account_id, livemode, customer in sorted(self._dirty_customers, key=_customer_order):
            by_scope[(account_id, livemode)].append(customer)
        for scope, customers in sorted(by_scope.items()):
            self._recompute_customers(cur, scope, customers)
            self._dirty_scopes.add(scope)
        for scope in sorted(self._dirty_scopes):
            self._recompute_monthly(cur, scope)
        self._dirty_customers.clear()
        self._dirty_scopes.clear()

    def recompute_all(self, cur: Cursor, chunk: int = 500) -> None:
        """Every customer's movements and every scope's monthly totals from the stored points:
        what the batches of a deferred projection left undone (and, being derived from the
        points alone, the same rows as recomputing after each batch). Also how another MRR
        definition is read from the same snapshots (metrics.under_definition)."""
        self._definition = definition_of(cur, self._schema_name)
        scopes = cur.execute(
            self._sql("SELECT account_id, livemode FROM {schema}.mrr_horizon ORDER BY 1, 2")
        ).fetchall()
        for account_id, livemode in scopes:
            customers = [
                row[0]
                for row in cur.execute(
                    self._sql(
                        "SELECT DISTINCT customer_id FROM {schema}.mrr_points "
                        "WHERE account_id = %s AND livemode = %s AND customer_id IS NOT NULL "
                        "ORDER BY 1"
                    ),
                    (account_id, livemode),
                )
            ]
            for start in range(0, len(customers), chunk):
                self._recompute_customers(
                    cur, (account_id, livemode), customers[start : start + chunk]
                )
            self._recompute_monthly(cur, (account_id, livemode))

    def _extend_horizon(self, scope: Scope, created: int, subscription: bool) -> None:
        month = month_start(created)
        first = month if subscription else None
        known = self._horizons.get(scope)
        if known is not None:
            known_first, known_last = known
            if known_first is not None:
                first = known_first if first is None else min(first, known_first)
            month = max(month, known_last)
        self._horizons[scope] = (first, month)

    def _write_horizon(self, cur: Cursor, scope: Scope, first: date | None, last: date) -> None:
        row = cur.execute(
            self._sql(
                "INSERT INTO {schema}.mrr_horizon AS h "
                "(account_id, livemode, first_month, last_month) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (account_id, livemode) DO UPDATE SET "
                "first_month = CASE WHEN EXCLUDED.first_month IS NULL THEN h.first_month "
                "ELSE LEAST(h.first_month, EXCLUDED.first_month) END, "
                "last_month = GREATEST(h.last_month, EXCLUDED.last_month) "
                "WHERE h.last_month < EXCLUDED.last_month OR (EXCLUDED.first_month IS NOT NULL "
                "AND (h.first_month IS NULL OR EXCLUDED.first_month < h.first_month)) "
                "RETURNING 1"
            ),
            (*scope, first, last),
        ).fetchone()
        if row is not None:
            self._dirty_scopes.add(scope)

    def _point(self, cur: Cursor, event: SubscriptionEvent) -> None:
        """Keep the snapshot's point, written first thing at the batch's end (nothing in the
        batch reads points before: a point marks its own customer)."""
        state = event.part_state
        discount_ids = [d["id"] for d in state.get("discounts", [])]
        self._points.append(
            (
                event.originator_id,
                event.stripe_event_id,
                event.account_id,
                event.livemode,
                state["customer"],
                event.created,
                event.status,
                Jsonb(event.attributes),
                Jsonb(event.previous_attributes),
                event.previous_state_digest,
                Jsonb(state),
                discount_ids,
            )
        )
        self._dirty_customers.add((event.account_id, event.livemode, state["customer"]))

    def _coupon(self, cur: Cursor, event: Coupon.Recorded | Coupon.Revised) -> None:
        cur.execute(
            self._sql(
                "INSERT INTO {schema}.mrr_coupons (account_id, livemode, stripe_coupon_id, "
                "coupon, deleted) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account_id, "
                "livemode, stripe_coupon_id) DO UPDATE SET coupon = EXCLUDED.coupon, "
                "deleted = EXCLUDED.deleted"
            ),
            (
                event.account_id,
                event.livemode,
                event.stripe_id,
                Jsonb(event.state["coupon"]),
                event.status == DELETED,
            ),
        )
        discount_ids = [
            row[0]
            for row in cur.execute(
                self._sql(
                    "SELECT stripe_discount_id FROM {schema}.mrr_discounts "
                    "WHERE account_id = %s AND livemode = %s AND coupon_id = %s"
                ),
                (event.account_id, event.livemode, event.stripe_id),
            )
        ]
        self._mark_customers_using(cur, event, discount_ids)
        for (customer,) in cur.execute(
            self._sql(
                "SELECT DISTINCT customer_id FROM {schema}.mrr_customer_discounts "
                "WHERE account_id = %s AND livemode = %s AND coupon_id = %s"
            ),
            (event.account_id, event.livemode, event.stripe_id),
        ).fetchall():
            self._dirty_customers.add((event.account_id, event.livemode, customer))

    def _discount(self, cur: Cursor, event: Discount.Recorded | Discount.Revised) -> None:
        state = event.state
        coupon = state["coupon"]
        cur.execute(
            self._sql(
                "INSERT INTO {schema}.mrr_discounts (account_id, livemode, stripe_discount_id, "
                "coupon_id, coupon) VALUES (%s, %s, %s, %s, %s) ON CONFLICT "
                "(account_id, livemode, stripe_discount_id) DO UPDATE SET "
                "coupon_id = EXCLUDED.coupon_id, coupon = EXCLUDED.coupon"
            ),
            (
                event.account_id,
                event.livemode,
                event.stripe_id,
                state["coupon_id"],
                Jsonb(coupon) if coupon is not None else None,
            ),
        )
        self._mark_customers_using(cur, event, [event.stripe_id])

    def _customer_fact(self, cur: Cursor, event: CustomerEvent) -> None:
        """What a customer snapshot says of its own discount (MRR applies it to the customer's
        subscriptions that carry none of their own)."""
        part = as_kind(part_of(event), "customer", CustomerPart)
        if part is None:
            return  # a tax id
        discount = part.state["discount"]
        coupon = discount["coupon"] if discount else None
        fact = (
            event.account_id,
            event.livemode,
            event.stripe_id,
            event.stripe_event_id,
            event.created,
            True,
            discount["id"] if discount else None,
            discount["coupon_id"] if discount else None,
            Jsonb(coupon) if coupon is not None else None,
            discount["start"] if discount else None,
            False,
        )
        if self.deferred:  # nobody to mark: every customer is recomputed at the end
            self._facts.append(fact)
            return
        inserted = cur.execute(self._sql(INSERT_FACT), fact).fetchone()
        # A customer without a discount changes MRR only by ending one it had.
        if inserted is not None and (discount is not None or self._has_discounts(cur, event)):
            self._dirty_customers.add((event.account_id, event.livemode, event.stripe_id))

    def _discount_fact(self, cur: Cursor, event: DiscountEvent) -> None:
        """A customer's own discount applied or ended (`customer.discount.*` of no subscription)."""
        state = event.part_state
        if state["subscription"] is not None or state["customer"] is None:
            return
        coupon = state["coupon"]
        fact = (
            event.account_id,
            event.livemode,
            state["customer"],
            event.stripe_event_id,
            event.created,
            False,
            event.stripe_id,
            state["coupon_id"],
            Jsonb(coupon) if coupon is not None else None,
            state["start"],
            event.status == "deleted",
        )
        if self.deferred:
            self._facts.append(fact)
            return
        inserted = cur.execute(self._sql(INSERT_FACT), fact).fetchone()
        if inserted is not None:
            self._dirty_customers.add((event.account_id, event.livemode, state["customer"]))

    def _has_discounts(self, cur: Cursor, event: CustomerEvent) -> bool:
        row = cur.execute(
            self._sql(
                "SELECT EXISTS (SELECT 1 FROM {schema}.mrr_customer_discounts "
                "WHERE account_id = %s AND livemode = %s AND customer_id = %s "
                "AND discount_id IS NOT NULL)"
            ),
            (event.account_id, event.livemode, event.stripe_id),
        ).fetchone()
        return bool(row and row[0])

    def _mark_customers_using(
        self,
        cur: Cursor,
        event: StripeObject.Recorded | StripeObject.Revised,
        discount_ids: list[str],
    ) -> None:
        """Customers whose subscriptions use a coupon or discount that just became known."""
        if not discount_ids:
            return
        for (customer,) in cur.execute(
            self._sql(
                "SELECT DISTINCT customer_id FROM {schema}.mrr_points WHERE account_id = %s "
                "AND livemode = %s AND discount_ids && %s"
            ),
            (event.account_id, event.livemode, discount_ids),
        ).fetchall():
            self._dirty_customers.add((event.account_id, event.livemode, customer))

    def _recompute_customers(self, cur: Cursor, scope: Scope, customers: list[str | None]) -> None:
        """Recompute the movements of `customers` of one scope from all their points: one
        query each for their points, their subscriptions' coupons, their own discounts and
        the coupons those name, and the horizon, one to delete their old movements and one to
        write the new ones, however many customers the batch touched."""
        account_id, livemode = scope
        rows = cur.execute(
            self._sql(
                "SELECT customer_id, subscription_id, created, stripe_event_id, status, "
                "attributes, previous_attributes, previous_state_digest, state, discount_ids "
                "FROM {schema}.mrr_points "
                "WHERE account_id = %s AND livemode = %s AND customer_id = ANY(%s)"
            ),
            (account_id, livemode, customers),
        ).fetchall()
        points_of: dict[str, dict[UUID, list[Point]]] = defaultdict(lambda: defaultdict(list))
        discount_ids: set[str] = set()
        for row in rows:
            customer, sub_id, created, event_id, status, attributes, previous, digest = row[:8]
            state, discounts = row[8:]
            version = Version(created, event_id, status, attributes, previous, digest, state)
            points_of[customer][sub_id].append(Point(version, state))
            discount_ids.update(discounts)
        coupons = self._coupons_of(cur, account_id, livemode, sorted(discount_ids))
        own_coupons = self._own_discounts(cur, account_id, livemode, customers)
        last_month = self._last_month(cur, account_id, livemode)
        as_of = self._clock.as_of(cur, scope)
        found: list[tuple[str, bool, date, str, str, str, int]] = []
        for customer in customers:
            if customer is None:
                continue  # points without a customer are never read (`customer_id = NULL`)
            series = customer_month_ends(
                points_of.get(customer, {}),
                coupons.get,
                last_month,
                own_coupons(customer),
                self._definition,
                as_of,
            )
            found += [
                (account_id, livemode, m.month, m.currency, customer, m.kind, m.amount_cents)
                for currency, ends in sorted(series.items())
                for m in movements(currency, ends)
            ]
        cur.execute(
            self._sql(
                "DELETE FROM {schema}.mrr_movements WHERE account_id = %s AND livemode = %s "
                "AND customer_id = ANY(%s)"
            ),
            (account_id, livemode, customers),
        )
        # One statement, so the totals' trigger (migration 0015) runs once for the batch.
        self._bulk.write(cur, "mrr_movements", MOVEMENT_COLUMNS, found)

    def _own_discounts(
        self, cur: Cursor, account_id: str, livemode: bool, customers: list[str | None]
    ) -> Callable[[str], Callable[[int], Mapping[str, Any] | None]]:
        """For each of `customers`, the coupon of its own discount in force just before a
        moment (two queries for all of them)."""
        facts_of: dict[str, list[CustomerDiscountFact]] = defaultdict(list)
        for (
            customer,
            created,
            from_customer,
            discount,
            coupon_id,
            coupon,
            start,
            ended,
        ) in cur.execute(
            self._sql(
                "SELECT customer_id, created, from_customer, discount_id, coupon_id, coupon, "
                "start, ended FROM {schema}.mrr_customer_discounts "
                "WHERE account_id = %s AND livemode = %s AND customer_id = ANY(%s)"
            ),
            (account_id, livemode, customers),
        ).fetchall():
            facts_of[customer].append(
                CustomerDiscountFact(
                    created, discount, start, ended, from_customer, coupon, coupon_id
                )
            )
        discounts_of = {customer: customer_discounts(facts) for customer, facts in facts_of.items()}
        wanted = sorted(
            {
                d.coupon_id
                for discounts in discounts_of.values()
                for d in discounts
                if d.coupon is None and d.coupon_id
            }
        )
        known = dict(
            cur.execute(
                self._sql(
                    "SELECT stripe_coupon_id, coupon FROM {schema}.mrr_coupons "
                    "WHERE account_id = %s AND livemode = %s AND stripe_coupon_id = ANY(%s)"
                ),
                (account_id, livemode, wanted),
            ).fetchall()
            if wanted
            else []
        )

        def of(customer: str) -> Callable[[int], Mapping[str, Any] | None]:
            discounts = discounts_of.get(customer, [])

            def coupon_at(before: int) -> Mapping[str, Any] | None:
                found = discount_in_force(discounts, before)
                if found is None:
                    return None
                return found.coupon or (known.get(found.coupon_id) if found.coupon_id else None)

            return coupon_at

        return of

    def _coupons_of(
        self, cur: Cursor, account_id: str, livemode: bool, discount_ids: list[str]
    ) -> dict[str, CouponTerms]:
        """The coupon of each discount that has a known one (as `_coupon` and `_discount` wrote
        it to the tables)."""
        if not discount_ids:
            return {}
        rows = cur.execute(
            self._sql(
                "SELECT d.stripe_discount_id, coalesce(d.coupon, c.coupon) "
                "FROM {schema}.mrr_discounts d LEFT JOIN {schema}.mrr_coupons c "
                "ON c.account_id = d.account_id AND c.livemode = d.livemode "
                "AND c.stripe_coupon_id = d.coupon_id "
                "WHERE d.account_id = %s AND d.livemode = %s AND d.stripe_discount_id = ANY(%s)"
            ),
            (account_id, livemode, discount_ids),
        ).fetchall()
        return {discount_id: coupon for discount_id, coupon in rows if coupon is not None}

    def _last_month(self, cur: Cursor, account_id: str, livemode: bool) -> date:
        row = cur.execute(
            self._sql(
                "SELECT last_month FROM {schema}.mrr_horizon "
                "WHERE account_id = %s AND livemode = %s"
            ),
            (account_id, livemode),
        ).fetchone()
        assert row is not None, "the horizon is extended before any point is written"
        last: date = row[0]
        return last

    def _recompute_monthly(self, cur: Cursor, scope: Scope) -> None:
        horizon = cur.execute(
            self._sql(
                "SELECT first_month, last_month FROM {schema}.mrr_horizon "
                "WHERE account_id = %s AND livemode = %s"
            ),
            scope,
        ).fetchone()
        cur.execute(
            self._sql("DELETE FROM {schema}.mrr_monthly WHERE account_id = %s AND livemode = %s"),
            scope,
        )
        if horizon is None or horizon[0] is None:
            return
        # The movements' sums per currency and month, kept by migration 0015's triggers:
        # months × currencies rows, however long the history.
        grouped = cur.execute(
            self._sql(
                "SELECT currency, month, amount_cents, customers FROM {schema}.mrr_movement_totals "
                "WHERE account_id = %s AND livemode = %s"
            ),
            scope,
        ).fetchall()
        changes: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
        for currency, month, amount, customers in grouped:
            changes[currency][month] = (int(amount), int(customers))
        rows = []
        for currency, by_month in sorted(changes.items()):
            mrr = customers = 0
            for month in months(horizon[0], horizon[1]):
                delta_mrr, delta_customers = by_month.get(month, (0, 0))
                mrr, customers = mrr + delta_mrr, customers + delta_customers
                rows.append((*scope, month, currency, mrr, customers))
        if rows:
            cur.executemany(
                self._sql(
                    "INSERT INTO {schema}.mrr_monthly (account_id, livemode, month, currency, "
                    "mrr_cents, customers) VALUES (%s, %s, %s, %s, %s, %s)"
                ),
                rows,
            )
