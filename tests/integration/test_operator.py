"""Operator commands against real Postgres: dead-letter retry exactly once, secrets check, audit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.persistence import Tracking

from billing_ledger.cli.dead_letters import list_dead_letters, retry_dead_letters
from billing_ledger.cli.webhook_secrets import check_secrets
from billing_ledger.eventlog.dead_letters import DeadLetters
from billing_ledger.eventlog.postgres import LOG_NAME
from billing_ledger.eventlog.secret_usage import SecretUsage, fingerprint
from billing_ledger.processing.processor import AlreadyReapplied
from tests.e2e.cli import cli_env
from tests.pipeline import Pipeline
from tests.support.stripe import customer, event
from tests.support.webhooks import body_of


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    yield opened
    opened.close()


def test_a_fixed_dead_letter_is_retried_once_and_audited(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # A record the processor dead-lettered because of a bug since fixed: its body is valid.
    pipeline.append(body_of(event("customer.created", customer("cus_Retry"))))
    [logged] = pipeline.log.read(0, 10)
    # What the processor does with a record it cannot apply: keep it aside, move past it.
    DeadLetters(pipeline.pool).keep_unapplied([(logged, "internal error: KeyError")])
    pipeline.app.events.put([], tracking=Tracking(LOG_NAME, logged.position))
    # A poison record that no fix will make readable.
    pipeline.append(b'{"not": "an event"}')
    pipeline.process_all()
    assert pipeline.query("SELECT count(*) FROM billing.stripe_customers") == [(0,)]

    assert retry_dead_letters(pipeline.dsn, pipeline.log) == 1  # the poison still fails
    pipeline.process_all()
    assert pipeline.query("SELECT stripe_customer_id FROM billing.stripe_customers") == [
        ("cus_Retry",)
    ]
    out = capsys.readouterr().out
    assert "dead letter 1 (evt_customer_created_cus_Retry_1767225600): applied" in out
    assert "dead letter 2 (evt_unparseable): still failing: not a Stripe event" in out

    events_before = pipeline.query("SELECT count(*) FROM eventstore.billing_events")
    retry_dead_letters(pipeline.dsn, pipeline.log)  # the retried one is no longer open
    with pytest.raises(AlreadyReapplied):
        pipeline.processor.reapply(logged, "dead-letter:1")
    assert pipeline.query("SELECT count(*) FROM eventstore.billing_events") == events_before

    list_dead_letters(pipeline.dsn)
    listing = capsys.readouterr().out
    assert "retried" in listing and "open" in listing
    assert "cus_retry@example.com" not in listing and '"not"' not in listing
    audited = pipeline.query(
        "SELECT action, outcome, detail->>'dead_letter_id' FROM billing.audit_log ORDER BY id"
    )
    assert audited[:2] == [
        ("dead_letters.retry", "applied", "1"),
        (
            "dead_letters.retry",
            "still failing: not a Stripe event: invalid created, data, id, livemode, type",
            "2",
        ),
    ]
    assert pipeline.processor.processed(LOG_NAME) == 2


def test_secrets_check_reports_use_by_fingerprint_and_is_audited(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = SecretUsage(pipeline.pool)
    usage.create_table()
    usage.record(fingerprint("whsec_new"))
    code = check_secrets(pipeline.dsn, ["whsec_new", "whsec_old"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{fingerprint('whsec_new')}         1" in out and "in use" in out
    assert f"{fingerprint('whsec_old')}         0" in out and "safe to retire" in out
    assert "whsec_" not in out
    later = datetime.now(UTC) + timedelta(days=30)
    check_secrets(pipeline.dsn, ["whsec_new"], now=later)
    assert "likely safe to retire" in capsys.readouterr().out
    assert pipeline.query("SELECT action, outcome FROM billing.audit_log") == [
        ("secrets.check", "ok"),
        ("secrets.check", "ok"),
    ]


@pytest.mark.parametrize("argv", [["mrr", "--json"], ["mrr"], ["ledger", "balances"]])
def test_a_reader_that_went_away_gets_no_traceback(pipeline: Pipeline, argv: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `billing-ledger mrr --json | head -0`
    try:
        done = subprocess.run(
            [sys.executable, "-m", "billing_ledger", *argv],
            env=cli_env({"DATABASE_URL": pipeline.dsn}),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141  # as a shell reports a command that SIGPIPE ended


def test_a_retry_with_only_ingest_dead_letters_says_so_and_is_audited(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    DeadLetters(pipeline.pool).keep_rejected(
        b'{"signed": "but not an event"}', "not a Stripe event"
    )
    assert retry_dead_letters(pipeline.dsn, pipeline.log) == 0
    out = capsys.readouterr().out
    assert out.startswith("nothing to retry: no open processor dead letters; 1 from ingest")
    assert pipeline.query("SELECT action, outcome, detail FROM billing.audit_log") == [
        ("dead_letters.retry", "nothing to retry", {"open": 0, "already_retried": 0, "ingest": 1})
    ]


def test_a_rebuild_from_the_log_keeps_which_dead_letters_were_retried(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.append(body_of(event("customer.created", customer("cus_Retry"))))
    [logged] = pipeline.log.read(0, 10)
    DeadLetters(pipeline.pool).keep_unapplied([(logged, "internal error: KeyError")])
    pipeline.app.events.put([], tracking=Tracking(LOG_NAME, logged.position))
    assert retry_dead_letters(pipeline.dsn, pipeline.log) == 0
    pipeline.process_all()
    before = pipeline.tables()

    swapped = subprocess.run(
        [sys.executable, "-m", "billing_ledger", "replay", "--from-log", "--swap"],
        env=cli_env({"DATABASE_URL": pipeline.dsn}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert swapped.returncode == 0, swapped.stdout + swapped.stderr
    assert "dead letters retried again: 1" in swapped.stderr

    capsys.readouterr()
    list_dead_letters(pipeline.dsn)
    assert "retried" in capsys.readouterr().out  # the rebuilt store kept the retry's marker
    assert retry_dead_letters(pipeline.dsn, pipeline.log) == 0
    assert capsys.readouterr().out.startswith("nothing to retry: no open processor dead letters")
    assert pipeline.tables() == before
