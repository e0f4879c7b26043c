"""Property: the summaries PostgreSQL keeps (migrations 0014 and 0015) equal the sums of their
rows after any sequence of batches, whichever way a batch is written (one statement per row,
one INSERT ... SELECT unnest, COPY; MRR's movements also deleted and updated), and the views
read from them answer what 0004's and 0011's did from the rows; and so do they under the real
projectors, through `replay --swap`.

Each example writes rows of a Connect account of its own, so examples share one database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_ledger import bootstrap
from billing_ledger.projections.journal import LINE_COLUMNS
from billing_ledger.projections.mrr import MOVEMENT_COLUMNS
from tests.integration.test_convergence import history
from tests.integration.test_journal import a_month_of_billing
from tests.integration.test_replay import replay
from tests.pipeline import Pipeline

Connection = psycopg.Connection[Any]
ACCOUNTS = itertools.count()
T = 1_767_225_600  # 2026-01-01: the examples straddle month ends
DAY = 86_400
WRITES = ("rows", "unnest", "copy")

# What the summaries replace: the sums over every row, as 0004's view and 0011's view read them.
JOURNAL_FROM_ROWS = """
SELECT l.ledger_account, l.currency, date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date,
       sum(l.debit_cents)::bigint, sum(l.credit_cents)::bigint, count(*)
FROM billing.journal_lines l JOIN billing.journal_entries e ON e.id = l.entry_id
WHERE l.account_id = %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
JOURNAL_SUMMARY = """
SELECT ledger_account, currency, month, debit_cents, credit_cents, lines
FROM billing.journal_balances WHERE account_id = %s ORDER BY 1, 2, 3
"""
TRIALS_FROM_ROWS = """
WITH trials AS (
    SELECT subscription_id,
           min(created) FILTER (WHERE status = 'trialing') AS started,
           max(created) FILTER (WHERE status = 'active') AS last_active
    FROM billing.mrr_points WHERE account_id = %s
    GROUP BY subscription_id HAVING bool_or(status = 'trialing')
), outcomes AS (
    SELECT t.started, coalesce(t.last_active >= t.started, false) AS converted,
           coalesce(s.status = 'trialing', false) AS still_trialing
    FROM trials t LEFT JOIN billing.subscriptions s ON s.id = t.subscription_id
)
SELECT date_trunc('month', to_timestamp(started) AT TIME ZONE 'UTC')::date AS trial_month,
       count(*), count(*) FILTER (WHERE converted), count(*) FILTER (WHERE still_trialing),
       round(count(*) FILTER (WHERE converted)::numeric / count(*), 6)
FROM outcomes GROUP BY 1 ORDER BY 1
"""
BALANCES_FROM_ROWS = """
SELECT l.ledger_account, l.currency, sum(l.debit_cents - l.credit_cents)::bigint
FROM billing.journal_lines l JOIN billing.journal_entries e ON e.id = l.entry_id
WHERE l.account_id = %(account)s AND e.occurred_at <= coalesce(%(as_of)s::timestamptz, 'infinity')
GROUP BY 1, 2 ORDER BY 1, 2
"""
BALANCES_VIEW = """
SELECT ledger_account, currency, balance_cents FROM billing.account_balances
WHERE account_id = %(account)s AND %(as_of)s::timestamptz IS NULL
UNION ALL
SELECT ledger_account, currency, balance_cents FROM billing.trial_balance(%(as_of)s::timestamptz)
WHERE account_id = %(account)s AND %(as_of)s::timestamptz IS NOT NULL ORDER BY 1, 2
"""
# As of moments around a month's end, within one, and none (the balances now).
MOMENTS = (None, T - 1, T + 31 * DAY - 1, T + 31 * DAY, T + 40 * DAY + 7, T + 90 * DAY)
TRIALS_VIEW = """
SELECT trial_month, trials, converted, still_trialing, conversion_rate
FROM billing.trial_conversion_monthly WHERE account_id = %s ORDER BY 1
"""
MOVEMENTS_FROM_ROWS = """
SELECT currency, month, sum(amount_cents)::bigint,
       sum(CASE WHEN kind IN ('new', 'reactivation') THEN 1 WHEN kind = 'churn' THEN -1
                ELSE 0 END)::bigint, count(*)
FROM billing.mrr_movements WHERE account_id = %s GROUP BY 1, 2 ORDER BY 1, 2
"""
MOVEMENT_TOTALS = """
SELECT currency, month, amount_cents, customers, movements
FROM billing.mrr_movement_totals WHERE account_id = %s ORDER BY 1, 2
"""
LEDGER = ("accounts_receivable", "revenue", "stripe_balance", "refunds")
KINDS = ("new", "expansion", "contraction", "churn", "reactivation")

