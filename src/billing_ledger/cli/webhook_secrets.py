"""`billing-ledger secrets check`: which configured webhook secrets verified events recently,
so a rotated-out secret can be retired safely. Recorded in the audit log.

Output names secrets by position and fingerprint: never a secret.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from billing_ledger import bootstrap
from billing_ledger.eventlog.secret_usage import SecretUsage, fingerprint
from billing_ledger.infra import audit
from billing_ledger.settings import Settings

RECENT = timedelta(days=7)


def secrets(settings: Settings, args: argparse.Namespace) -> int:
    configured = settings.webhook_secrets()
    with bootstrap.database(settings) as dsn:
        return check_secrets(dsn, configured)


def check_secrets(dsn: str, secrets: list[str], now: datetime | None = None) -> int:
    """Print which configured secrets verified events recently; exit 0 (1 if none ever did)."""
    now = now or datetime.now(UTC)
    with bootstrap.connection_pool(dsn, 1) as pool:
        usage = SecretUsage(pool)
        usage.create_table()
        report = usage.report([fingerprint(s) for s in secrets])
        print(
            f"{'#':>2}  {'fingerprint':<12}  {'verified':>8}  {'last verified (UTC)':<25}  advice"
        )
        for index, used in enumerate(report, start=1):
            last = used.last_verified_at
            if last is None:
                advice = "never verified an event: safe to retire"
            elif now - last > RECENT:
                advice = f"idle for over {RECENT.days} days: likely safe to retire"
            else:
                advice = "in use"
            shown = last.astimezone(UTC).isoformat(timespec="seconds") if last else "-"
            count = used.verified_count
            print(f"{index:>2}  {used.fingerprint:<12}  {count:>8}  {shown:<25}  {advice}")
        with pool.connection() as conn:
            audit.record(
                conn,
                "secrets.check",
                "ok",
                {
                    "fingerprints": [u.fingerprint for u in report],
                    "verified_counts": [u.verified_count for u in report],
                },
            )
    return 0 if any(u.verified_count for u in report) else 1
