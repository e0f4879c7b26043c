"""`billing-ledger dead-letters [--retry]`: list what could not be applied, re-apply it after a
fix. Each retry is recorded in the audit log.

Output names dead letters by id, position, event id and type: never a body or anything read
from one.
"""

from __future__ import annotations

import argparse
from datetime import UTC
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from billing_ledger import bootstrap
from billing_ledger.domain.errors import UnprocessableEvent
from billing_ledger.eventlog.dead_letter_port import DeadLetter
from billing_ledger.eventlog.dead_letters import DeadLetters
from billing_ledger.eventlog.port import EventLog, EventRecord, LoggedEvent
from billing_ledger.infra import audit
from billing_ledger.processing.application import EVENT_STORE_SCHEMA
from billing_ledger.processing.processor import AlreadyReapplied, Processor
from billing_ledger.schemas.envelope import MalformedEvent
from billing_ledger.settings import Settings

APPLIED = ("applied", "unchanged", "unhandled", "already retried")
"""Outcomes of a retry that leave the letter applied (an "already retried" one was before)."""


def dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    with bootstrap.database(settings) as dsn:
        if not args.retry:
            return list_dead_letters(dsn)
        with bootstrap.opened_event_log(settings, dsn) as event_log:
            return retry_dead_letters(dsn, event_log)


def list_dead_letters(dsn: str) -> int:
    with bootstrap.connection_pool(dsn, 1) as pool:
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
    with bootstrap.connection_pool(dsn, 2) as pool:
        letters = DeadLetters(pool)
        letters.create_table()
        app = bootstrap.application(dsn)
        try:
            processor = bootstrap.processor(app, event_log, pool)
            retried = _retried(pool)
            kept = letters.all()
            open_letters = [
                letter
                for letter in kept
                if letter.source == "processor" and letter.retry_tracking_name() not in retried
            ]
            if not open_letters:
                _nothing_to_retry(pool, kept, retried)
            for letter in open_letters:
                outcome = _retry_one(processor, letters, letter)
                failures += outcome not in APPLIED
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


def _nothing_to_retry(pool: ConnectionPool, kept: list[DeadLetter], retried: set[str]) -> None:
    """Say why nothing was retried, and record that the retry was asked for."""
    ingest = sum(letter.source == "ingest" for letter in kept)
    done = sum(letter.retry_tracking_name() in retried for letter in kept)
    reasons = [f"{done} already retried"] if done else []
    if ingest:
        reasons.append(
            f"{ingest} from ingest, kept for inspection only (verified bodies that are not "
            "Stripe events never reach the log, so there is nothing to apply)"
        )
    print(
        "nothing to retry: no open processor dead letters"
        + (f"; {'; '.join(reasons)}" if reasons else "")
    )
    with pool.connection() as conn:
        audit.record(
            conn,
            "dead_letters.retry",
            "nothing to retry",
            {"open": 0, "already_retried": done, "ingest": ingest},
        )


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


def retry_again(processor: Processor, pool: ConnectionPool) -> list[tuple[DeadLetter, str]]:
    """Re-apply, into the store `processor` writes (a rebuild's), every dead letter whose retry
    committed in the live store: a store rebuilt from the log of record then holds the same
    retries, and their markers, as the one it replaces. Returns each letter with its outcome."""
    letters = DeadLetters(pool)
    retried = _retried(pool)
    return [
        (letter, _retry_one(processor, letters, letter))
        for letter in letters.all()
        if letter.retry_tracking_name() in retried
    ]


def _retried(pool: ConnectionPool) -> set[str]:
    """Tracking names of dead letters whose retry committed in the live store (see
    Processor.reapply)."""
    try:
        with pool.connection() as conn:
            rows: list[Any] = conn.execute(
                f"SELECT application_name FROM {EVENT_STORE_SCHEMA}.billing_tracking "
                "WHERE application_name LIKE 'dead-letter:%%'"
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        return set()
    return {row[0] for row in rows}
