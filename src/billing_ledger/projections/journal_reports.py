"""What `billing-ledger ledger balances|entries|check` print, read from the journal tables."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import sql

from billing_ledger.errors import ConfigurationError
from billing_ledger.projections.journal_checks import check_journal

Connection = psycopg.Connection[Any]

BALANCES = """
SELECT account_id, livemode, ledger_account, currency, balance_cents FROM {s}.account_balances
WHERE balance_cents <> 0 ORDER BY 1, 2, 4, 3
"""
TRIAL_BALANCE = """
SELECT account_id, livemode, ledger_account, currency, balance_cents FROM {s}.trial_balance(%s)
WHERE balance_cents <> 0 ORDER BY 1, 2, 4, 3
"""
CUSTOMER_LINES = """
SELECT e.occurred_at, e.account_id, e.livemode, e.kind, e.source_object, e.transition,
       e.stripe_event_id, e.description, l.ledger_account, l.debit_cents, l.credit_cents,
       l.currency
FROM {s}.journal_entries e JOIN {s}.journal_lines l ON l.entry_id = e.id
WHERE l.customer_id = %s
ORDER BY e.occurred_at, e.source_object, e.transition, l.debit_cents DESC, l.ledger_account
"""


def end_of(value: str) -> datetime:
    """`--as-of`: a date means the end of that day (UTC); a time without zone is UTC."""
    try:
        if "T" not in value and " " not in value:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(
                microseconds=1
            )
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"--as-of {value!r} is not an ISO date or date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def print_balances(conn: Connection, schema: str, as_of: datetime | None) -> int:
    """Each account's balance (debits − credits), then the trial balance's sum per currency."""
    s = sql.Identifier(schema)
    if as_of is None:
        rows = conn.execute(sql.SQL(BALANCES).format(s=s)).fetchall()
    else:
        rows = conn.execute(sql.SQL(TRIAL_BALANCE).format(s=s), (as_of,)).fetchall()
    print(f"balances as of {as_of.isoformat() if as_of else 'now'} (debits - credits, minor units)")
    print(f"{'account':<24} {'mode':<5} {'ledger account':<20} {'currency':<8} {'balance':>14}")
    totals: Counter[tuple[str, bool, str]] = Counter()
    for account, live, ledger_account, currency, balance in rows:
        print(
            f"{account or 'platform':<24} {_mode(live):<5} {ledger_account:<20} "
            f"{currency:<8} {balance:>14}"
        )
        totals[(account, live, currency)] += balance
    for (account, live, currency), total in sorted(totals.items()):
        print(
            f"{account or 'platform':<24} {_mode(live):<5} {'(trial balance)':<20} "
            f"{currency:<8} {total:>14}"
        )
    return 0


def print_customer_entries(conn: Connection, schema: str, customer_id: str) -> int:
    """Every entry with a line for `customer_id`, oldest first, with its lines."""
    rows = conn.execute(
        sql.SQL(CUSTOMER_LINES).format(s=sql.Identifier(schema)), (customer_id,)
    ).fetchall()
    if not rows:
        print(f"no journal entries for {customer_id}")
        return 0
    current = None
    for at, account, live, kind, source, transition, event_id, text, ledger, dr, cr, cur in rows:
        if (account, live, source, transition) != current:
            current = (account, live, source, transition)
            print(
                f"{at.isoformat()}  {kind}  {source} {transition}  ({event_id}, "
                f"{account or 'platform'} {_mode(live)})  {text}"
            )
        side = f"Dr {dr:>10}" if dr else f"{'':>14}Cr {cr:>10}"
        print(f"    {ledger:<20} {side} {cur}")
    return 0


def print_check(conn: Connection, schema: str) -> int:
    """Exit 0 when every invariant holds; else 1, with one line per violation."""
    violations = check_journal(conn, schema)
    for violation in violations:
        print(f"violation: {violation}")
    if violations:
        print(f"ledger check failed: {len(violations)} violation(s)")
        return 1
    (entries,) = conn.execute(
        sql.SQL("SELECT count(*) FROM {}.journal_entries").format(sql.Identifier(schema))
    ).fetchone() or (0,)
    print(
        f"ledger check ok: {entries} entries balance, trial balance zero at every moment, "
        "receivables, revenue and refunds reconcile"
    )
    return 0


def _mode(livemode: bool) -> str:
    return "live" if livemode else "test"
