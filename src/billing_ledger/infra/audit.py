"""The audit trail of operator actions: `billing.audit_log` (who, when, what, outcome).

The log of record already holds every Stripe event; this table holds what people did to the
system: secret checks, dead-letter retries, and (later) replays and schema swaps. It is
append-only twice over: the application's role is granted only SELECT and INSERT (see
`roles.create_roles`, where the table is owned by another role), and a trigger refuses UPDATE and
DELETE for whoever owns it when no separate role could be created.

It lives in the `billing` schema but outside the projection migrations, because it is not a
projection: it cannot be rebuilt from the log. A `replay --swap` moves the projections' tables
in and out of `billing` and leaves this one where it is (see projections/rebuild.py).
"""

from __future__ import annotations

import getpass
import os
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

AUDIT_LOCK_KEY = 0x4155_4449  # "AUDI": serialises concurrent first creations

CREATE_STATEMENTS = (
    "CREATE SCHEMA IF NOT EXISTS billing",
    """CREATE TABLE billing.audit_log (
        id bigserial PRIMARY KEY,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        outcome text NOT NULL
    )""",
    """CREATE OR REPLACE FUNCTION billing.audit_log_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
            RAISE EXCEPTION 'billing.audit_log is append-only';
        END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON billing.audit_log
        FOR EACH ROW EXECUTE FUNCTION billing.audit_log_refuse_change()""",
    "REVOKE UPDATE, DELETE, TRUNCATE ON billing.audit_log FROM PUBLIC",
)
INSERT = "INSERT INTO billing.audit_log (actor, action, detail, outcome) VALUES (%s, %s, %s, %s)"


def create_table(conn: psycopg.Connection[Any]) -> None:
    """Create `billing.audit_log` if it is missing; an existing one is left as it is.

    Existence is checked first so that a role that may only insert into a table created by
    another role (the normal case) can run this at every start.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
        found = conn.execute("SELECT to_regclass('billing.audit_log')").fetchone()
        if found is not None and found[0] is not None:
            return
        for statement in CREATE_STATEMENTS:
            conn.execute(statement)


def record(
    conn: psycopg.Connection[Any],
    action: str,
    outcome: str,
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append one operator action. `detail` must hold ids and counts, never secrets or bodies."""
    conn.execute(INSERT, (actor or current_actor(), action, Jsonb(detail or {}), outcome))


def current_actor() -> str:
    """Who is acting: `BILLING_LEDGER_ACTOR` (an API token's name) or the OS user."""
    named = os.environ.get("BILLING_LEDGER_ACTOR")
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return f"uid:{os.getuid()}"
