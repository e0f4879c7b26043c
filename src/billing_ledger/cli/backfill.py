"""`billing-ledger backfill` and `reconcile`: what Stripe's API holds, into the log of record.

Both read STRIPE_API_KEY (any account's objects are fetched with it; `--account` acts for a
Connect account through `Stripe-Account`), append to the configured log, sealed and marked
with their source, and record what they did in the audit log. A Stripe or log outage ends
the command with one line and exit 1; `backfill` run again resumes where it stopped (also
after Ctrl-C, exit 130).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from psycopg_pool import ConnectionPool

from billing_ledger import bootstrap
from billing_ledger.errors import ConfigurationError
from billing_ledger.eventlog.port import LISTED, EventLog, LogUnavailable
from billing_ledger.infra import audit
from billing_ledger.infra.master_key import MasterKey
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.backfill import STEPS, Backfill, Status
from billing_ledger.stripe_api.client import StripeGateway
from billing_ledger.stripe_api.cursors import BackfillKey, PostgresCursors
from billing_ledger.stripe_api.drift import KindDrift, compare
from billing_ledger.stripe_api.errors import TransientStripeError
from billing_ledger.stripe_api.paging import Lister, Pace
from billing_ledger.stripe_api.schedule import audit_detail

NO_KEY = (
    "STRIPE_API_KEY is not set: give a Stripe secret key (or STRIPE_API_KEY_FILE); for the "
    "stand-in, any sk_test_… key with STRIPE_API_BASE=http://127.0.0.1:12113"
)


@dataclass
class Fetching:
    gateway: StripeGateway
    event_log: EventLog
    pool: ConnectionPool
    master: MasterKey


@contextmanager
def fetching(settings: Settings) -> Iterator[Fetching]:
    gateway = bootstrap.stripe_gateway(settings)
    if gateway is None:
        raise ConfigurationError(NO_KEY)
    with (
        bootstrap.database(settings) as dsn,
        bootstrap.opened_event_log(settings, dsn) as event_log,
        bootstrap.api_pool(dsn) as pool,
    ):
        with pool.connection() as conn:
            audit.create_table(conn)
        yield Fetching(gateway, event_log, pool, bootstrap.master_key(settings, dsn))


def backfill(settings: Settings, args: argparse.Namespace) -> int:
    since = (
        int(datetime.combine(args.since, datetime.min.time(), UTC).timestamp()) if args.since else 0
    )
    with fetching(settings) as parts:
        cursors = PostgresCursors(parts.pool)
        cursors.create_table()
        key = BackfillKey(args.account, parts.gateway.livemode, since)
        progress = BackfillProgress(sys.stderr, since)
        run = Backfill(
            Lister(parts.gateway, args.account, Pace(args.rate)),
            bootstrap.fetched_appender(parts.event_log, parts.pool, parts.master, LISTED),
            cursors,
            key,
            progress,
        )
        detail: dict[str, object] = {"account": args.account, "since": since}
        try:
            status = run.run()
        except KeyboardInterrupt:
            _audit(parts.pool, "cli.backfill", "interrupted", detail)
            print(_stopped("interrupted", progress), file=sys.stderr)
            return 130
        except (TransientStripeError, LogUnavailable) as e:
            _audit(parts.pool, "cli.backfill", "failed", {**detail, "reason": type(e).__name__})
            print(_stopped(f"stopped: {e}", progress), file=sys.stderr)
            return 1
        _audit(parts.pool, "cli.backfill", "finished", {**detail, "appended": status.appended})
    progress.finish(status)
    return 0


def reconcile(settings: Settings, args: argparse.Namespace) -> int:
    with fetching(settings) as parts:
        found = bootstrap.reconciler(
            parts.gateway, parts.event_log, parts.pool, parts.master, args.account
        )
        try:
            run = found.run()
        except (TransientStripeError, LogUnavailable) as e:
            _audit(parts.pool, "cli.reconcile", "failed", {"reason": type(e).__name__})
            print(f"billing-ledger: reconcile stopped: {e}; run it again", file=sys.stderr)
            return 1
        _audit(parts.pool, "cli.reconcile", "succeeded", audit_detail(run))
        if run.warning:
            print(f"billing-ledger: warning: {run.warning}", file=sys.stderr)
        missing = ", ".join(f"{t} {n}" for t, n in sorted(run.missing.items()))
        print(
            f"reconcile: {run.listed:,} events listed since {run.window_start:%Y-%m-%d %H:%M}Z, "
            f"{run.missing_total:,} missing appended" + (f" ({missing})" if missing else "")
        )
        if not args.objects:
            return 0
        drifts = compare(
            Lister(parts.gateway, args.account), parts.pool, args.account, parts.gateway.livemode,
            _print_drift,
        )  # fmt: skip
        _audit(
            parts.pool,
            "cli.reconcile.objects",
            "drift" if any(d.drifted for d in drifts) else "none",
            {
                d.kind: {"missing": len(d.missing), "differing": len(d.differing),
                         "deleted": len(d.deleted)}
                for d in drifts
            },
        )  # fmt: skip
    return 0


def _print_drift(drift: KindDrift) -> None:
    print(
        f"{drift.kind}: {drift.at_stripe:,} at Stripe, {drift.in_ledger:,} in the ledger; "
        f"missing {len(drift.missing)}, other status {len(drift.differing)}, "
        f"deleted at Stripe {len(drift.deleted)}"
    )
    for label, ids in (
        ("missing", drift.missing),
        ("other status", drift.differing),
        ("deleted at Stripe", drift.deleted),
    ):
        for stripe_id in ids[:20]:
            print(f"  {label}: {stripe_id}")
        if len(ids) > 20:
            print(f"  {label}: … and {len(ids) - 20} more")


def _audit(pool: ConnectionPool, action: str, outcome: str, detail: dict[str, object]) -> None:
    with pool.connection() as conn:
        audit.record(conn, action, outcome, detail)


def _stopped(reason: str, progress: BackfillProgress) -> str:
    where = progress.last
    at = f" in {where.step} after {where.appended:,} snapshots" if where else ""
    return (
        f"billing-ledger: backfill {reason}{at}; its cursor is stored: run the same command "
        "again to resume"
    )


class BackfillProgress:
    """`backfill: customers (2/9) 1,234 snapshots, 85/s, ETA …` on stderr, at most once a
    second (redrawn on a terminal). The ETA is that of the list being paged, from how far its
    pages have come back in time: towards `--since`, or, without one, towards the oldest
    customer (unknown while the customers themselves are paged)."""

    def __init__(self, stream: TextIO, since: int) -> None:
        self._stream, self._since = stream, since
        self._started = self._shown = time.monotonic()
        self._top = time.time()
        self._step_started: tuple[str, float] | None = None
        self._tty = stream.isatty()
        self.last: Status | None = None

    def __call__(self, status: Status) -> None:
        now = time.monotonic()
        if self._step_started is None or self._step_started[0] != status.step:
            self._step_started = (status.step, now)
        self.last = status
        if now - self._shown >= 1.0:
            self._shown = now
            self._show(status, final=False)

    def finish(self, status: Status) -> None:
        self._show(status, final=True)

    def _show(self, status: Status, final: bool) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = status.appended / elapsed
        text = (
            f"backfill: {status.step} ({status.step_number}/{len(STEPS)}) "
            f"{status.appended:,} snapshots, {rate:,.0f}/s"
        )
        text += f", done in {elapsed:.0f}s" if final else f", ETA {self.eta(status)}"
        end = "\n" if final or not self._tty else ""
        print(("\r" if self._tty else "") + text, end=end, file=self._stream, flush=True)

    def eta(self, status: Status) -> str:
        """How long the list being paged still takes, or "unknown"."""
        bottom = self._since or (status.oldest_customer if status.step != "customers" else None)
        if bottom is None or status.last_created is None or self._step_started is None:
            return "unknown"
        span = self._top - bottom
        done = (self._top - status.last_created) / span if span > 0 else 1.0
        if done <= 0:
            return "unknown"
        spent = time.monotonic() - self._step_started[1]
        left = max(spent * (1 - min(done, 1.0)) / done, 0.0)
        return f"{int(left // 60)}m{int(left % 60):02d}s for {status.step}"
