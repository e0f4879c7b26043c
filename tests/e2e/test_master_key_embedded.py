"""The embedded default needs no master key setting: `up` creates one under
BILLING_LEDGER_HOME on first start, readable by its owner only, and refuses, in one line, to
start without it once people's data keys exist (a new key would make their data unreadable)."""

from __future__ import annotations

from pathlib import Path

from billing_ledger.infra.database import running_embedded_url
from tests.e2e.cli import running
from tests.e2e.test_replay_embedded import cli
from tests.e2e.test_webhook_to_tables import deliver_customer_and_subscription, rows


def test_the_embedded_master_key_is_created_once_and_never_silently_replaced(
    home: Path, tmp_path: Path
) -> None:
    env = {"BILLING_LEDGER_HOME": str(home)}
    with running("up", env, tmp_path) as app:
        deliver_customer_and_subscription(app.base_url)
        dsn = running_embedded_url(home)
        assert dsn is not None
        [row] = rows(dsn, "SELECT email FROM billing.stripe_customers")
        assert row["email"] == "cus_e2e@example.com"  # shown decrypted
    key = home / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600

    key.rename(home / "master.key.kept")
    missing = cli(env, "replay")
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert missing.stderr.count("\n") == 1 and "is missing" in missing.stderr
    assert not key.exists()

    (home / "master.key.kept").rename(key)
    again = cli(env, "replay", "--verify")
    assert again.returncode == 0, again.stdout + again.stderr
