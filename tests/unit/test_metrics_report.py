"""What `billing-ledger metrics` prints, from rows as the views give them (no database)."""

from __future__ import annotations

import json
from typing import Any

from billing_ledger.projections.metrics import SECTIONS
from billing_ledger.projections.metrics_report import as_json, as_text

SCOPE = {"account_id": "", "livemode": True, "currency": "eur"}


def empty() -> dict[str, list[dict[str, Any]]]:
    return {section: [] for section in SECTIONS}


def with_mrr(mrr: int, ltv: int | None) -> dict[str, list[dict[str, Any]]]:
    found = empty()
    found["mrr"] = [
        {
            **SCOPE,
            "as_of": "2026-03-15T00:00:00+00:00",
            "mrr_cents": mrr,
            "arr_cents": 12 * mrr,
            "paying_customers": 3,
            "arpa_cents": round(mrr / 3),
        }
    ]
    found["lifetime_value"] = [{**SCOPE, "ltv_cents": ltv}]
    found["churn"] = [
        {
            **SCOPE,
            "month": "2026-03-01",
            "mrr_cents": mrr,
            "gross_mrr_churn_rate": 0.25,
            "net_revenue_retention": None,
        }
    ]
    return found


def test_nothing_processed_says_so() -> None:
    text = as_text("stripe", "stripe", empty(), None)
    assert text == "MRR definition: stripe\nno MRR yet: no subscription events have been processed"


def test_headlines_in_major_units_and_an_undefined_ltv_said_in_words() -> None:
    text = as_text("stripe", "all_discounts", with_mrr(123_456, None), None)
    assert "(MRR_DEFINITION=all_discounts takes effect with `replay --swap`)" in text
    assert "platform (live mode) eur under stripe" in text
    assert "MRR 1,234.56  ARR 14,814.72  paying customers 3  ARPA 411.52" in text
    assert "LTV — (no churn yet)" in text


def test_another_definition_is_shown_beside_the_live_one() -> None:
    text = as_text("stripe", "stripe", with_mrr(9000, 36000), ("past_due_7d", with_mrr(6000, None)))
    assert "eur under past_due_7d" in text and "MRR 60.00" in text
    side = text.split("MRR by month, stripe beside past_due_7d\n")[1].splitlines()
    assert side[1].split() == ["2026-03", "eur", "90.00", "60.00", "0.2500", "0.2500", "—", "—"]


def test_json_keeps_minor_units_and_names_both_definitions() -> None:
    document = json.loads(as_json("stripe", "x", with_mrr(9000, 1), ("all_discounts", empty())))
    assert document["mrr_definition"] == "stripe"
    assert document["configured_definition"] == "x"
    assert document["mrr"][0]["mrr_cents"] == 9000
    assert document["compared"]["mrr_definition"] == "all_discounts"
