"""`status` and `mrr` say what they show, and why a view is empty, as a user reads them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing_ledger.cli import main
from tests.integration.test_convergence import history
from tests.pipeline import Pipeline


@pytest.fixture
def pipeline(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EVENT_LOG", "postgres")
    opened = Pipeline(database_url)
    yield opened
    opened.close()


def test_status_on_a_fresh_database_says_nothing_arrived(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EVENT_LOG", "postgres")
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "no webhook has been received yet" in out
    assert "none yet" in out


def test_status_names_what_each_table_counts(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = history()
    for document in documents:
        pipeline.deliver(document)
    assert main(["status"]) == 0
    before = capsys.readouterr().out
    assert "log of record: Stripe events as received" in before
    [log_line] = [line for line in before.splitlines() if "stripe_events" in line]
    assert log_line.split()[1:] == [str(len(documents)), "-", str(len(documents))]

    pipeline.process_all()
    assert main(["status"]) == 0
    after = capsys.readouterr().out
    [log_line] = [line for line in after.splitlines() if "stripe_events" in line]
    assert log_line.split()[1:] == [str(len(documents)), str(len(documents)), "0"]
    assert "projections: domain events, which the processor derives" in after
    projections = after.split("projections:")[1].splitlines()[2:]
    assert projections and all(line.split()[-1] == "0" for line in projections)


@pytest.mark.kafka
def test_status_on_kafka_shows_an_unprocessed_partition_as_not_started(
    database_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from billing_ledger import bootstrap
    from billing_ledger.settings import Settings
    from tests.integration.test_eventlog_contract import record

    for name, value in {
        "DATABASE_URL": database_url,
        "EVENT_LOG": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": kafka_topic,
        "KAFKA_TOPIC_PARTITIONS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    with bootstrap.opened_event_log(Settings.from_env(), database_url) as event_log:
        for n in range(3):
            event_log.append(record(n))
    assert main(["status"]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if f"{kafka_topic}:0" in line]
    assert line.split()[1:] == ["2", "-", "3"]  # offsets 0, 1, 2: three to process


def test_mrr_says_whether_nothing_was_processed_or_nothing_is_in_range(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mrr"]) == 0
    assert "no subscription events have been processed" in capsys.readouterr().out
    for document in history():
        pipeline.deliver(document)
    pipeline.process_all()
    assert main(["mrr", "--from", "2040-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no MRR in this selection; MRR exists from 20")
    assert main(["mrr", "--from", "2040-01", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
