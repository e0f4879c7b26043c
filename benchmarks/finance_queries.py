"""Finance queries benchmark: the README's "For finance: SQL" MRR queries over 100,000
subscriptions and 36 months.

    python -m benchmarks.finance_queries [--subscriptions 100000] [--months 36] [--runs 9]

The MRR tables are not produced by processing a history here (100,000 subscriptions would take
hours at today's processing rate): a seeded simulation of subscription lives (start month,
currency, plan, upgrades, downgrades, churn, reactivation) computes each customer's month-end
MRR, and from it the rows the MRR projection would write — `billing.mrr_monthly` (MRR and paying
customers per month and currency) and `billing.mrr_movements` (new, expansion, contraction,
churn, reactivation per customer and month) — which are COPYed into a freshly migrated `billing`
schema, then ANALYZEd. Each query runs once to warm up, then `--runs` times; the median is
reported (wall time in this process, rows fetched included).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from datetime import date

import psycopg

from benchmarks.history import CURRENCIES, PLANS
from benchmarks.infra import conditions, fresh_database, postgres_server
from billing_ledger.projections.migrations import READ_SCHEMA, migrate

MRR_BY_MONTH = """
SELECT month, currency, mrr_cents / 100.0 AS mrr, customers
FROM billing.mrr_monthly WHERE account_id = '' AND livemode
ORDER BY currency, month"""
MOVEMENTS_ONE_MONTH = """
SELECT month, currency, kind, count(*) AS customers, sum(amount_cents) / 100.0 AS amount
FROM billing.mrr_movements WHERE account_id = '' AND livemode AND month = %s
GROUP BY month, currency, kind ORDER BY month, currency, kind"""
MOVEMENTS_ALL_MONTHS = """
SELECT month, currency, kind, count(*) AS customers, sum(amount_cents) / 100.0 AS amount
FROM billing.mrr_movements WHERE account_id = '' AND livemode
GROUP BY month, currency, kind ORDER BY month, currency, kind"""

Movement = tuple[str, bool, date, str, str, str, int]


def month_start(index: int) -> date:
    return date(2023 + index // 12, index % 12 + 1, 1)


def simulate(
    subscriptions: int, months: int, seed: int
) -> tuple[list[Movement], dict[tuple[int, str], list[int]]]:
    """Month-end MRR per customer → movements, and (month, currency) → [mrr, customers]."""
    rng = random.Random(seed)
    currencies = [c for c, _ in CURRENCIES]
    weights = [w for _, w in CURRENCIES]
    tiers = list(PLANS)
    movements: list[Movement] = []
    monthly: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for index in range(subscriptions):
        customer = f"cus_B{seed:02d}{index:08d}"
        currency = rng.choices(currencies, weights)[0]
        tier = rng.randrange(3)
        quantity = rng.choice((1, 1, 1, 2, 3, 5))
        yearly = rng.random() < 0.2
        active, churned, previous = False, False, 0
        for month in range(rng.randrange(months), months):
            if not active and (not churned or rng.random() < 0.05):
                active = True
            elif active and rng.random() < 0.025:
                active, churned = False, True
            elif active and rng.random() < 0.04:
                tier = min(2, tier + 1) if rng.random() < 0.6 else max(0, tier - 1)
                quantity = max(1, quantity + rng.choice((-1, 1, 1)))
            price = PLANS[tiers[tier]][currency]
            mrr = (price * 10 * quantity) // 12 if yearly else price * quantity
            current = mrr if active else 0
            kind = _kind(previous, current, churned)
            if kind:
                movements.append(
                    ("", True, month_start(month), currency, customer, kind, current - previous)
                )
            if current:
                monthly[(month, currency)][0] += current
                monthly[(month, currency)][1] += 1
            previous = current
    return movements, monthly


def _kind(previous: int, current: int, churned: bool) -> str | None:
    if previous == current:
        return None
    if previous == 0:
        return "reactivation" if churned else "new"
    if current == 0:
        return "churn"
    return "expansion" if current > previous else "contraction"


def load(dsn: str, subscriptions: int, months: int, seed: int) -> tuple[int, int]:
    movements, monthly = simulate(subscriptions, months, seed)
    with psycopg.connect(dsn) as conn:
        migrate(conn, READ_SCHEMA)
        with conn.cursor() as cur:
            columns = "account_id, livemode, month, currency, customer_id, kind, amount_cents"
            with cur.copy(f"COPY billing.mrr_movements ({columns}) FROM STDIN") as copy:
                for row in movements:
                    copy.write_row(row)
            columns = "account_id, livemode, month, currency, mrr_cents, customers"
            with cur.copy(f"COPY billing.mrr_monthly ({columns}) FROM STDIN") as copy:
                for (month, currency), (mrr, customers) in sorted(monthly.items()):
                    copy.write_row(("", True, month_start(month), currency, mrr, customers))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE billing.mrr_movements")
        conn.execute("VACUUM ANALYZE billing.mrr_monthly")
    return len(movements), len(monthly)


def median_ms(dsn: str, query: str, params: tuple[object, ...], runs: int) -> tuple[float, int]:
    with psycopg.connect(dsn) as conn:
        rows = len(conn.execute(query, params).fetchall())  # warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(query, params).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"finance queries benchmark  {conditions()}")
    with postgres_server() as server, fresh_database(server) as dsn:
        started = time.perf_counter()
        movements, monthly = load(dsn, args.subscriptions, args.months, args.seed)
        print(
            f"loaded {args.subscriptions:,} subscriptions over {args.months} months: "
            f"{movements:,} mrr_movements rows, {monthly} mrr_monthly rows "
            f"in {time.perf_counter() - started:.1f}s (simulated, COPY)"
        )
        last = (month_start(args.months - 1),)
        for label, query, params in (
            ("MRR by month (36 months)", MRR_BY_MONTH, ()),
            (f"movements for one month ({last[0]:%Y-%m})", MOVEMENTS_ONE_MONTH, last),
            ("movements by month (all months)", MOVEMENTS_ALL_MONTHS, ()),
        ):
            ms, rows = median_ms(dsn, query, params, args.runs)
            print(f"  {label:<40} median {ms:8.2f} ms over {args.runs} runs ({rows} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
