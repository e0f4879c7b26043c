"""docker-compose.yml is one a team could run: checked by reading it, since no Docker engine
runs where the tests do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_services_and_their_volumes(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "postgres", "ingest", "process"}
    assert set(compose["volumes"]) == {"kafka-data", "postgres-data"}


def test_kafka_writes_its_log_on_the_volume(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    [mount] = kafka["volumes"]
    volume, target = mount.split(":")
    assert volume == "kafka-data"
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == target
    assert kafka["environment"]["KAFKA_LOG_RETENTION_MS"] == -1


def test_every_service_restarts_and_the_apps_wait_for_healthy_dependencies(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        assert service.get("restart") == "unless-stopped", name
    for name in ("ingest", "process"):
        depends = compose["services"][name]["depends_on"]
        assert depends == {
            "kafka": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }
    for name in ("kafka", "postgres", "ingest"):
        assert compose["services"][name]["healthcheck"]["test"], name


def test_ingest_is_healthy_when_ready_and_listens_on_loopback_only(
    compose: dict[str, Any],
) -> None:
    ingest = compose["services"]["ingest"]
    assert "/readyz" in " ".join(ingest["healthcheck"]["test"])
    for port in ingest["ports"]:
        assert port.startswith("127.0.0.1:"), port


def test_no_password_is_written_in_the_file(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    postgres = compose["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    url = compose["services"]["ingest"]["environment"]["DATABASE_URL"]
    assert re.fullmatch(
        r"postgresql://billing:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/billing", url
    )
    assert (
        compose["services"]["process"]["environment"]
        == compose["services"]["ingest"]["environment"]
    )


def test_the_image_keeps_its_embedded_database_where_its_user_may_write() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "BILLING_LEDGER_HOME=/data" in dockerfile
    assert "chown billing /data" in dockerfile
    assert "--require-hashes -r requirements.lock" in dockerfile
