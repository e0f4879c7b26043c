"""`billing-ledger mrr`: the monthly MRR table with its movements, for people or (--json) machines.

Amounts are integer minor units in the database; the table shows them in major units with the
currency, the JSON keeps minor units.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import psycopg

KINDS = ("new", "expansion", "contraction", "churn", "reactivation")

QUERY = """
SELECT m.account_id, m.livemode, m.month, m.currency, m.mrr_cents, m.customers,
       coalesce(sum(v.amount_cents) FILTER (WHERE v.kind = 'new'), 0),
       coalesce(sum(v.amount_cents) FILTER (WHERE v.kind = 'expansion'), 0),
       coalesce(sum(v.amount_cents) FILTER (WHERE v.kind = 'contraction'), 0),
       coalesce(sum(v.amount_cents) FILTER (WHERE v.kind = 'churn'), 0),
       coalesce(sum(v.amount_cents) FILTER (WHERE v.kind = 'reactivation'), 0)
FROM billing.mrr_monthly m
LEFT JOIN billing.mrr_movements v ON v.account_id = m.account_id AND v.livemode = m.livemode
    AND v.currency = m.currency AND v.month = m.month
WHERE m.month >= %(start)s AND m.month <= %(end)s
    AND (%(currency)s::text IS NULL OR m.currency = %(currency)s)
    AND (%(account)s::text IS NULL OR m.account_id = %(account)s)
    AND (%(livemode)s::boolean IS NULL OR m.livemode = %(livemode)s)
GROUP BY m.account_id, m.livemode, m.month, m.currency, m.mrr_cents, m.customers
ORDER BY m.account_id, m.livemode DESC, m.currency, m.month
"""


@dataclass(frozen=True)
class MrrRow:
    account_id: str
    livemode: bool
    month: str
    currency: str
    mrr_cents: int
    customers: int
    new: int
    expansion: int
    contraction: int
    churn: int
    reactivation: int


def parse_month(text: str) -> date:
    """`2026-01` (or a full date) as the first day of that month."""
    year, month = text.split("-")[:2]
    return date(int(year), int(month), 1)


def mrr_rows(
    dsn: str,
    start: date = date.min,
    end: date = date.max,
    currency: str | None = None,
    account: str | None = None,
    livemode: bool | None = None,
) -> list[MrrRow]:
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "currency": currency.lower() if currency else None,
        "account": account,
        "livemode": livemode,
    }
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(QUERY, params).fetchall()
    return [
        MrrRow(account, live, month.isoformat()[:7], cur, *(int(amount) for amount in amounts))
        for account, live, month, cur, *amounts in rows
    ]


def render(rows: list[MrrRow], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(row) for row in rows], indent=2)
    if not rows:
        return "no MRR in this selection"
    header = f"{'month':<8} {'cur':<4} {'mrr':>12} {'cust':>6}" + "".join(
        f" {k:>12}" for k in KINDS
    )
    lines: list[str] = []
    scope: tuple[str, bool] | None = None
    for row in rows:
        if (row.account_id, row.livemode) != scope:
            scope = (row.account_id, row.livemode)
            account = row.account_id or "platform"
            lines += [
                "" if lines else "",
                f"{account} ({'live' if row.livemode else 'test'} mode)",
                header,
            ]
        amounts = (row.new, row.expansion, row.contraction, row.churn, row.reactivation)
        lines.append(
            f"{row.month:<8} {row.currency:<4} {major_units(row.mrr_cents):>12} {row.customers:>6}"
            + "".join(f" {major_units(a):>12}" for a in amounts)
        )
    return "\n".join(lines).strip("\n")


def major_units(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"
