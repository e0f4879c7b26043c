"""`billing-ledger ledger check`: the journal's invariants, verified against the database.

Each check returns the violations it finds as one-line descriptions naming what is wrong:
- every entry has lines and balances per currency;
- the trial balance sums to zero per account, mode and currency at every moment;
- the balances summary (`journal_balances`, kept by a trigger) equals the sums of the lines;
- a reversal points at an entry of the same source object and undoes it line for line;
- receivable per customer equals the `amount_remaining` of the customer's open invoices;
- revenue equals `total − tax` of finalized (open, paid, uncollectible) invoices plus succeeded
  payments without an invoice, and refunds equal the refunds standing in `billing.refunds`;
- the journal and the billing tables have projected the same domain events (the reconciliation
  compares the two, so a lag would show as differences that are not there).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from billing_ledger.domain.identity import stripe_uuid

Connection = psycopg.Connection[Any]
Key = tuple[str, bool, str]  # (account_id, livemode, currency)

UNBALANCED = """
SELECT e.source_object, e.transition, l.currency, sum(l.debit_cents - l.credit_cents)
FROM {s}.journal_entries e JOIN {s}.journal_lines l ON l.entry_id = e.id
GROUP BY e.id, e.source_object, e.transition, l.currency
HAVING sum(l.debit_cents - l.credit_cents) <> 0
ORDER BY 1, 2
"""
WITHOUT_LINES = """
SELECT e.source_object, e.transition FROM {s}.journal_entries e
WHERE NOT EXISTS (SELECT 1 FROM {s}.journal_lines l WHERE l.entry_id = e.id) ORDER BY 1, 2
"""
TRIAL_BALANCE = """
WITH moments AS (
    SELECT l.account_id, l.livemode, l.currency, e.occurred_at,
           sum(l.debit_cents - l.credit_cents) AS net
    FROM {s}.journal_lines l JOIN {s}.journal_entries e ON e.id = l.entry_id
    GROUP BY 1, 2, 3, 4
), running AS (
    SELECT *, sum(net) OVER (PARTITION BY account_id, livemode, currency ORDER BY occurred_at)
        AS balance
    FROM moments
)
SELECT account_id, livemode, currency, min(occurred_at), count(*) FROM running
WHERE balance <> 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
REVERSALS = """
SELECT e.source_object, e.transition, r.source_object, r.transition,
       (SELECT count(*) FROM (
            SELECT ledger_account, currency, customer_id, sum(debit_cents - credit_cents) AS net
            FROM {s}.journal_lines WHERE entry_id IN (e.id, r.id)
            GROUP BY 1, 2, 3) sums WHERE net <> 0)
FROM {s}.journal_entries e LEFT JOIN {s}.journal_entries r ON r.id = e.reversal_of
WHERE e.reversal_of IS NOT NULL ORDER BY 1, 2
"""
RECEIVABLES = """
SELECT account_id, livemode, currency, customer_id, sum(debit_cents - credit_cents)
FROM {s}.journal_lines WHERE ledger_account = 'accounts_receivable' GROUP BY 1, 2, 3, 4
"""
OPEN_INVOICES = """
SELECT account_id, livemode, currency, customer_id, sum(amount_remaining)
FROM {s}.invoices WHERE status = 'open' GROUP BY 1, 2, 3, 4
"""
BALANCE_OF = """
SELECT account_id, livemode, currency, %s * sum(debit_cents - credit_cents)
FROM {s}.journal_lines WHERE ledger_account = %s GROUP BY 1, 2, 3
"""
INVOICED_REVENUE = """
SELECT account_id, livemode, currency, sum(total - tax) FROM {s}.invoices
WHERE status IN ('open', 'paid', 'uncollectible') GROUP BY 1, 2, 3
UNION ALL
SELECT account_id, livemode, currency, sum(amount_received) FROM {s}.payment_transactions
WHERE invoice_id IS NULL AND status = 'succeeded' GROUP BY 1, 2, 3
"""
STANDING_REFUNDS = """
SELECT account_id, livemode, currency, sum(amount) FROM {s}.refunds
WHERE status IN ('pending', 'requires_action', 'succeeded') GROUP BY 1, 2, 3
"""
POSITIONS = "SELECT projection, position FROM {s}.projection_tracking"
LINE_SUMS = """
SELECT l.account_id, l.livemode, l.ledger_account, l.currency,
       date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date,
       sum(l.debit_cents)::bigint, sum(l.credit_cents)::bigint, count(*)
FROM {s}.journal_lines l JOIN {s}.journal_entries e ON e.id = l.entry_id
GROUP BY 1, 2, 3, 4, 5
"""
SUMMARY_OFF = f"""
SELECT 'summary', * FROM (SELECT * FROM {{s}}.journal_balances EXCEPT {LINE_SUMS}) a
UNION ALL
SELECT 'lines', * FROM ({LINE_SUMS} EXCEPT SELECT * FROM {{s}}.journal_balances) b
ORDER BY 2, 3, 4, 5, 6, 1
"""


