"""What the summaries' statement triggers (migration 0014) cost the projector's writes.

    python -m benchmarks.summary_triggers [--batches 200] [--entries 50]

Posts `--batches` transactions of `--entries` journal entries (two lines each) into a freshly
migrated `billing` schema, the lines written as the journal projection writes them today (one
INSERT per row, psycopg's `executemany`) and as one multi-row INSERT ... SELECT unnest per
batch; each with the balances trigger enabled and disabled. The statement trigger fires once
per statement, so its cost follows statements, not rows.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from uuid import uuid4

import psycopg

from benchmarks.infra import conditions, fresh_database, postgres_server
from billing_ledger.projections.migrations import migrate

LINE = (
    "INSERT INTO billing.journal_lines (id, account_id, livemode, entry_id, ledger_account, "
    "customer_id, debit_cents, credit_cents, currency) VALUES (%s, '', true, %s, %s, 'cus_1', "
    "%s, %s, 'usd')"
)
LINES = (
    "INSERT INTO billing.journal_lines (id, account_id, livemode, entry_id, ledger_account, "
    "customer_id, debit_cents, credit_cents, currency) SELECT i, '', true, e, a, 'cus_1', d, c, "
    "'usd' FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::bigint[], %s::bigint[]) "
    "AS u(i, e, a, d, c)"
)
ENTRIES = (
    "INSERT INTO billing.journal_entries (id, account_id, livemode, occurred_at, kind, "
    "description, source_object, transition, stripe_event_id) SELECT e, '', true, t, 'k', 'd', "
    "e::text, 'finalized', 'evt' FROM unnest(%s::uuid[], %s::timestamptz[]) AS u(e, t)"
)


def post(conn: psycopg.Connection[object], batches: int, entries: int, multi_row: bool) -> float:
    started = time.perf_counter()
    for batch in range(batches):
        ids = [uuid4() for _ in range(entries)]
        at = [
            datetime.fromtimestamp(1_767_225_600 + 3600 * (batch + n), UTC) for n in range(entries)
        ]
        lines = [
            (uuid4(), entry, account, d, c)
            for entry in ids
            for account, d, c in (("accounts_receivable", 100, 0), ("revenue", 0, 100))
        ]
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(ENTRIES, (ids, at))
            if multi_row:
                cur.execute(LINES, [list(column) for column in zip(*lines, strict=True)])
            else:
                cur.executemany(LINE, lines)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()
    print(f"summary triggers benchmark  {conditions()}")
    rows = args.batches * args.entries * 2
    with postgres_server() as server, fresh_database(server) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn)
            for multi_row in (False, True):
                for enabled in (True, False, True):
                    state = "ENABLE" if enabled else "DISABLE"
                    conn.execute(
                        f"ALTER TABLE billing.journal_lines {state} TRIGGER journal_lines_summed"
                    )
                    seconds = post(conn, args.batches, args.entries, multi_row)
                    how = "one INSERT per batch" if multi_row else "one INSERT per line"
                    print(
                        f"  {how:<22} trigger {'on ' if enabled else 'off'}: {rows:,} lines in "
                        f"{seconds:6.2f}s ({rows / seconds:,.0f} lines/s)"
                    )
    print(f"done  {conditions()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
