"""Database roles: the application's own non-superuser role and the finance reader.

    billing_ledger_app  LOGIN; owns the `eventlog`, `eventstore`, `billing` and `ops` schemas
                        and what it creates in them; may only SELECT and INSERT the log of record
                        (`eventlog.stripe_events`, plus MAINTAIN for its append lock) and the
                        audit trail (`billing.audit_log`), both owned by the bootstrapping role.
    billing_reader      LOGIN; SELECT on every table of schema `billing`, now and later
                        (default privileges); no access to `eventlog`, `eventstore` or `ops`
                        (the command record and the API tokens). The app role is a member,
                        so that the API's finance reads run as it (`SET LOCAL ROLE`).

`create_roles` runs as a superuser: `up` and `process` do it on the embedded server, whose local
connections are trusted. With DATABASE_URL, the DBA runs the equivalent SQL (README) and
`ensure_reader` creates the reader if the connecting role may.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_ledger.infra import audit

APP_ROLE = "billing_ledger_app"
READER_ROLE = "billing_reader"
APP_SCHEMAS = ("eventlog", "eventstore", "billing", "ops")
ROLES_LOCK_KEY = 0x524F_4C45  # "ROLE"
# Created by the bootstrapping role, so the app cannot change or drop them.
PROTECTED = (("eventlog", "stripe_events"), ("billing", "audit_log"))

log = logging.getLogger(__name__)


def create_roles(superuser_dsn: str) -> str:
    """Create both roles and their grants (idempotent); return the DSN of the app role.

    The log of record's table must exist already, created by the superuser (see
    `bootstrap.app_role_dsn`), so that the app role may only read and append it.
    """
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ROLES_LOCK_KEY,))
        app = sql.Identifier(APP_ROLE)
        for role in (APP_ROLE, READER_ROLE):
            _create_role(conn, role)
        database = sql.Identifier(conn.info.dbname)
        conn.execute(sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(database, app))
        for schema in APP_SCHEMAS:
            target = sql.Identifier(schema)
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(target))
            conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(target, app))
        audit.create_table(conn)
        _hand_over_existing_tables(conn)
        for schema, table in PROTECTED:
            target = sql.Identifier(schema, table)
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(target, app))
            sequence = sql.Identifier(schema, f"{table}_{_serial(schema)}_seq")
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sequence, app))
        # The Postgres log's append takes an EXCLUSIVE lock (see eventlog/postgres.py), which
        # PostgreSQL 17+ allows with MAINTAIN instead of UPDATE/DELETE/TRUNCATE.
        conn.execute(sql.SQL("GRANT MAINTAIN ON eventlog.stripe_events TO {}").format(app))
        grant_reader(conn, "billing", owner=APP_ROLE)
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(READER_ROLE), app))
        conn.execute("SELECT pg_advisory_unlock(%s)", (ROLES_LOCK_KEY,))
    params = conninfo_to_dict(superuser_dsn)
    params["user"] = APP_ROLE
    params.pop("password", None)
    return make_conninfo(**params)  # type: ignore[arg-type]


def grant_reader(conn: psycopg.Connection[Any], schema: str, owner: str | None = None) -> None:
    """Let `billing_reader` read every table of `schema`, including tables `owner` creates later.

    A schema swapped in for `billing` (replay --swap) must be granted again with this.
    """
    target = sql.Identifier(schema)
    reader = sql.Identifier(READER_ROLE)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(target, reader))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(target, reader))
    creator = sql.Identifier(owner) if owner else sql.SQL("CURRENT_USER")
    conn.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
        ).format(creator, target, reader)
    )


def ensure_reader(dsn: str) -> bool:
    """With DATABASE_URL: create and grant `billing_reader` if this role may; False if not."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (ROLES_LOCK_KEY,))
            _create_role(conn, READER_ROLE)
            grant_reader(conn, "billing")
            _join_reader(conn)
            conn.execute("SELECT pg_advisory_unlock(%s)", (ROLES_LOCK_KEY,))
            # A GRANT without the right only warns ("no privileges were granted"): check.
            granted = conn.execute(
                "SELECT has_schema_privilege(%s, 'billing', 'USAGE')", (READER_ROLE,)
            ).fetchone()
            if granted is None or not granted[0]:
                raise psycopg.errors.InsufficientPrivilege("billing_reader not granted")
    except psycopg.errors.InsufficientPrivilege:
        log.warning(
            "cannot create or grant the billing_reader role with this DATABASE_URL; "
            "ask the DBA to run the SQL in the README (Roles)"
        )
        return False
    return True


def _join_reader(conn: psycopg.Connection[Any]) -> None:
    """Make the connecting role a member of `billing_reader` (the API reads as it), if it may."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(READER_ROLE)))
    except psycopg.errors.InsufficientPrivilege:
        log.warning(
            "cannot make this DATABASE_URL role a member of billing_reader: the API's finance "
            "reads answer 503 until the DBA runs GRANT billing_reader TO <that role>"
        )


def _create_role(conn: psycopg.Connection[Any], role: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if exists:
        return
    try:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    except psycopg.errors.DuplicateObject:
        pass  # created concurrently by another database's bootstrap


def _hand_over_existing_tables(conn: psycopg.Connection[Any]) -> None:
    """Tables created by the superuser before roles existed become the app's (except PROTECTED)."""
    rows = conn.execute(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname = ANY(%s) AND tableowner <> %s",
        (list(APP_SCHEMAS), APP_ROLE),
    ).fetchall()
    for schema, table in rows:
        if (schema, table) not in PROTECTED:
            conn.execute(
                sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                    sql.Identifier(schema, table), sql.Identifier(APP_ROLE)
                )
            )


def _serial(schema: str) -> str:
    return "position" if schema == "eventlog" else "id"
