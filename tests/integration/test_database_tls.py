"""DATABASE_URL parameters beyond host/port/user reach the event store's connections too."""

from __future__ import annotations

import psycopg
import pytest

from billing_ledger.errors import ConfigurationError
from billing_ledger.infra.database import (
    LIBPQ_ENVIRONMENT,
    eventsourcing_env,
    export_libpq_environment,
    libpq_environment,
)
from billing_ledger.processing.application import EVENT_STORE_SCHEMA, BillingApplication


@pytest.fixture
def clean_libpq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LIBPQ_ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)  # restored after the test


def test_tls_parameters_map_to_libpq_environment() -> None:
    url = "postgresql://u:p@db.example:5432/ledger?sslmode=verify-full&sslrootcert=/ca.pem"
    assert libpq_environment(url) == {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/ca.pem"}
    assert eventsourcing_env(url, "s")["POSTGRES_HOST"] == "db.example"


def test_parameters_that_cannot_be_passed_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="keepalives"):
        libpq_environment("host=db keepalives=1")


def test_the_event_store_honours_parameters_beyond_host_and_user(
    database_url: str, clean_libpq_environment: None
) -> None:
    # The test server is reached over a Unix socket, where libpq ignores sslmode; other
    # parameters travel the same way (libpq environment variables) and are observable here.
    with psycopg.connect(database_url) as conn:
        conn.execute(f"CREATE SCHEMA {EVENT_STORE_SCHEMA}")
        conn.commit()
    named = f"{database_url} application_name=ledger-event-store"
    export_libpq_environment(named)
    app = BillingApplication(env=eventsourcing_env(named, EVENT_STORE_SCHEMA))
    try:
        with psycopg.connect(database_url) as conn:
            seen = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'ledger-event-store' AND datname = current_database()"
            ).fetchone()
    finally:
        app.close()
    assert seen is not None and seen[0] >= 1
