"""`billing-ledger backfill` and `reconcile` as a user runs them, against the stand-in: the
backfill shows its progress on stderr and fills an empty ledger as webhooks would have;
reconcile reports what it appended and, with --objects, drift; no traceback reaches the user
and no personal value reaches the output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from billing_ledger.eventlog.postgres import LOG_NAME
from billing_ledger.stripe_api.drift import KINDS
from tests.conftest import fresh_database
from tests.e2e.cli import cli_env
from tests.pipeline import Pipeline
from tests.support.backfilling import Account, current_rows, deliver, make_history, stand_in


@pytest.fixture
def account() -> Iterator[Account]:
    with stand_in() as found:
        make_history(found, 8)
        yield found


def cli(account: Account, dsn: str, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(
        {
            "DATABASE_URL": dsn,
            "STRIPE_API_KEY": "sk_test_backfill_cli",
            "STRIPE_API_BASE": account.fake.store.public_url,
            "LOG_FORMAT": "json",
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "billing_ledger", *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_backfill_then_reconcile_from_the_command_line(
    account: Account, postgres_server_url: str, tmp_path: Path
) -> None:
    with (
        fresh_database(postgres_server_url) as expected_dsn,
        fresh_database(postgres_server_url) as dsn,
    ):
        backfilled = cli(account, dsn, tmp_path, "backfill", "--rate", "100")
        assert backfilled.returncode == 0, backfilled.stderr
        assert "backfill: " in backfilled.stderr and "snapshots" in backfilled.stderr
        assert "Traceback" not in backfilled.stderr + backfilled.stdout
        assert "@example.com" not in backfilled.stderr + backfilled.stdout

        ledger, webhooks = Pipeline(dsn), Pipeline(expected_dsn)
        try:
            ledger.process_all()
            again = cli(account, dsn, tmp_path, "reconcile", "--objects")
            assert again.returncode == 0, again.stderr
            events = len(account.events())
            assert f"{events:,} events listed" in again.stdout
            assert f"{events:,} missing appended" in again.stdout  # no webhook ever came
            assert "customers: 8 at Stripe, 8 in the ledger; missing 0" in again.stdout
            for kind in KINDS:  # a backfill leaves no drift of any kind it lists
                assert f"{kind.name}: " in again.stdout
            assert again.stdout.count("missing 0, other status 0, deleted at Stripe 0") == len(
                KINDS
            ), again.stdout
            assert "Traceback" not in again.stderr + again.stdout
            ledger.process_all()
            deliver(webhooks, account.events())
            assert current_rows(dsn) == current_rows(expected_dsn)
            audited = ledger.query("SELECT action, outcome FROM billing.audit_log ORDER BY id")
            assert ("cli.backfill", "finished") in audited
            assert ("cli.reconcile", "succeeded") in audited
            head = ledger.log.head()[LOG_NAME]
            assert head > events
            check = cli(account, dsn, tmp_path, "ledger", "check")
            assert check.returncode == 0, check.stdout + check.stderr
            replay = cli(account, dsn, tmp_path, "replay", "--verify")
            assert replay.returncode == 0, replay.stdout + replay.stderr
        finally:
            ledger.close()
            webhooks.close()


def test_backfill_without_a_key_is_one_line_and_exit_2(
    account: Account, postgres_server_url: str, tmp_path: Path
) -> None:
    with fresh_database(postgres_server_url) as dsn:
        env_less = subprocess.run(
            [sys.executable, "-m", "billing_ledger", "backfill"],
            env=cli_env({"DATABASE_URL": dsn}),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert env_less.returncode == 2
    assert env_less.stderr.strip().count("\n") == 0
    assert "STRIPE_API_KEY is not set" in env_less.stderr
