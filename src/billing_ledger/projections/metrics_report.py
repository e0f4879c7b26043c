"""What `billing-ledger metrics` prints: the metrics as tables (major units with the currency)
or JSON (minor units), and another MRR definition side by side with the live one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from billing_ledger.projections.mrr_report import major_units

Rows = list[dict[str, Any]]
Metrics = dict[str, Rows]
# (key, header, kind): kind is money (minor units), ratio, or plain.
Column = tuple[str, str, str]

TABLES: dict[str, tuple[str, Sequence[Column]]] = {
    "churn": (
        "MRR churn and retention by month (start = the previous month's end)",
        (
            ("month", "month", "month"),
            ("currency", "cur", "plain"),
            ("start_mrr_cents", "start MRR", "money"),
            ("mrr_cents", "MRR", "money"),
            ("churned_customers", "churned", "plain"),
            ("customer_churn_rate", "cust churn", "ratio"),
            ("gross_mrr_churn_rate", "gross churn", "ratio"),
            ("net_mrr_churn_rate", "net churn", "ratio"),
            ("net_revenue_retention", "NRR", "ratio"),
            ("gross_revenue_retention", "GRR", "ratio"),
        ),
    ),
    "cohorts": (
        "Signup-month cohorts: MRR still paid",
        (
            ("cohort_month", "cohort", "month"),
            ("currency", "cur", "plain"),
            ("months_since_signup", "age", "plain"),
            ("cohort_customers", "signed up", "plain"),
            ("retained_customers", "paying", "plain"),
            ("retained_mrr_cents", "MRR", "money"),
            ("mrr_retention", "retained", "ratio"),
        ),
    ),
    "trials": (
        "Trial-to-paid conversion by trial-start month",
        (
            ("trial_month", "month", "month"),
            ("trials", "trials", "plain"),
            ("converted", "converted", "plain"),
            ("still_trialing", "trialing", "plain"),
            ("conversion_rate", "rate", "ratio"),
        ),
    ),
    "payment_conversion": (
        "PaymentIntents by month created: succeeded of created; requires_action never completed",
        (
            ("month", "month", "month"),
            ("created", "created", "plain"),
            ("succeeded", "succeeded", "plain"),
            ("conversion_rate", "rate", "ratio"),
            ("required_action", "3DS asked", "plain"),
            ("action_dropped", "3DS dropped", "plain"),
            ("action_drop_off_rate", "drop-off", "ratio"),
        ),
    ),
    "payment_success": (
        "Payment attempts (charges) by payment method type",
        (
            ("payment_method_type", "type", "plain"),
            ("attempts", "attempts", "plain"),
            ("succeeded", "succeeded", "plain"),
            ("failed", "failed", "plain"),
            ("success_rate", "rate", "ratio"),
        ),
    ),
    "churn_by_cause": (
        "Subscriptions ended: voluntary, or involuntary (after failed payments)",
        (
            ("month", "month", "month"),
            ("voluntary", "voluntary", "plain"),
            ("involuntary", "involuntary", "plain"),
            ("involuntary_share", "involuntary share", "ratio"),
        ),
    ),
    "dunning": (
        "Dunning: invoices with a failed payment, by month of the first failure",
        (
            ("month", "month", "month"),
            ("currency", "cur", "plain"),
            ("failed_invoices", "failed", "plain"),
            ("recovered_invoices", "recovered", "plain"),
            ("recovery_rate", "rate", "ratio"),
            ("recovered_cents", "recovered", "money"),
            ("median_days_to_recovery", "median days", "ratio"),
        ),
    ),
}


def as_json(
    live: str, configured: str, metrics: Metrics, compared: tuple[str, Metrics] | None
) -> str:
    document: dict[str, Any] = {"mrr_definition": live, "configured_definition": configured}
    document.update(metrics)
    if compared is not None:
        document["compared"] = {"mrr_definition": compared[0], **compared[1]}
    return json.dumps(document, indent=2)


def as_text(
    live: str, configured: str, metrics: Metrics, compared: tuple[str, Metrics] | None
) -> str:
    lines = [f"MRR definition: {live}"]
    if configured != live:
        lines[0] += f" (MRR_DEFINITION={configured} takes effect with `replay --swap`)"
    if not metrics["mrr"]:
        lines.append("no MRR yet: no subscription events have been processed")
    other = {_key(r): r for r in compared[1]["mrr"]} if compared else {}
    other_ltv = {_key(r): r for r in compared[1]["lifetime_value"]} if compared else {}
    ltv = {_key(r): r for r in metrics["lifetime_value"]}
    for row in metrics["mrr"]:
        lines += ["", _headline(row, ltv.get(_key(row)), live)]
        if compared is not None:
            lines.append(
                _headline(other.get(_key(row), row), other_ltv.get(_key(row)), compared[0])
            )
    if compared is not None:
        lines += ["", *_side_by_side(metrics["churn"], compared[1]["churn"], live, compared[0])]
    for section, (title, columns) in TABLES.items():
        rows = metrics[section]
        if rows:
            lines += ["", title, *_table(rows, columns)]
    return "\n".join(lines)


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["account_id"], row["livemode"], row["currency"])


def _headline(row: dict[str, Any], ltv: dict[str, Any] | None, definition: str) -> str:
    scope = f"{row['account_id'] or 'platform'} ({'live' if row['livemode'] else 'test'} mode)"
    value = ltv["ltv_cents"] if ltv else None
    return (
        f"{scope} {row['currency']} under {definition}, as of {row['as_of']}: "
        f"MRR {major_units(row['mrr_cents'])}  ARR {major_units(row['arr_cents'])}  "
        f"paying customers {row['paying_customers']}  "
        f"ARPA {_cell(row['arpa_cents'], 'money')}  "
        f"LTV {_cell(value, 'money') if value is not None else '— (no churn yet)'}"
    )


def _side_by_side(live: Rows, other: Rows, live_name: str, other_name: str) -> list[str]:
    theirs = {(*_key(r), r["month"]): r for r in other}
    rows = []
    for row in live:
        alt = theirs.get((*_key(row), row["month"]), {})
        rows.append(
            {
                "month": row["month"],
                "currency": row["currency"],
                "live": row["mrr_cents"],
                "other": alt.get("mrr_cents"),
                "live_churn": row["gross_mrr_churn_rate"],
                "other_churn": alt.get("gross_mrr_churn_rate"),
                "live_nrr": row["net_revenue_retention"],
                "other_nrr": alt.get("net_revenue_retention"),
            }
        )
    columns: list[Column] = [
        ("month", "month", "month"),
        ("currency", "cur", "plain"),
        ("live", f"MRR {live_name}", "money"),
        ("other", f"MRR {other_name}", "money"),
        ("live_churn", "gross churn", "ratio"),
        ("other_churn", "gross churn", "ratio"),
        ("live_nrr", "NRR", "ratio"),
        ("other_nrr", "NRR", "ratio"),
    ]
    return [f"MRR by month, {live_name} beside {other_name}", *_table(rows, columns)]


def _table(rows: Rows, columns: Sequence[Column]) -> list[str]:
    cells = [[_cell(row.get(key), kind) for key, _, kind in columns] for row in rows]
    widths = [
        max(len(header), *(len(line[i]) for line in cells))
        for i, (_, header, _) in enumerate(columns)
    ]
    header = "  ".join(h.rjust(w) for (_, h, _), w in zip(columns, widths, strict=True))
    body = ["  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    return [header, *body]


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "money":
        return major_units(int(value))
    if kind == "ratio":
        return f"{float(value):.4f}"
    if kind == "month":
        return str(value)[:7]
    return str(value)