entries = st.lists(
    st.tuples(
        st.integers(0, 70 * DAY),  # occurred, seconds after T
        st.sampled_from(LEDGER),
        st.sampled_from(LEDGER),
        st.sampled_from(("usd", "eur")),
        st.integers(1, 10**9),
    ),
    min_size=1,
    max_size=4,
)
points = st.lists(
    st.tuples(
        st.integers(0, 3),  # subscription
        st.sampled_from(("trialing", "active", "past_due", "canceled", "incomplete")),
        st.integers(0, 70 * DAY),
    ),
    min_size=1,
    max_size=5,
)
statuses = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(("trialing", "active", "canceled"))),
    min_size=1,
    max_size=3,
)
# Customers whose movements are replaced (deleted, then written anew, as MRR recomputes
# them), and customers whose movements are changed in place or only deleted.
movements = st.tuples(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # customer
            st.integers(0, 3),  # month
            st.sampled_from(("usd", "eur")),
            st.sampled_from(KINDS),
            st.integers(-(10**9), 10**9),
        ),
        max_size=6,
    ),
    st.lists(st.tuples(st.integers(0, 3), st.integers(-100, 100)), max_size=2),
    st.lists(st.integers(0, 3), max_size=1),
)
batches = st.lists(
    st.one_of(
        st.tuples(st.just("movements"), st.sampled_from(WRITES), movements),
        st.tuples(st.just("journal"), st.sampled_from(WRITES), entries),
        st.tuples(st.just("points"), st.sampled_from(WRITES), points),
        st.tuples(st.just("statuses"), st.just("rows"), statuses),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture
def conn(database_url: str) -> Iterator[Connection]:
    with psycopg.connect(database_url, autocommit=True) as opened:
        with opened.transaction():
            bootstrap.prepare_live_schemas(opened)
        yield opened


def _write(
    conn: Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]], how: str
) -> None:
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    if how == "rows":
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO billing.{table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                rows,
            )
    elif how == "unnest":
        # One statement for the batch: each column as a text array, cast back to its type.
        types = conn.execute(
            "SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.n) "
            "FROM unnest(%s::text[]) WITH ORDINALITY k(name, n) JOIN pg_attribute a "
            "ON a.attrelid = %s::regclass AND a.attname = k.name",
            (columns, f"billing.{table}"),
        ).fetchone()
        assert types is not None
        arrays = [[str(value) for value in column] for column in zip(*rows, strict=True)]
        texts = ", ".join(["%s::text[]"] * len(columns))
        values = ", ".join(f"u.c{n}::{t}" for n, t in enumerate(types[0]))
        labels = ", ".join(f"c{n}" for n in range(len(columns)))
        conn.execute(
            f"INSERT INTO billing.{table} ({names}) SELECT {values} "
            f"FROM unnest({texts}) AS u({labels})",
            arrays,
        )
    else:
        with conn.cursor().copy(f"COPY billing.{table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def subscription(account: str, number: int) -> UUID:
    return uuid5(UUID(int=0), f"{account}:sub_{number}")


def _journal(conn: Connection, account: str, how: str, drawn: list[Any], batch: int) -> None:
    rows_e, rows_l = [], []
    for n, (occurred, debit, credit, currency, amount) in enumerate(drawn):
        entry = uuid5(UUID(int=0), f"{account}:entry:{batch}:{n}")
        at = datetime.fromtimestamp(T + occurred, UTC)
        rows_e.append((entry, account, False, at, "k", "d", f"in_{batch}_{n}", "t", "evt"))
        for side, ledger in (("debit", debit), ("credit", credit)):
            line = uuid5(UUID(int=0), f"{entry}:{side}")
            d, c = (amount, 0) if side == "debit" else (0, amount)
            rows_l.append((line, account, False, entry, ledger, "cus_1", d, c, currency))
    entry_columns = [
        "id",
        "account_id",
        "livemode",
        "occurred_at",
        "kind",
        "description",
        "source_object",
        "transition",
        "stripe_event_id",
    ]
    _write(conn, "journal_entries", entry_columns, rows_e, how)
    if how == "rows":  # the smallest statements the balance check allows: one entry's lines
        for debit_line, credit_line in zip(rows_l[::2], rows_l[1::2], strict=True):
            _write(conn, "journal_lines", list(LINE_COLUMNS), [debit_line, credit_line], "unnest")
    else:
        _write(conn, "journal_lines", list(LINE_COLUMNS), rows_l, how)


def _points(conn: Connection, account: str, how: str, drawn: list[Any], batch: int) -> None:
    rows = [
        (
            subscription(account, sub),
            f"evt_{batch}_{n}",
            account,
            False,
            "cus_1",
            T + created,
            status,
            "{}",
            "{}",
            "{}",
            "{}",
        )
        for n, (sub, status, created) in enumerate(drawn)
    ]
    _write(
        conn,
        "mrr_points",
        [
            "subscription_id",
            "stripe_event_id",
            "account_id",
            "livemode",
            "customer_id",
            "created",
            "status",
            "attributes",
            "previous_attributes",
            "state",
            "discount_ids",
        ],
        rows,
        how,
    )


def _movements(conn: Connection, account: str, how: str, drawn: Any) -> None:
    replaced, changed, deleted = drawn
    rows = {
        (currency, month, customer): (
            account,
            False,
            f"2026-0{month + 1}-01",
            currency,
            f"cus_{customer}",
            kind,
            amount,
        )
        for customer, month, currency, kind, amount in replaced
    }
    customers = sorted(
        {f"cus_{customer}" for customer, *_ in replaced}
        | {f"cus_{customer}" for customer in deleted}
    )
    conn.execute(
        "DELETE FROM billing.mrr_movements WHERE account_id = %s AND customer_id = ANY(%s)",
        (account, customers),
    )
    if rows:
        _write(conn, "mrr_movements", list(MOVEMENT_COLUMNS), list(rows.values()), how)
    for customer, change in changed:
        conn.execute(
            "UPDATE billing.mrr_movements SET amount_cents = amount_cents + %s, "
            "kind = CASE WHEN %s > 0 THEN 'expansion' ELSE kind END "
            "WHERE account_id = %s AND customer_id = %s",
            (change, change, account, f"cus_{customer}"),
        )


def _statuses(conn: Connection, account: str, drawn: list[Any]) -> None:
    with conn.cursor() as cur:
        for sub, status in drawn:
            cur.execute(
                "INSERT INTO billing.subscriptions (id, account_id, livemode, "
                "stripe_subscription_id, customer_id, status, cancel_at_period_end, "
                "created_at, updated_at) VALUES (%s, %s, false, %s, %s, %s, false, now(), now()) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status",
                (subscription(account, sub), account, f"sub_{sub}", UUID(int=1), status),
            )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches)
