"""The metrics views, the `metrics` command and `GET /api/v1/metrics` on one hand-computed
history (tests/support/metrics_history.py), under the live definition and another."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import psycopg
import pytest

from billing_ledger import bootstrap
from billing_ledger.projections import metrics, mrr_clock
from billing_ledger.projections.mrr_definitions import parse
from billing_ledger.settings import Settings
from billing_ledger.web.tokens import TokenStore
from tests.e2e.cli import cli_env
from tests.pipeline import Pipeline
from tests.support.http_server import serving
from tests.support.metrics_history import DAY, FEB, JAN, MAR, history, subscription_event
from tests.support.stripe import event, stripe_object, subscription

SCOPE = {"account_id": "", "livemode": False}


@pytest.fixture
def filled(pipeline: Pipeline) -> Pipeline:
    for document in history():
        pipeline.deliver(document)
    pipeline.process_all()
    return pipeline


def read(dsn: str) -> dict[str, list[dict[str, Any]]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return metrics.read(conn)


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[k] for k in keys) for row in rows]


def test_mrr_arr_arpa_and_lifetime_value_as_of_the_latest_event(filled: Pipeline) -> None:
    found = read(filled.dsn)
    (mrr,) = found["mrr"]
    assert mrr == {
        **SCOPE,
        "currency": "usd",
        "as_of": "2026-03-15T00:00:00+00:00",
        "as_of_month": "2026-03-01",
        "mrr_cents": 4000,  # A 10.00 + C 30.00
        "arr_cents": 48000,
        "paying_customers": 2,
        "arpa_cents": 2000,
        "mrr_definition": "stripe",
    }
    (ltv,) = found["lifetime_value"]
    # 1 churned of 0 + 2 + 3 customers at the months' starts: 0.2; 20.00 / 0.2 = 100.00
    assert (ltv["churned_customers"], ltv["start_customers"]) == (1, 5)
    assert (ltv["customer_churn_rate"], ltv["ltv_cents"]) == (0.2, 10000)
    assert ltv["formula"].startswith("ARPA / customer churn rate")


def test_churn_and_retention_by_month(filled: Pipeline) -> None:
    rows = read(filled.dsn)["churn"]
    assert pick(
        rows,
        "month",
        "start_mrr_cents",
        "mrr_cents",
        "churned_customers",
        "customer_churn_rate",
        "gross_mrr_churn_rate",
        "net_mrr_churn_rate",
        "net_revenue_retention",
        "gross_revenue_retention",
    ) == [
        ("2026-01-01", 0, 3000, 0, None, None, None, None, None),
        ("2026-02-01", 3000, 6000, 0, 0.0, 0.0, 0.0, 1.0, 1.0),
        ("2026-03-01", 6000, 4000, 1, 0.333333, 0.333333, 0.333333, 0.666667, 0.666667),
    ]


def test_signup_month_cohorts(filled: Pipeline) -> None:
    rows = read(filled.dsn)["cohorts"]
    assert pick(
        rows,
        "cohort_month",
        "month",
        "cohort_customers",
        "retained_customers",
        "retained_mrr_cents",
    ) == [
        ("2026-01-01", "2026-01-01", 2, 2, 3000),
        ("2026-01-01", "2026-02-01", 2, 2, 3000),
        ("2026-01-01", "2026-03-01", 2, 1, 1000),  # B churned
        ("2026-02-01", "2026-02-01", 1, 1, 3000),
        ("2026-02-01", "2026-03-01", 1, 1, 3000),
    ]
    assert [r["mrr_retention"] for r in rows] == [1.0, 1.0, 0.333333, 1.0, 1.0]


def test_trials_payments_churn_causes_and_dunning(filled: Pipeline) -> None:
    found = read(filled.dsn)
    assert pick(found["trials"], "trial_month", "trials", "converted", "conversion_rate") == [
        ("2026-01-01", 2, 1, 0.5)
    ]
    assert pick(
        found["payment_conversion"],
        "month",
        "created",
        "succeeded",
        "conversion_rate",
        "required_action",
        "action_dropped",
        "action_drop_off_rate",
    ) == [
        ("2026-01-01", 1, 1, 1.0, 0, 0, None),
        ("2026-02-01", 2, 1, 0.5, 1, 0, 0.0),
        ("2026-03-01", 2, 1, 0.5, 1, 1, 1.0),
    ]
    assert pick(
        found["payment_success"], "payment_method_type", "attempts", "succeeded", "success_rate"
    ) == [("card", 4, 2, 0.5), ("sepa_debit", 1, 1, 1.0)]
    assert pick(found["churn_by_cause"], "month", "voluntary", "involuntary") == [
        ("2026-01-01", 1, 0),
        ("2026-03-01", 0, 1),
    ]
    assert pick(
        found["dunning"],
        "month",
        "failed_invoices",
        "recovered_invoices",
        "failed_cents",
        "recovered_cents",
        "median_days_to_recovery",
    ) == [("2026-02-01", 2, 1, 3000, 1000, 3.0)]


def test_another_definition_is_recomputed_beside_the_live_one_and_leaves_nothing(
    filled: Pipeline,
) -> None:
    before = read(filled.dsn)
    with psycopg.connect(filled.dsn, autocommit=True) as conn:
        other = metrics.under_definition(conn, parse("past_due_14d"))
        again = metrics.under_definition(conn, parse("stripe"))
        schemas = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'billing_metrics_%'"
        ).fetchone()
    # B is past_due from Feb 10: 18 days by Feb 28, so it churns in February instead.
    assert pick(other["churn"], "month", "mrr_cents", "churned_customers") == [
        ("2026-01-01", 3000, 0),
        ("2026-02-01", 4000, 1),
        ("2026-03-01", 4000, 0),
    ]
    assert other["mrr"][0]["mrr_definition"] == "past_due_14d"
    for section in metrics.MRR_SECTIONS:  # the live definition recomputed is the live tables
        assert again[section] == before[section], section
    assert read(filled.dsn) == before
    assert schemas == (0,)


def test_the_metrics_command_as_json_and_side_by_side(filled: Pipeline) -> None:
    env = cli_env({"DATABASE_URL": filled.dsn, "MRR_DEFINITION": "all_discounts"})
    run = [sys.executable, "-m", "billing_ledger", "metrics"]
    as_json = subprocess.run(
        [*run, "--json", "--definition", "past_due_14d"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    document = json.loads(as_json.stdout)
    assert document["mrr_definition"] == "stripe"
    assert document["configured_definition"] == "all_discounts"
    assert document["mrr"][0]["mrr_cents"] == 4000
    assert document["compared"]["mrr_definition"] == "past_due_14d"
    text = subprocess.run(
        [*run, "--definition", "past_due_14d"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "MRR definition: stripe (MRR_DEFINITION=all_discounts takes effect" in text
    assert "MRR by month, stripe beside past_due_14d" in text
    assert "MRR 40.00  ARR 480.00  paying customers 2  ARPA 20.00  LTV 100.00" in text
    bad = subprocess.run(
        [*run, "--definition", "chartmogul"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "MRR definition 'chartmogul'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_get_metrics_needs_the_read_scope_and_answers_the_views(filled: Pipeline) -> None:
    with bootstrap.api_pool(filled.dsn) as pool:
        tokens = TokenStore(pool)
        with serving(bootstrap.web_api(Settings(), pool)) as url:
            reader = tokens.create("finance", ["read"])
            writer = tokens.create("shop", ["payments:write"])

            def get(token: str, query: str = "") -> httpx.Response:
                headers = {"Authorization": f"Bearer {token}"}
                return httpx.get(f"{url}/api/v1/metrics{query}", headers=headers, timeout=30)

            answer = get(reader)
            assert answer.status_code == 200
            body = answer.json()
            assert body["mrr_definition"] == "stripe"
            assert {k: v for k, v in body.items() if k != "mrr_definition"} == read(filled.dsn)
            assert get(reader, "?livemode=true").json()["mrr"] == []
            assert get(reader, "?currency=USD").json()["mrr"][0]["mrr_cents"] == 4000
            assert get(reader, "?livemode=maybe").status_code == 400
            assert get(reader, "?month=2026-01").status_code == 400
            assert get(writer).status_code == 403
            document = httpx.get(f"{url}/api/v1/openapi.json", timeout=30).json()
            operation = document["paths"]["/api/v1/metrics"]["get"]
            assert operation["security"] == [{"bearer": ["read"]}]
            assert {p["name"] for p in operation["parameters"]} >= {"livemode", "currency"}


def replay(dsn: str, definition: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_ledger", "replay", *args],
        env=cli_env({"DATABASE_URL": dsn, "MRR_DEFINITION": definition}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def monthly(pipeline: Pipeline) -> list[tuple[Any, ...]]:
    return pipeline.query("SELECT month::text, mrr_cents FROM billing.mrr_monthly ORDER BY month")


def test_a_definition_takes_effect_through_replay_swap_and_stays(filled: Pipeline) -> None:
    assert monthly(filled) == [("2026-01-01", 3000), ("2026-02-01", 6000), ("2026-03-01", 4000)]
    result = replay(filled.dsn, "past_due_14d", "--swap")
    assert result.returncode == 0, result.stdout + result.stderr
    assert filled.query("SELECT name FROM billing.mrr_definition") == [("past_due_14d",)]
    assert monthly(filled) == [("2026-01-01", 3000), ("2026-02-01", 4000), ("2026-03-01", 4000)]
    # The live projector goes on under the swapped-in definition: F is past_due 20 days.
    filled.deliver(subscription_event("sub_F", "cus_F", 1000, "active", MAR + 15 * DAY, "created"))
    filled.deliver(subscription_event("sub_F", "cus_F", 1000, "past_due", MAR + 29 * DAY))
    filled.deliver({**history()[-1], "id": "evt_late", "created": MAR + 49 * DAY})  # Apr 19
    filled.process_all()
    assert monthly(filled)[-1] == ("2026-04-01", 4000)  # F's 10.00 churned after 14 days


def test_a_rebuild_begun_under_another_definition_must_restart(filled: Pipeline) -> None:
    assert replay(filled.dsn, "stripe").returncode == 0
    refused = replay(filled.dsn, "all_discounts")
    assert refused.returncode == 2
    assert "begun under MRR definition 'stripe'" in refused.stderr
    assert "--restart" in refused.stderr
    assert replay(filled.dsn, "all_discounts", "--restart").returncode == 0
    assert filled.query("SELECT name FROM billing_rebuild.mrr_definition") == [("all_discounts",)]


def test_the_past_due_clock_runs_on_other_customers_events_and_a_rebuild_agrees(
    pipeline: Pipeline,
) -> None:
    pipeline.query_write("UPDATE billing.mrr_definition SET name = 'past_due_14d'")
    documents = history()
    for document in documents[:2] + [documents[6]]:  # A and B active, B past_due on Feb 10
        pipeline.deliver(document)
        pipeline.process_all()
    assert monthly(pipeline)[-1] == ("2026-02-01", 3000)  # as of Feb 10: B's day 0
    pipeline.deliver(documents[5])  # C, another customer, on Feb 5: no clock change
    pipeline.deliver(documents[-4])  # A's invoice fails on Feb 1 (before the clock)
    pipeline.process_all()
    assert monthly(pipeline)[-1] == ("2026-02-01", 6000)
    pipeline.deliver(documents[-2])  # B's invoice fails on Feb 10 again: same day
    pipeline.deliver({**documents[-1], "id": "evt_feb_25", "created": FEB + 24 * DAY})
    pipeline.process_all()
    assert monthly(pipeline)[-1] == ("2026-02-01", 4000)  # day 15: B has churned
    result = replay(pipeline.dsn, "past_due_14d", "--verify")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_discount_counts_under_all_discounts_known_only_by_id(pipeline: Pipeline) -> None:
    coupon = stripe_object("coupon", id="WELCOME", duration="repeating", percent_off=50)
    coupon.update(amount_off=None, duration_in_months=3)
    discount = stripe_object(
        "discount",
        id="di_w",
        customer="cus_Test1",
        subscription="sub_Test1",
        source={"type": "coupon", "coupon": "WELCOME"},
        start=JAN,
        end=None,
    )
    discount.pop("coupon", None)
    for document in (
        event("coupon.created", coupon, created=JAN),
        event("customer.discount.created", discount, created=JAN),
        event(
            "customer.subscription.created",
            subscription(unit_amount=5000, discounts=["di_w"]),
            created=JAN + DAY,
        ),
    ):
        pipeline.deliver(document)
    pipeline.process_all()
    with psycopg.connect(pipeline.dsn, autocommit=True) as conn:
        live = metrics.read(conn, sections=("mrr",))["mrr"][0]["mrr_cents"]
        every = metrics.under_definition(conn, parse("all_discounts"))["mrr"][0]["mrr_cents"]
    assert (live, every) == (5000, 2500)  # Stripe ignores a repeating coupon


def test_churn_at_cancellation_dates_it_when_the_customer_asks(pipeline: Pipeline) -> None:
    for document in (
        event("customer.subscription.created", subscription(), created=JAN + DAY),
        event(
            "customer.subscription.updated",
            subscription(cancel_at_period_end=True, canceled_at=FEB + 9 * DAY),
            created=FEB + 9 * DAY,
            previous_attributes={"cancel_at_period_end": False, "canceled_at": None},
        ),
        event(
            "customer.subscription.deleted",
            subscription(status="canceled", canceled_at=FEB + 9 * DAY),
            created=MAR,
        ),
    ):
        pipeline.deliver(document)
    pipeline.process_all()
    with psycopg.connect(pipeline.dsn, autocommit=True) as conn:
        live = metrics.read(conn, sections=("churn",))["churn"]
        asked = metrics.under_definition(conn, parse("churn_at_cancellation"))["churn"]
    assert pick(live, "month", "mrr_cents", "churned_customers") == [
        ("2026-01-01", 2000, 0),
        ("2026-02-01", 2000, 0),
        ("2026-03-01", 0, 1),
    ]
    assert pick(asked, "month", "mrr_cents", "churned_customers") == [
        ("2026-01-01", 2000, 0),
        ("2026-02-01", 0, 1),
        ("2026-03-01", 0, 0),
    ]


def test_a_new_database_takes_mrr_definition_at_once_a_used_one_waits_for_a_swap(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(pipeline.dsn, autocommit=True) as conn:
        assert mrr_clock.adopt_definition(conn, "billing", parse("all_discounts")).name == (
            "all_discounts"
        )
    pipeline.deliver(history()[0])
    pipeline.process_all()
    with psycopg.connect(pipeline.dsn, autocommit=True) as conn:
        kept = mrr_clock.adopt_definition(conn, "billing", parse("past_due_7d"))
    assert kept.name == "all_discounts"
    assert pipeline.query("SELECT name FROM billing.mrr_definition") == [("all_discounts",)]
    assert "takes effect with `billing-ledger replay --swap`" in caplog.text
