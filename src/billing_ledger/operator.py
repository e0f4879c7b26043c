"""Operator commands: `secrets check` and `dead-letters [--retry]`, each recorded in the audit log.

Output names secrets by position and fingerprint, and dead letters by id, position, event id and
type: never a secret, a body or anything read from one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from billing_ledger import audit
from billing_ledger.application import EVENT_STORE_SCHEMA, BillingApplication
from billing_ledger.database import eventsourcing_env, export_libpq_environment
from billing_ledger.domain.handling import UnprocessableEvent
from billing_ledger.eventlog.dead_letters import DeadLetter, DeadLetters
from billing_ledger.eventlog.port import EventLog, EventRecord, LoggedEvent
from billing_ledger.eventlog.secret_usage import SecretUsage, fingerprint
from billing_ledger.processor import AlreadyReapplied, Processor
from billing_ledger.schemas.envelope import MalformedEvent

RECENT = timedelta(days=7)

log = logging.getLogger(__name__)


def check_secrets(dsn: str, secrets: list[str], now: datetime | None = None) -> int:
    """Print which configured secrets verified events recently; exit 0 (1 if none ever did)."""
    now = now or datetime.now(UTC)
    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool:
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


def list_dead_letters(dsn: str) -> int:
    with ConnectionPool(dsn, min_size=1, max_size=1, open=True) as pool:
        letters = DeadLetters(pool)
        letters.create_table()
        retried = _retried(pool)
        rows = letters.all()
    print(
        f"{'id':>6}  {'source':<9}  {'position':<22}  {'event':<32}  {'type':<32}  "
        f"{'recorded (UTC)':<25}  {'status':<8}  reason"
    )
    for letter in rows:
        where = f"{letter.log_name}:{letter.position}" if letter.log_name else "-"
        status = "retried" if letter.retry_tracking_name() in retried else "open"
        recorded = letter.recorded_at.astimezone(UTC).isoformat(timespec="seconds")
        print(
            f"{letter.id:>6}  {letter.source:<9}  {where:<22}  {letter.event_id or '-':<32}  "
            f"{letter.event_type or '-':<32}  {recorded:<25}  {status:<8}  {letter.reason}"
        )
    if not rows:
        print("no dead letters")
    return 0


def retry_dead_letters(dsn: str, event_log: EventLog) -> int:
    """Re-apply every open processor dead letter; exit 1 if any still fails."""
    failures = 0
    with ConnectionPool(dsn, min_size=1, max_size=2, open=True) as pool:
        letters = DeadLetters(pool)
        letters.create_table()
        export_libpq_environment(dsn)
        app = BillingApplication(env=eventsourcing_env(dsn, EVENT_STORE_SCHEMA))
        try:
            processor = Processor(app, event_log, pool)
            retried = _retried(pool)
            for letter in letters.all():
                if letter.source != "processor" or letter.retry_tracking_name() in retried:
                    continue
                outcome = _retry_one(processor, letters, letter)
                failures += outcome not in ("applied", "unchanged", "unhandled")
                print(f"dead letter {letter.id} ({letter.event_id}): {outcome}")
                with pool.connection() as conn:
                    audit.record(
                        conn,
                        "dead_letters.retry",
                        outcome,
                        {
                            "dead_letter_id": letter.id,
                            "log_name": letter.log_name,
                            "position": letter.position,
                            "event_id": letter.event_id,
                        },
                    )
        finally:
            app.close()
    return 1 if failures else 0


def _retry_one(processor: Processor, letters: DeadLetters, letter: DeadLetter) -> str:
    record = EventRecord(
        body=letters.body(letter),
        event_id=letter.event_id or "",
        event_type=letter.event_type or "",
        created=0,
        livemode=False,
        account="",
        api_version=None,
        received_at=letter.recorded_at,
        partition_key="",
    )
    logged = LoggedEvent(letter.log_name or "", letter.position or 0, record)
    try:
        return processor.reapply(logged, letter.retry_tracking_name())
    except AlreadyReapplied:
        return "already retried"
    except (MalformedEvent, UnprocessableEvent) as e:
        return f"still failing: {e.reason}"


def _retried(pool: ConnectionPool) -> set[str]:
    """Tracking names of dead letters whose retry committed (see Processor.reapply)."""
    try:
        with pool.connection() as conn:
            rows: list[Any] = conn.execute(
                f"SELECT application_name FROM {EVENT_STORE_SCHEMA}.billing_tracking "
                "WHERE application_name LIKE 'dead-letter:%%'"
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        return set()
    return {row[0] for row in rows}
