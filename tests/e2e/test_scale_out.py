"""Scale-out on Kafka: `billing-ledger process` instances in one consumer group, one SIGKILLed
mid-stream and a third joining (two rebalances), end with the tables of a clean, in-order
rebuild, every event applied exactly once (benchmarks/scale_out.py; `scripts/scale-out` runs
it large, on a private broker and server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import scale_out
from benchmarks.history import Shape, bodies
from tests.conftest import fresh_database


@pytest.mark.kafka
def test_a_killed_instance_and_a_joining_one_leave_the_tables_of_a_clean_rebuild(
    database_url: str, postgres_server_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    raw = list(bodies(Shape(seed=11, customers=40, months=24), limit=2_000))
    with fresh_database(postgres_server_url) as oracle:
        outcome = scale_out.run(
            database_url,
            oracle,
            kafka_bootstrap,
            raw,
            tmp_path / "logs",
            {"BILLING_LEDGER_HOME": str(tmp_path / "home")},
            timeout=120.0,
        )
    assert outcome.ok, outcome.report()
    assert outcome.assignments["B"] >= 3, outcome.report()  # its start, A gone, C joined
    assert outcome.assignments["C"] >= 1, outcome.report()
