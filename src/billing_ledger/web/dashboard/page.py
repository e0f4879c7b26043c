"""From the figures to what the page shows: formatted tiles and tables, the charts' data (one
JSON document the page's own script reads), and for every figure the read API's URL of the
rows behind it.

Each URL is a list of the read API (`/api/v1/…`) filtered to the figure's account, mode,
currency and month; the dashboard session's cookie is accepted there for GETs (`api.py`), so a
click from the page shows the rows without a bearer token.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from billing_ledger.web.api import API_PREFIX
from billing_ledger.web.dashboard.figures import Figures
from billing_ledger.web.pages.money import ZERO_DECIMAL, display_amount

KINDS = ("new", "expansion", "reactivation", "contraction", "churn")
RATES = (
    ("customer_churn_rate", "Customer churn"),
    ("gross_mrr_churn_rate", "Gross MRR churn"),
    ("net_revenue_retention", "Net revenue retention"),
    ("gross_revenue_retention", "Gross revenue retention"),
)


def money(cents: float | None, currency: str) -> str:
    """Minor units as text; the views' sums arrive as numbers (`metrics.read` gives a
    numeric as a float), whole by construction."""
    if cents is None:
        return "—"
    cents = int(cents)
    shown = display_amount(abs(cents), currency)
    return f"−{shown}" if cents < 0 else shown


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def month_of(value: str) -> str:
    """`2026-03-01` (a view's month) → `2026-03` (the read API's)."""
    return value[:7]


def rows_url(
    path: str, figures: Figures, more: dict[str, str] | None = None, currency: bool = True
) -> str:
    """The read API's list at `path` for the figures' account and mode (and currency)."""
    params: dict[str, str] = {
        "account": figures.view.account,
        "livemode": "true" if figures.view.livemode else "false",
    }
    if currency and figures.currency:
        params["currency"] = figures.currency
    params.update(more or {})
    return f"{API_PREFIX}{path}?{urlencode(params)}"


def month_span(month: str) -> dict[str, str]:
    """`since`/`until` of a month (`2026-03`), for lists filtered by creation time."""
    first = date.fromisoformat(month + "-01")
    following = (first + timedelta(days=32)).replace(day=1)
    return {"since": first.isoformat(), "until": following.isoformat()}


def context(figures: Figures) -> dict[str, Any]:
    """The template's context (and, under `chart_data`, the charts' JSON)."""
    currency = figures.currency or ""
    months = figures.sections.get("churn", [])
    current = figures.current
    mrr_rows = [
        {
            "month": month_of(r["month"]),
            "mrr": money(r["mrr_cents"], currency),
            "arr": money(12 * r["mrr_cents"], currency),
            "customers": r["customers"],
            "moves": [money(r[f"{k}_cents"], currency) for k in KINDS],
            "rates": [percent(r[name]) for name, _ in RATES],
            "mrr_url": rows_url("/mrr", figures, _month(r)),
            "movements_url": rows_url("/mrr/movements", figures, _month(r)),
        }
        for r in months
    ]
    trials = [
        {
            **r,
            "month": month_of(r["trial_month"]),
            "rate": percent(r["conversion_rate"]),
            "url": rows_url(
                "/subscriptions", figures, month_span(month_of(r["trial_month"])), currency=False
            ),
        }
        for r in figures.sections.get("trials", [])
    ]
    conversion = [
        {
            **r,
            "month": month_of(r["month"]),
            "rate": percent(r["conversion_rate"]),
            "url": rows_url("/payments", figures, month_span(month_of(r["month"])), currency=False),
        }
        for r in figures.sections.get("payment_conversion", [])
    ]
    dunning = [
        {
            **r,
            "month": month_of(r["month"]),
            "rate": percent(r["recovery_rate"]),
            "failed": money(r["failed_cents"], currency),
            "recovered": money(r["recovered_cents"], currency),
            "url": rows_url("/invoices", figures, month_span(month_of(r["month"]))),
        }
        for r in figures.sections.get("dunning", [])
    ]
    success = [
        {**r, "rate": percent(r["success_rate"])}
        for r in figures.sections.get("payment_success", [])
    ]
    failed_url = rows_url("/payments", figures, {"status": "requires_payment_method"})
    failed = [{**r, "shown_amount": money(r["amount"], r["currency"])} for r in figures.failed]
    balances = [{**r, "shown": money(r["balance_cents"], currency)} for r in figures.balances]
    receivables = figures.receivables
    return {
        "figures": figures,
        "currency": currency,
        "current": current,
        "tiles": _tiles(current, currency),
        "mrr_rows": mrr_rows,
        "kinds": KINDS,
        "rates": RATES,
        "trials": trials,
        "conversion": conversion,
        "dunning": dunning,
        "success": success,
        "failed": failed,
        "failed_total": figures.failed_total,
        "failed_url": failed_url,
        "failed_invoices_url": rows_url("/invoices", figures, {"status": "open"}),
        "receivables": {
            "invoices": receivables.get("invoices", 0),
            "open": money(receivables.get("open_cents", 0), currency),
            "open_cents": receivables.get("open_cents", 0),
            "oldest_due": receivables.get("oldest_due"),
            "url": rows_url("/invoices", figures, {"status": "open"}),
        },
        "balances": balances,
        "balances_total": money(sum(r["balance_cents"] for r in figures.balances), currency),
        "balances_url": rows_url("/journal/balances", figures),
        "chart_data": chart_data(figures),
    }


def _month(row: dict[str, Any]) -> dict[str, str]:
    month = month_of(row["month"])
    return {"from": month, "to": month}


def _tiles(current: dict[str, Any] | None, currency: str) -> list[dict[str, Any]]:
    if current is None:
        return []
    return [
        {
            "id": "mrr",
            "label": "MRR",
            "value": money(current["mrr_cents"], currency),
            "raw": current["mrr_cents"],
        },
        {
            "id": "arr",
            "label": "ARR",
            "value": money(current["arr_cents"], currency),
            "raw": current["arr_cents"],
        },
        {
            "id": "paying-customers",
            "label": "Paying customers",
            "value": str(current["paying_customers"]),
            "raw": current["paying_customers"],
        },
        {
            "id": "arpa",
            "label": "ARPA",
            "value": money(current["arpa_cents"], currency),
            "raw": current["arpa_cents"],
        },
    ]


def chart_data(figures: Figures) -> dict[str, Any]:
    """What the charts draw: amounts in minor units, rates as fractions, a URL per point."""
    currency = figures.currency or ""
    months = figures.sections.get("churn", [])
    trials = figures.sections.get("trials", [])
    conversion = figures.sections.get("payment_conversion", [])
    dunning = figures.sections.get("dunning", [])
    return {
        "currency": currency,
        "decimals": 0 if currency in ZERO_DECIMAL else 2,
        "months": [month_of(r["month"]) for r in months],
        "mrr": [r["mrr_cents"] for r in months],
        "arr": [12 * r["mrr_cents"] for r in months],
        "start_mrr": [r["start_mrr_cents"] for r in months],
        "movements": {k: [r[f"{k}_cents"] for r in months] for k in KINDS},
        "rates": {name: [r[name] for r in months] for name, _ in RATES},
        "rate_labels": dict(RATES),
        "links": {
            "mrr": [rows_url("/mrr", figures, _month(r)) for r in months],
            "movements": [rows_url("/mrr/movements", figures, _month(r)) for r in months],
        },
        "trials": {
            "months": [month_of(r["trial_month"]) for r in trials],
            "rate": [r["conversion_rate"] for r in trials],
            "links": [
                rows_url(
                    "/subscriptions",
                    figures,
                    month_span(month_of(r["trial_month"])),
                    currency=False,
                )
                for r in trials
            ],
        },
        "payments": {
            "months": [month_of(r["month"]) for r in conversion],
            "rate": [r["conversion_rate"] for r in conversion],
            "links": [
                rows_url("/payments", figures, month_span(month_of(r["month"])), currency=False)
                for r in conversion
            ],
        },
        "dunning": {
            "months": [month_of(r["month"]) for r in dunning],
            "rate": [r["recovery_rate"] for r in dunning],
            "links": [
                rows_url("/invoices", figures, month_span(month_of(r["month"]))) for r in dunning
            ],
        },
    }


__all__ = ["chart_data", "context", "money", "percent", "rows_url"]