def check_journal(conn: Connection, schema: str) -> list[str]:
    """Every violation of the journal's invariants, one line each (empty when all hold)."""
    checks: list[Callable[[Connection, sql.Identifier], list[str]]] = [
        _positions,
        _balanced,
        _trial_balance,
        _summary,
        _reversals,
        _receivables,
        _revenue_and_refunds,
    ]
    target = sql.Identifier(schema)
    return [violation for check in checks for violation in check(conn, target)]


def _rows(conn: Connection, query: str, s: sql.Identifier, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(sql.SQL(query).format(s=s), params).fetchall()


def _positions(conn: Connection, s: sql.Identifier) -> list[str]:
    positions = dict(_rows(conn, POSITIONS, s))
    journal, tables = positions.get("journal", 0), positions.get("billing_tables", 0)
    if journal == tables:
        return []
    return [
        f"projections out of step: journal at {journal}, billing_tables at {tables} "
        "(let both catch up, then check again)"
    ]


def _balanced(conn: Connection, s: sql.Identifier) -> list[str]:
    return [
        f"unbalanced entry {source} {transition}: debits - credits = {net} {currency}"
        for source, transition, currency, net in _rows(conn, UNBALANCED, s)
    ] + [
        f"entry without lines: {source} {transition}"
        for source, transition in _rows(conn, WITHOUT_LINES, s)
    ]


def _trial_balance(conn: Connection, s: sql.Identifier) -> list[str]:
    return [
        f"trial balance of {_who(account, live)} in {currency} is not zero at {n} moments, "
        f"first {since.isoformat()}"
        for account, live, currency, since, n in _rows(conn, TRIAL_BALANCE, s)
    ]


def _summary(conn: Connection, s: sql.Identifier) -> list[str]:
    return [
        f"balances summary of {_who(account, live)} differs from its lines: {ledger} "
        f"{currency} {month:%Y-%m} ({side}: debits {debits}, credits {credits}, {lines} lines)"
        for side, account, live, ledger, currency, month, debits, credits, lines in _rows(
            conn, SUMMARY_OFF, s
        )
    ]


def _reversals(conn: Connection, s: sql.Identifier) -> list[str]:
    violations = []
    for source, transition, reversed_source, reversed_transition, off in _rows(conn, REVERSALS, s):
        if reversed_source is None:
            violations.append(f"reversal {source} {transition} points at no entry")
        elif reversed_source != source:
            violations.append(
                f"reversal {source} {transition} points at another object's entry "
                f"{reversed_source} {reversed_transition}"
            )
        elif off:
            violations.append(
                f"reversal {source} {transition} does not undo {reversed_transition} exactly"
            )
    return violations


def _receivables(conn: Connection, s: sql.Identifier) -> list[str]:
    journal: Counter[tuple[str, bool, str, UUID | None]] = Counter()
    names: dict[tuple[str, bool, str, UUID | None], str] = {}
    for account, live, currency, customer, amount in _rows(conn, RECEIVABLES, s):
        key = (account, live, currency, stripe_uuid(account, live, customer) if customer else None)
        journal[key] += amount
        names[key] = customer or "no customer"
    invoices: Counter[tuple[str, bool, str, UUID | None]] = Counter(
        {
            (a, live, c, cus): int(amount)
            for a, live, c, cus, amount in _rows(conn, OPEN_INVOICES, s)
        }
    )
    return [
        f"receivable of {names.get(key, f'customer row {key[3]}')} ({_who(key[0], key[1])}, "
        f"{key[2]}) is {journal[key]} but its open invoices have {invoices[key]} remaining"
        for key in sorted(set(journal) | set(invoices), key=str)
        if journal[key] != invoices[key]
    ]


def _revenue_and_refunds(conn: Connection, s: sql.Identifier) -> list[str]:
    violations = []
    for account, sign, expected_query, what in (
        ("revenue", -1, INVOICED_REVENUE, "finalized invoices and payments without invoice say"),
        ("refunds", 1, STANDING_REFUNDS, "billing.refunds says"),
    ):
        journal = _by_key(_rows(conn, BALANCE_OF, s, sign, account))
        expected = _by_key(_rows(conn, expected_query, s))
        for key in sorted(set(journal) | set(expected)):
            if journal[key] != expected[key]:
                violations.append(
                    f"{account} of {_who(key[0], key[1])} in {key[2]} is {journal[key]} "
                    f"but {what} {expected[key]}"
                )
    return violations


def _by_key(rows: list[tuple[Any, ...]]) -> Counter[Key]:
    totals: Counter[Key] = Counter()
    for account, live, currency, amount in rows:
        totals[(account, live, currency)] += int(amount)
    return totals


def _who(account_id: str, livemode: bool) -> str:
    return f"{account_id or 'platform'} {'live' if livemode else 'test'}"
