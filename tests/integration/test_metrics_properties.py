"""Property: for any customers' month-end MRR, the views' movements, churn, retention and
cohorts agree with the MRR series they come from (the SQL of migration 0011 against the
series, not against itself)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_ledger import bootstrap
from billing_ledger.projections import metrics
from billing_ledger.projections.mrr_rules import months, movements

FIRST = date(2025, 11, 1)
TOLERANCE = 2e-6  # each ratio is rounded to 6 places on its own

series_of_customers = st.integers(min_value=1, max_value=7).flatmap(
    lambda length: st.lists(
        st.lists(st.sampled_from([0, 0, 500, 1000, 2500, 9999]), min_size=length, max_size=length),
        min_size=1,
        max_size=6,
    )
)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[object]]:
    with psycopg.connect(database_url, autocommit=True) as opened:
        bootstrap.prepare_live_schemas(opened)
        yield opened


def load(conn: psycopg.Connection[object], customers: list[list[int]]) -> list[date]:
    span = months(FIRST, date(2026, 12, 1))[: len(customers[0])]
    for table in ("mrr_movements", "mrr_monthly", "mrr_horizon", "mrr_clock"):
        conn.execute(f"DELETE FROM billing.{table}")
    for number, values in enumerate(customers):
        for m in movements("usd", list(zip(span, values, strict=True))):
            conn.execute(
                "INSERT INTO billing.mrr_movements VALUES ('', false, %s, 'usd', %s, %s, %s)",
                (m.month, f"cus_{number}", m.kind, m.amount_cents),
            )
    for index, month in enumerate(span):
        values = [c[index] for c in customers]
        conn.execute(
            "INSERT INTO billing.mrr_monthly VALUES ('', false, %s, 'usd', %s, %s)",
            (month, sum(values), sum(1 for v in values if v > 0)),
        )
    conn.execute("INSERT INTO billing.mrr_horizon VALUES ('', false, %s, %s)", (span[0], span[-1]))
    conn.execute("INSERT INTO billing.mrr_clock VALUES ('', false, 1790000000)")
    return span


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(customers=series_of_customers)
def test_movements_churn_and_retention_follow_the_mrr_series(
    conn: psycopg.Connection[object], customers: list[list[int]]
) -> None:
    span = load(conn, customers)
    found = metrics.read(conn)
    mrr_at = {m: sum(c[i] for c in customers) for i, m in enumerate(span)}
    paying_at = {m: sum(1 for c in customers if c[i] > 0) for i, m in enumerate(span)}
    for row in found["churn"]:
        month = date.fromisoformat(row["month"])
        moved = sum(
            row[k]
            for k in ("new_cents", "expansion_cents", "contraction_cents", "churn_cents")
            + ("reactivation_cents",)
        )
        assert row["mrr_cents"] == mrr_at[month] == row["start_mrr_cents"] + moved
        assert row["customers"] == paying_at[month]
        assert row["customers"] == (
            row["start_customers"]
            + row["new_customers"]
            + row["reactivated_customers"]
            - row["churned_customers"]
        )
        start = row["start_mrr_cents"]
        if start == 0:
            assert row["net_revenue_retention"] is None and row["gross_mrr_churn_rate"] is None
            continue
        assert abs(row["gross_mrr_churn_rate"] - (1 - row["gross_revenue_retention"])) < TOLERANCE
        reactivated = row["reactivation_cents"] / start
        net = 1 - row["net_revenue_retention"] - reactivated
        assert abs(row["net_mrr_churn_rate"] - net) < TOLERANCE
        assert row["gross_revenue_retention"] <= row["net_revenue_retention"] + TOLERANCE
    retained: dict[str, tuple[int, int]] = {}
    for row in found["cohorts"]:
        mrr, paying = retained.get(row["month"], (0, 0))
        retained[row["month"]] = (
            mrr + row["retained_mrr_cents"],
            paying + row["retained_customers"],
        )
    for month in span:
        if mrr_at[month] or month.isoformat() in retained:
            assert retained.get(month.isoformat(), (0, 0)) == (mrr_at[month], paying_at[month])
    (current,) = found["mrr"]
    assert current["mrr_cents"] == mrr_at[span[-1]]
    (ltv,) = found["lifetime_value"]
    churned = sum(r["churned_customers"] for r in found["churn"])
    starts = sum(r["start_customers"] for r in found["churn"])
    assert (ltv["churned_customers"], ltv["start_customers"]) == (churned, starts)
    assert (ltv["ltv_cents"] is None) == (churned == 0 or current["paying_customers"] == 0)
