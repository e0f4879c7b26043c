"""Applies the read schema's SQL migrations (schemas/migrations/*.sql) to a target schema.

Each file runs once, in name order, in its own transaction, recorded in
`{schema}.schema_migrations`. A transaction-level advisory lock makes concurrent starts safe.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

READ_SCHEMA = "billing"
MIGRATIONS_LOCK_KEY = 0x4D494752  # "MIGR"


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("billing_ledger.schemas") / "migrations"
    files = sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return files


def migrate(conn: psycopg.Connection[Any], schema: str = READ_SCHEMA) -> list[str]:
    """Bring `schema` up to date; returns the names of the migrations applied now."""
    applied_now: list[str] = []
    target = sql.Identifier(schema)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATIONS_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(target))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(target)
        )
        done = {
            row[0]
            for row in conn.execute(sql.SQL("SELECT name FROM {}.schema_migrations").format(target))
        }
        for name, text in migration_files():
            if name in done:
                continue
            conn.execute(text.replace("{schema}", target.as_string(conn)).encode())
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (name) VALUES (%s)").format(target),
                (name,),
            )
            applied_now.append(name)
    return applied_now
