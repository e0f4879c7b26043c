"""Many rows into one table in one statement: `INSERT … SELECT * FROM unnest(arrays)`.

A batch's rows were written with `executemany`, which PostgreSQL runs as one execution of a
prepared statement per row (an executor start, a plan, an index descent, a result each). Sent
as one array per column instead, the rows are one statement: one execution, and the same
`ON CONFLICT` rules applied to every row. The arrays go in binary format (psycopg's text
format escapes every element in Python: a timestamp cost ~12 µs that way, ~1.3 µs in binary).
Their element types are the table's own column types, read from the catalog once per table.

The same statement serves live batches (tens of rows) and a rebuild's (thousands): there is
one way rows are written, whatever their number. A statement may not touch a row twice with
`ON CONFLICT DO UPDATE`; the projections already keep one row per key in memory (the latest
state wins) before they write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

Cursor = psycopg.Cursor[Any]

COLUMN_TYPES = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
"""


class BulkWriter:
    """Writes rows given as tuples into `{schema}.{table}` columns, one statement per call."""

    def __init__(self, schema: str) -> None:
        self._schema = schema
        self._types: dict[str, dict[str, str]] = {}
        self._statements: dict[tuple[str, tuple[str, ...], str], str] = {}
        # Columns of array type, sent as literals (unnest would flatten an array of arrays).
        self._array_columns: dict[tuple[str, tuple[str, ...], str], list[int]] = {}

    def write(
        self,
        cur: Cursor,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        conflict: str = "",
    ) -> None:
        """INSERT `rows` (each a value per column, in `columns`' order); `conflict` is the
        statement's `ON CONFLICT …` clause, if any, naming the stored row by the table's
        unqualified name and the new one `EXCLUDED`."""
        if not rows:
            return
        key = (table, tuple(columns), conflict)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statement(cur, table, tuple(columns), conflict)
            self._statements[key] = statement
            types = self._types[table]
            self._array_columns[key] = [
                n for n, column in enumerate(columns) if types[column].endswith("[]")
            ]
        arrays = [list(column) for column in zip(*rows, strict=True)]
        for n in self._array_columns[key]:
            arrays[n] = [_array_literal(value) for value in arrays[n]]
        cur.execute(statement, arrays)

    def _statement(self, cur: Cursor, table: str, columns: tuple[str, ...], conflict: str) -> str:
        types = self._types.get(table)
        if types is None:
            found = cur.execute(COLUMN_TYPES, (self._schema, table)).fetchall()
            types = {str(name): str(kind) for name, kind in found}
            if not types:
                raise LookupError(f"no table {self._schema}.{table}")
            self._types[table] = types
        ident = sql.Identifier
        target = sql.SQL("{}.{}").format(ident(self._schema), ident(table))
        names = [ident(f"c{n}") for n in range(len(columns))]
        arrays = sql.SQL(", ").join(
            sql.SQL("%b::text[]" if types[column].endswith("[]") else "%b::{}[]").format(
                sql.SQL(types[column])
            )
            for column in columns
        )
        values = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(name, sql.SQL(types[column]))
            if types[column].endswith("[]")
            else name
            for name, column in zip(names, columns, strict=True)
        )
        text = sql.SQL("INSERT INTO {} AS {} ({}) SELECT {} FROM unnest({}) AS u({}) {}").format(
            target,
            ident(table),
            sql.SQL(", ").join(ident(column) for column in columns),
            values,
            arrays,
            sql.SQL(", ").join(names),
            sql.SQL(conflict),
        )
        return text.as_string()


def _array_literal(values: Sequence[Any] | None) -> str | None:
    """A one-dimensional array's text form: each element quoted (its `str`), NULL for None."""
    if values is None:
        return None
    quoted = (
        "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values
    )
    return "{" + ",".join(quoted) + "}"
