"""Reconciliation: every event Stripe still holds that the log lacks, appended by id.

Stripe keeps events for 30 days and disables an endpoint after days of failed deliveries, so
a webhook can be lost for good. A run lists `/v1/events` for the retention window and appends
each event whose id the log does not hold, marked `fetched` (invariant 11: authenticated by
our call with our key, never as if signed). Events come rendered in the API version of their
creation, not the pinned one; both shapes are read downstream. A Connect account's events are
listed with `Stripe-Account` and carry that account, as its webhooks do.

Each run says how many events were missing, per type (metrics, the audit log), and is
recorded in `ops.reconcile_runs`; a run warns when the last successful one is close to the
retention limit (past it, events may be lost: a backfill recovers the objects' state).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from billing_ledger.eventlog.port import EventLog
from billing_ledger.infra.metrics import RECONCILED_LAST_SUCCESS, RECONCILED_MISSING
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.paging import Lister

log = logging.getLogger(__name__)

RETENTION = timedelta(days=30)
WARN_AFTER = timedelta(days=25)  # the last success this old: five days left to run again

CREATE_STATEMENTS = (
    "CREATE SCHEMA IF NOT EXISTS ops",
    """CREATE TABLE IF NOT EXISTS ops.reconcile_runs (
        id bigserial PRIMARY KEY,
        account_id text NOT NULL,
        livemode boolean NOT NULL,
        finished_at timestamptz NOT NULL,
        window_start timestamptz NOT NULL,
        listed bigint NOT NULL,
        missing jsonb NOT NULL
    )""",
)


@dataclass(frozen=True)
class Reconciled:
    """What one run found: events listed in the window, and those appended, by type."""

    window_start: datetime
    listed: int
    missing: Mapping[str, int]
    previous_success: datetime | None
    finished_at: datetime
    warning: str | None = None

    @property
    def missing_total(self) -> int:
        return sum(self.missing.values())


class RunStore(Protocol):
    """Where runs are recorded: the last success of an account and mode, and each run."""

    def last_success(self, account: str, livemode: bool) -> datetime | None: ...

    def record(self, account: str, livemode: bool, run: Reconciled) -> None: ...


@dataclass
class MemoryRuns:
    runs: list[tuple[str, bool, Reconciled]] = field(default_factory=list)

    def last_success(self, account: str, livemode: bool) -> datetime | None:
        found = [r.finished_at for a, m, r in self.runs if (a, m) == (account, livemode)]
        return max(found) if found else None

    def record(self, account: str, livemode: bool, run: Reconciled) -> None:
        self.runs.append((account, livemode, run))


class PostgresRuns:
    """Runs in `ops.reconcile_runs` (created if missing)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def create_table(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            for statement in CREATE_STATEMENTS:
                conn.execute(statement)

    def last_success(self, account: str, livemode: bool) -> datetime | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT max(finished_at) FROM ops.reconcile_runs "
                "WHERE account_id = %s AND livemode = %s",
                (account, livemode),
            ).fetchone()
        return row[0] if row is not None else None

    def record(self, account: str, livemode: bool, run: Reconciled) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO ops.reconcile_runs (account_id, livemode, finished_at, "
                "window_start, listed, missing) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    account,
                    livemode,
                    run.finished_at,
                    run.window_start,
                    run.listed,
                    Jsonb(dict(run.missing)),
                ),
            )


def staleness_warning(previous: datetime | None, now: datetime) -> str | None:
    """What to warn about the last successful run's age, if anything."""
    if previous is None:
        return None
    age = now - previous
    if age >= RETENTION:
        return (
            f"the last successful reconciliation was {age.days} days ago, past Stripe's "
            f"{RETENTION.days}-day retention of events: events of that gap may be lost for "
            "good; run `billing-ledger backfill` to recover the objects' current state"
        )
    if age >= WARN_AFTER:
        return (
            f"the last successful reconciliation was {age.days} days ago; Stripe keeps events "
            f"{RETENTION.days} days: reconcile at least every {WARN_AFTER.days} days"
        )
    return None


class Reconciler:
    """Lists `/v1/events` through `lister` and appends what `log` lacks through `appender`."""

    def __init__(
        self,
        lister: Lister,
        appender: Appender,
        log_: EventLog,
        runs: RunStore,
        *,
        account: str,
        livemode: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lister, self._appender, self._log, self._runs = lister, appender, log_, runs
        self._account, self._livemode, self._clock = account, livemode, clock

    def run(self) -> Reconciled:
        now = datetime.fromtimestamp(self._clock(), UTC)
        previous = self._runs.last_success(self._account, self._livemode)
        warning = staleness_warning(previous, now)
        if warning:
            log.warning("reconciliation: %s", warning)
        window_start = now - RETENTION
        since = int(window_start.timestamp())
        known = self._log.event_ids(since)
        listed = 0
        missing: Counter[str] = Counter()
        for page in self._lister.pages("events", {"created": {"gte": since}}):
            listed += len(page.objects)
            lacking = [self._as_delivered(e) for e in page.objects if e["id"] not in known]
            self._appender.append_all(lacking)
            for event in lacking:
                known.add(event["id"])
                missing[event["type"]] += 1
        finished = datetime.fromtimestamp(self._clock(), UTC)
        run = Reconciled(window_start, listed, dict(missing), previous, finished, warning)
        self._runs.record(self._account, self._livemode, run)
        for event_type, count in missing.items():
            RECONCILED_MISSING.labels(event_type).inc(count)
        RECONCILED_LAST_SUCCESS.set(finished.timestamp())
        log.info(
            "reconciled",
            extra={"listed": listed, "missing": run.missing_total, "account": self._account},
        )
        return run

    def _as_delivered(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The event as its webhook would have carried it: a Connect account's names it."""
        document = dict(event)
        if self._account and not document.get("account"):
            document["account"] = self._account
        return document