def test_the_summaries_equal_the_sums_of_their_rows_after_any_batches(
    conn: Connection, drawn: list[Any]
) -> None:
    account = f"acct_summary{next(ACCOUNTS)}"
    for batch, (kind, how, rows) in enumerate(drawn):
        with conn.transaction():
            if kind == "journal":
                _journal(conn, account, how, rows, batch)
            elif kind == "points":
                _points(conn, account, how, rows, batch)
            elif kind == "movements":
                _movements(conn, account, how, rows)
            else:
                _statuses(conn, account, rows)
        assert summaries(conn, account) == sums(conn, account)


def summaries(conn: Connection, account: str) -> list[list[Any]]:
    return [
        conn.execute(JOURNAL_SUMMARY, (account,)).fetchall(),
        conn.execute(TRIALS_VIEW, (account,)).fetchall(),
        conn.execute(MOVEMENT_TOTALS, (account,)).fetchall(),
        *(conn.execute(BALANCES_VIEW, _as_of(account, m)).fetchall() for m in MOMENTS),
    ]


def sums(conn: Connection, account: str) -> list[list[Any]]:
    return [
        conn.execute(JOURNAL_FROM_ROWS, (account,)).fetchall(),
        conn.execute(TRIALS_FROM_ROWS, (account,)).fetchall(),
        conn.execute(MOVEMENTS_FROM_ROWS, (account,)).fetchall(),
        *(conn.execute(BALANCES_FROM_ROWS, _as_of(account, m)).fetchall() for m in MOMENTS),
    ]


def _as_of(account: str, moment: int | None) -> dict[str, Any]:
    at = None if moment is None else datetime.fromtimestamp(moment, UTC)
    return {"account": account, "as_of": at}


def test_the_projectors_batches_a_rebuild_and_a_swap_keep_the_summaries(
    database_url: str,
) -> None:
    """The real projectors, batch after batch; then `replay --swap` (the rebuilt schema's
    triggers, moved into `billing`) and more batches after it."""
    pipeline = Pipeline(database_url)
    try:
        documents = history() + a_month_of_billing()
        for chunk in (documents[:4], documents[4:9], documents[9:]):
            for document in chunk:
                pipeline.deliver(document)
            pipeline.process_all()
            with psycopg.connect(pipeline.dsn) as conn:
                assert summaries(conn, "") == sums(conn, "")
        with psycopg.connect(pipeline.dsn) as conn:
            journal, trials, movement_totals, *_ = summaries(conn, "")
        assert journal and trials and movement_totals  # entries, a trial, MRR movements
        result = replay(pipeline.dsn, "--swap")
        assert result.returncode == 0, result.stdout + result.stderr
        for document in history(account="acct_AfterSwap"):
            pipeline.deliver(document)
        pipeline.process_all()
        with psycopg.connect(pipeline.dsn) as conn:
            assert summaries(conn, "") == sums(conn, "")
            assert summaries(conn, "acct_AfterSwap") == sums(conn, "acct_AfterSwap")
            assert summaries(conn, "acct_AfterSwap")[1]  # the trial, counted after the swap
    finally:
        pipeline.close()
