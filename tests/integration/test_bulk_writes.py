"""projections/bulk.py: many rows in one statement give the rows row-by-row inserts give."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb

from billing_ledger.projections.bulk import BulkWriter

TABLE = """
CREATE TABLE bulk_test.items (
    id uuid PRIMARY KEY,
    name text,
    amount bigint NOT NULL,
    at timestamptz,
    doc jsonb,
    tags text[] NOT NULL
)
"""
COLUMNS = ("id", "name", "amount", "at", "doc", "tags")


def test_values_arrays_and_nulls_arrive_as_given(database_url: str) -> None:
    awkward = ['a "quoted" tag', "back\\slash", "comma, brace {}", None, ""]
    rows = [
        (uuid4(), "first", 1, datetime(2026, 1, 1, tzinfo=UTC), Jsonb({"k": [1, None]}), awkward),
        (uuid4(), None, 2**40, None, None, []),
    ]
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA bulk_test")
        cur.execute(TABLE)
        BulkWriter("bulk_test").write(cur, "items", COLUMNS, rows)
        stored = cur.execute(f"SELECT {', '.join(COLUMNS)} FROM bulk_test.items").fetchall()
    expected = [(r[0], r[1], r[2], r[3], r[4].obj if r[4] else None, r[5]) for r in rows]
    assert sorted(stored, key=lambda r: r[2]) == expected


def test_the_conflict_clause_applies_to_every_row(database_url: str) -> None:
    kept, replaced = uuid4(), uuid4()
    writer = BulkWriter("bulk_test")
    conflict = (
        "ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount "
        "WHERE items.amount < EXCLUDED.amount"
    )
    columns = ("id", "amount", "tags")
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA bulk_test")
        cur.execute(TABLE)
        writer.write(cur, "items", columns, [(kept, 5, []), (replaced, 1, [])])
        writer.write(cur, "items", columns, [(kept, 3, []), (replaced, 9, [])], conflict)
        writer.write(cur, "items", columns, [], conflict)  # nothing to write: no statement
        stored: dict[UUID, int] = dict(
            cur.execute("SELECT id, amount FROM bulk_test.items").fetchall()
        )
    assert stored == {kept: 5, replaced: 9}
