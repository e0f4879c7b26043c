"""`replay --from-log --swap` on the embedded default, as the README tells a user to run it:
stop `up`, replay (the command starts the embedded server itself), start `up` again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from billing_ledger.infra.database import running_embedded_url
from tests.e2e.cli import cli_env, running
from tests.e2e.test_webhook_to_tables import assert_rows, deliver_customer_and_subscription, rows
from tests.support.stripe import customer, event
from tests.support.webhooks import deliver


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_ledger", *args],
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_a_swapped_rebuild_from_the_log_keeps_up_working(home: Path, tmp_path: Path) -> None:
    env = {"BILLING_LEDGER_HOME": str(home)}
    with running("up", env, tmp_path) as app:
        deliver_customer_and_subscription(app.base_url)
        dsn = running_embedded_url(home)
        assert dsn is not None
        assert_rows(dsn)

    swapped = cli(env, "-v", "replay", "--from-log", "--swap")  # `up` is stopped, as it must be
    assert swapped.returncode == 0, swapped.stdout + swapped.stderr
    assert "swapped:" in swapped.stdout
    assert "Traceback" not in swapped.stderr

    with running("up", env, tmp_path) as app:
        with httpx.Client(timeout=30) as client:
            later = event("customer.created", customer("cus_After"), created=1_767_300_000)
            assert deliver(client, app.base_url, later).status_code == 200
        dsn = running_embedded_url(home)
        assert dsn is not None
        assert_rows(dsn)
        landed = "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = 'cus_After'"
        assert rows(dsn, landed), "a webhook after the swap did not reach the tables"
        verified = cli(env, "replay", "--from-log", "--verify", "--schema", "billing_check")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "identical" in verified.stdout
        balances = cli(env, "ledger", "balances", "--as-of", "2030-01-01")
        assert balances.returncode == 0, balances.stdout + balances.stderr
