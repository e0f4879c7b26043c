"""Least privilege against a real server: the app role, the finance reader, the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_ledger import bootstrap
from billing_ledger.infra import audit, roles
from billing_ledger.projections.metrics import SECTIONS
from billing_ledger.stripe_api.client import StripeGateway
from billing_ledger.stripe_api.commands import CommandRecord
from billing_ledger.web.tokens import TokenStore
from tests.pipeline import Pipeline
from tests.support.stripe import customer, event
from tests.support.webhooks import body_of


def as_role(dsn: str, role: str) -> str:
    params = conninfo_to_dict(dsn)
    params["user"] = role
    return make_conninfo(**params)  # type: ignore[arg-type]


def run(dsn: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def app_dsn(database_url: str) -> Iterator[str]:
    dsn = bootstrap.app_role_dsn(database_url)
    pipeline = Pipeline(dsn)  # migrations, log, event store, workers' tables: all as the app
    pipeline.append(body_of(event("customer.created", customer("cus_Role"))))
    pipeline.process_all()
    pipeline.close()
    yield dsn


def test_the_app_role_is_not_a_superuser(app_dsn: str) -> None:
    assert run(
        app_dsn, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
    ) == [(roles.APP_ROLE, False)]


def test_the_app_may_read_as_the_reader_and_only_as_it_within_a_transaction(app_dsn: str) -> None:
    with psycopg.connect(app_dsn) as conn:
        conn.execute("SET LOCAL ROLE billing_reader")
        assert conn.execute("SELECT current_user").fetchone() == (roles.READER_ROLE,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM eventlog.stripe_events")
    assert run(app_dsn, "SELECT current_user") == [(roles.APP_ROLE,)]


def test_bootstrap_is_idempotent(database_url: str, app_dsn: str) -> None:
    assert bootstrap.app_role_dsn(database_url) == app_dsn
    assert run(app_dsn, "SELECT stripe_customer_id FROM billing.stripe_customers") == [
        ("cus_Role",)
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE billing.audit_log SET outcome = 'forged'",
        "DELETE FROM billing.audit_log",
        "TRUNCATE billing.audit_log",
        "DROP TRIGGER audit_log_append_only ON billing.audit_log",
        "UPDATE eventlog.stripe_events SET event_type = 'forged'",
        "DELETE FROM eventlog.stripe_events",
        "TRUNCATE eventlog.stripe_events",
    ],
)
def test_the_app_cannot_change_the_audit_trail_or_the_log(app_dsn: str, statement: str) -> None:
    with psycopg.connect(app_dsn) as conn:
        audit.record(conn, "test.action", "ok", {"n": 1}, actor="tester")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(app_dsn, statement)
    assert run(app_dsn, "SELECT actor, action, outcome FROM billing.audit_log") == [
        ("tester", "test.action", "ok")
    ]


def test_the_reader_reads_billing_and_nothing_else(database_url: str, app_dsn: str) -> None:
    reader = as_role(database_url, roles.READER_ROLE)
    assert run(reader, "SELECT stripe_customer_id FROM billing.stripe_customers") == [("cus_Role",)]
    run(app_dsn, "CREATE TABLE billing.later_table (x int)")
    run(app_dsn, "INSERT INTO billing.later_table VALUES (1)")
    assert run(reader, "SELECT x FROM billing.later_table") == [(1,)]
    for forbidden in (
        "INSERT INTO billing.later_table VALUES (2)",
        "DELETE FROM billing.stripe_customers",
        "SELECT count(*) FROM eventlog.stripe_events",
        "SELECT count(*) FROM eventlog.dead_letters",
        "SELECT count(*) FROM eventstore.billing_events",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run(reader, forbidden)


def test_the_reader_reads_every_metric(database_url: str, app_dsn: str) -> None:
    reader = as_role(database_url, roles.READER_ROLE)
    for view, _, _ in SECTIONS.values():
        assert run(reader, f"SELECT count(*) FROM billing.{view}")[0][0] >= 0
    assert run(reader, "SELECT name FROM billing.mrr_definition") == [("stripe",)]


def test_ensure_reader_with_a_privileged_database_url(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA billing")
        conn.execute("CREATE TABLE billing.t (x int)")
    assert roles.ensure_reader(database_url)
    reader = as_role(database_url, roles.READER_ROLE)
    assert run(reader, "SELECT count(*) FROM billing.t") == [(0,)]


def test_ensure_reader_without_privilege_says_so(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA billing")
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'plain_login'").fetchone():
            conn.execute("CREATE ROLE plain_login LOGIN")
    assert not roles.ensure_reader(as_role(database_url, "plain_login"))


def test_the_reader_cannot_read_the_command_record_or_the_tokens(
    database_url: str, app_dsn: str
) -> None:
    with bootstrap.api_pool(app_dsn) as pool:
        TokenStore(pool).create_table()
        CommandRecord(pool, StripeGateway("sk_test_roles")).create_tables()
    assert run(
        app_dsn, "SELECT schema_owner FROM information_schema.schemata WHERE schema_name = 'ops'"
    ) == [(roles.APP_ROLE,)]
    reader = as_role(database_url, roles.READER_ROLE)
    for forbidden in (
        "SELECT count(*) FROM ops.commands",
        "SELECT count(*) FROM ops.command_events",
        "SELECT count(*) FROM ops.api_tokens",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run(reader, forbidden)
