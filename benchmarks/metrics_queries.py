"""Metrics benchmark: every view of `billing-ledger metrics` (migration 0011) over 100,000
subscriptions, and optionally MRR recomputed under another definition.

    python -m benchmarks.metrics_queries [--subscriptions 100000] [--months 24] [--runs 5]
                                         [--recompute 0]

The tables are not produced by processing a history (that would take hours here): a seeded
simulation of subscription lives writes the rows the projections would write, COPYed into a
freshly migrated `billing` schema, then ANALYZEd. Each subscription has its own customer, a
currency and a plan; 30% start with a 14-day trial (60% of those convert), 20% fall past_due
once (half are canceled after it, half pay within 12 days) and 15% cancel voluntarily. Every
snapshot goes to `mrr_points` (in the projection's shape), the latest to `subscriptions`; the
month-end MRR of each customer gives `mrr_movements` and `mrr_monthly` (Stripe's definition);
each start and each past_due episode is a PaymentIntent with its charges (10% through 3-D
Secure, a third of those dropped) and each past_due episode an invoice that failed.

Each view is read whole (`SELECT *`, rows fetched) once to warm up, then `--runs` times; the
median is reported. `--recompute N` then times `metrics --definition past_due_14d`'s
recomputation (copy of the snapshots, MRR projection over every customer, the MRR views) over
the first N subscriptions' points, in a database of their own.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import psycopg
from psycopg.types.json import Jsonb

from benchmarks.history import CURRENCIES, PLANS
from benchmarks.infra import conditions, fresh_database, postgres_server
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.projections import metrics
from billing_ledger.projections.migrations import READ_SCHEMA, migrate
from billing_ledger.projections.mrr_definitions import parse
from billing_ledger.projections.mrr_rules import month_start, movements

DAY = 86_400
START = 1_704_067_200  # 2024-01-01
Point = tuple[int, str]  # (created, status)


def lives(
    subscriptions: int, months: int, seed: int
) -> Iterator[tuple[int, str, int, list[Point]]]:
    """(number, currency, monthly amount, snapshots) of each subscription."""
    rng = random.Random(seed)
    currencies = [c for c, _ in CURRENCIES]
    weights = [w for _, w in CURRENCIES]
    horizon = _month_end(START, months - 1)
    for number in range(subscriptions):
        currency = rng.choices(currencies, weights)[0]
        amount = PLANS[rng.choice(list(PLANS))][currency]
        at = START + rng.randrange((horizon - START) // DAY) * DAY + rng.randrange(DAY)
        points: list[Point] = []
        if rng.random() < 0.3:
            points.append((at, "trialing"))
            at += 14 * DAY
            if rng.random() >= 0.6:
                points.append((at, "canceled"))
                yield number, currency, amount, points
                continue
        points.append((at, "active"))
        fate = rng.random()
        later = at + rng.randrange(20, 400) * DAY
        if fate < 0.2 and later < horizon:
            points.append((later, "past_due"))
            paid = rng.random() < 0.5
            points.append((later + rng.randrange(1, 13) * DAY, "active" if paid else "canceled"))
        elif fate < 0.35 and later < horizon:
            points.append((later, "canceled"))
        yield number, currency, amount, points


def state(number: int, currency: str, amount: int, status: str, created: int) -> dict[str, Any]:
    item = {
        "id": f"si_{number}",
        "price_id": f"price_{amount}_{currency}",
        "quantity": 1,
        "unit_amount": amount,
        "currency": currency,
        "interval": "month",
        "interval_count": 1,
        "usage_type": "licensed",
        "unit_amount_decimal": None,
        "billing_scheme": "per_unit",
        "tiers_mode": None,
        "tiers": None,
    }
    return {
        "customer": f"cus_{number}",
        "status": status,
        "currency": currency,
        "items": [item],
        "discounts": [],
        "cancel_at_period_end": False,
        "canceled_at": created if status == "canceled" else None,
        "created": created,
    }


def month_ends(points: list[Point], amount: int, months: list[int]) -> list[tuple[date, int]]:
    values = []
    for end in months:
        known = [status for created, status in points if created < end]
        paying = bool(known) and known[-1] in ("active", "past_due")
        values.append((month_start(end - 1), amount if paying else 0))
    return values


def load(
    dsn: str, subscriptions: int, months: int, seed: int, limit: int | None = None
) -> dict[str, int]:
    ends = [_month_end(START, m) for m in range(months)]
    rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    monthly: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    rng = random.Random(seed + 1)
    latest = START
    for number, currency, amount, points in lives(subscriptions, months, seed):
        if limit is not None and number >= limit:
            break
        sub_id, customer = f"sub_{number}", f"cus_{number}"
        row_id = stripe_uuid("", True, sub_id)
        for created, status in points:
            latest = max(latest, created)
            rows["mrr_points"].append(
                (
                    row_id,
                    f"evt_{uuid4().hex}",
                    "",
                    True,
                    customer,
                    created,
                    status,
                    Jsonb({}),
                    Jsonb({}),
                    Jsonb(state(number, currency, amount, status, created)),
                    [],
                    None,
                )
            )
        last_created, last_status = points[-1]
        rows["subscriptions"].append(
            (
                row_id,
                "",
                True,
                sub_id,
                stripe_uuid("", True, customer),
                last_status,
                False,
                _time(points[0][0]),
                _time(last_created),
            )
        )
        series = month_ends(points, amount, ends)
        for month, value in series:
            monthly[(month, currency)][0] += value
            monthly[(month, currency)][1] += value > 0
        for m in movements(currency, series):
            rows["mrr_movements"].append(
                ("", True, m.month, currency, customer, m.kind, m.amount_cents)
            )
        for index, (created, status) in enumerate(points):
            if status not in ("active", "past_due"):
                continue
            pi = f"pi_{number}_{index}"
            ok = status == "active"
            asked = rng.random() < 0.1
            if asked:
                rows["payment_intent_statuses"].append(("", True, pi, "requires_action", created))
                ok = ok and rng.random() >= 1 / 3
            final = "succeeded" if ok else "requires_payment_method"
            rows["payment_intent_statuses"].append(("", True, pi, final, created + 60))
            rows["payment_transactions"].append(
                (
                    stripe_uuid("", True, pi),
                    "",
                    True,
                    pi,
                    amount,
                    amount if ok else 0,
                    0,
                    currency,
                    final,
                    "card",
                    _time(created),
                    _time(created + 60),
                )
            )
            for attempt in range(1 if ok else 2):
                charge_status = "succeeded" if ok else "failed"
                rows["payment_charges"].append(
                    (
                        "",
                        True,
                        f"ch_{number}_{index}_{attempt}",
                        pi,
                        charge_status,
                        rng.choice(("card", "card", "card", "sepa_debit", "us_bank_account")),
                        None if ok else "card_declined",
                        amount,
                        currency,
                        created + attempt * DAY,
                    )
                )
            if status == "past_due":
                invoice = f"in_{number}_{index}"
                recovered = points[index + 1][1] == "active" if index + 1 < len(points) else False
                paid_at = points[index + 1][0] if recovered else None
                rows["invoices"].append(
                    (
                        stripe_uuid("", True, invoice),
                        "",
                        True,
                        invoice,
                        amount,
                        amount if recovered else 0,
                        0 if recovered else amount,
                        amount,
                        0,
                        currency,
                        "paid" if recovered else "open",
                        False,
                        _time(paid_at) if paid_at else None,
                        _time(created),
                        _time(paid_at or created),
                    )
                )
                rows["invoice_payment_failures"].append(
                    ("", True, invoice, f"evt_{invoice}", created)
                )
    with psycopg.connect(dsn) as conn:
        migrate(conn, READ_SCHEMA)
        with conn.cursor() as cur:
            for table, found in rows.items():
                with cur.copy(f"COPY billing.{table} ({COLUMNS[table]}) FROM STDIN") as copy:
                    for row in found:
                        copy.write_row(row)
            with cur.copy("COPY billing.mrr_monthly FROM STDIN") as copy:
                for (month, currency), (mrr, customers) in sorted(monthly.items()):
                    copy.write_row(("", True, month, currency, mrr, customers))
            cur.execute(
                "INSERT INTO billing.mrr_horizon VALUES ('', true, %s, %s)",
                (min(m for m, _ in monthly), max(m for m, _ in monthly)),
            )
            cur.execute("INSERT INTO billing.mrr_clock VALUES ('', true, %s)", (latest,))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {table: len(found) for table, found in rows.items()}


COLUMNS = {
    "mrr_points": "subscription_id, stripe_event_id, account_id, livemode, customer_id, created, "
    "status, attributes, previous_attributes, state, discount_ids, previous_state_digest",
    "subscriptions": "id, account_id, livemode, stripe_subscription_id, customer_id, status, "
    "cancel_at_period_end, created_at, updated_at",
    "mrr_movements": "account_id, livemode, month, currency, customer_id, kind, amount_cents",
    "payment_intent_statuses": "account_id, livemode, stripe_payment_intent_id, status, first_seen",
    "payment_transactions": "id, account_id, livemode, stripe_payment_intent_id, amount, "
    "amount_received, amount_refunded, currency, status, payment_method_type, created_at, "
    "updated_at",
    "payment_charges": "account_id, livemode, stripe_charge_id, stripe_payment_intent_id, status, "
    "payment_method_type, failure_code, amount, currency, created",
    "invoices": "id, account_id, livemode, stripe_invoice_id, amount_due, amount_paid, "
    "amount_remaining, total, tax, currency, status, paid_out_of_band, paid_at, created_at, "
    "updated_at",
    "invoice_payment_failures": "account_id, livemode, stripe_invoice_id, stripe_event_id, created",
}


def _month_end(start: int, index: int) -> int:
    """The end of the `index`-th month from `start`'s (the next month's first second)."""
    first = datetime.fromtimestamp(start, UTC)
    months = first.year * 12 + first.month - 1 + index + 1
    return int(datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC).timestamp())


def _time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def median_ms(dsn: str, view: str, runs: int) -> tuple[float, int]:
    query = f"SELECT * FROM billing.{view}"
    with psycopg.connect(dsn) as conn:
        rows = len(conn.execute(query).fetchall())  # warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(query).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--recompute", type=int, default=0, metavar="N")
    args = parser.parse_args()
    print(f"metrics queries benchmark  {conditions()}")
    with postgres_server() as server:
        with fresh_database(server) as dsn:
            started = time.perf_counter()
            counts = load(dsn, args.subscriptions, args.months, args.seed)
            loaded = ", ".join(f"{table} {count:,}" for table, count in counts.items())
            print(
                f"loaded {args.subscriptions:,} subscriptions over {args.months} months in "
                f"{time.perf_counter() - started:.1f}s (simulated, COPY): {loaded}"
            )
            for section, (view, _, _) in metrics.SECTIONS.items():
                ms, rows = median_ms(dsn, view, args.runs)
                print(
                    f"  {section:<20} {view:<28} median {ms:9.1f} ms "
                    f"over {args.runs} runs ({rows:,} rows)"
                )
            with psycopg.connect(dsn, autocommit=True) as conn:
                started = time.perf_counter()
                metrics.read(conn)
                print(
                    "  every section, as `metrics --json` reads them: "
                    f"{time.perf_counter() - started:.2f}s"
                )
        if args.recompute:
            with fresh_database(server) as dsn:
                load(dsn, args.subscriptions, args.months, args.seed, limit=args.recompute)
                with psycopg.connect(dsn, autocommit=True) as conn:
                    started = time.perf_counter()
                    metrics.under_definition(conn, parse("past_due_14d"))
                    seconds = time.perf_counter() - started
                print(
                    f"  recomputed under past_due_14d: {args.recompute:,} subscriptions in "
                    f"{seconds:.1f}s ({args.recompute / seconds:,.0f} subscriptions/s)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
