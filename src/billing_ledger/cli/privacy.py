"""`billing-ledger forget` and `export`: erasing a person (GDPR article 17) and handing them
everything the ledger holds about them (article 15).

    forget cus_…   destroy the customer's data key (and those of the payments linked to them),
                   redact their rows in every read schema, in one transaction, audited. The log
                   and the event store are not touched: what they hold of the person is sealed
                   under the destroyed key, so a replay rebuilds the same redacted rows, and
                   every amount, status, MRR figure and journal line stays as it was. With
                   --also-stripe, the customer is then deleted at Stripe (erasure_at_stripe.py).
    export cus_…   JSON on stdout: the key's status, every log record of theirs (the original
                   event while the key exists, its facts once erased), their rows, and the
                   audit entries that name them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import psycopg

from billing_ledger import bootstrap
from billing_ledger.cli import erasure_at_stripe
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.errors import BillingLedgerError
from billing_ledger.eventlog.port import EventLog, LoggedEvent
from billing_ledger.infra import audit
from billing_ledger.infra.data_key import DataKey
from billing_ledger.infra.keys import KEYS_TABLE, KeyStore, key_id
from billing_ledger.projections import erasure
from billing_ledger.settings import Settings

Connection = psycopg.Connection[Any]


class UnknownIdentity(BillingLedgerError):
    """The subject's identity (account, mode) is ambiguous or unknown; the message says what
    to give."""


def forget(settings: Settings, args: argparse.Namespace) -> int:
    stripe = erasure_at_stripe.stripe_for(settings, args.subject) if args.also_stripe else None
    with bootstrap.database(settings) as dsn:
        master = bootstrap.master_key(settings, dsn)
        with bootstrap.connection_pool(dsn, 2) as pool, pool.connection() as conn:
            store = bootstrap.key_store(pool, master)
            audit.create_table(conn)
            account, livemode = identity(conn, store, args, creating=True)
            if stripe is not None:
                erasure_at_stripe.check_mode(stripe, args.subject, livemode)
            with conn.transaction():
                subjects = store.erase(conn, account, livemode, args.subject)
                changed = erasure.redact(conn, account, livemode, subjects)
                audit.record(
                    conn,
                    "forget",
                    "ok",
                    {
                        "subject": args.subject,
                        "account": account,
                        "livemode": livemode,
                        "keys_erased": subjects,
                        "rows_redacted": changed,
                    },
                )
        _vacuum_keys(dsn)
        rows = ", ".join(f"{table} {count}" for table, count in changed.items())
        print(
            f"forgot {args.subject} ({_describe(account, livemode)}): {len(subjects)} data "
            f"key(s) destroyed ({', '.join(subjects)}); rows redacted: {rows}"
        )
        print("its events stay in the log with their facts; a replay rebuilds the same rows")
        if stripe is None:
            return 0
        sys.stdout.flush()
        return erasure_at_stripe.delete_at_stripe(settings, dsn, stripe, args.subject, account)


def export(settings: Settings, args: argparse.Namespace) -> int:
    with (
        bootstrap.database(settings) as dsn,
        bootstrap.opened_event_log(settings, dsn) as event_log,
    ):
        master = bootstrap.master_key(settings, dsn)
        with bootstrap.connection_pool(dsn, 2) as pool, pool.connection() as conn:
            store = bootstrap.key_store(pool, master)
            audit.create_table(conn)
            account, livemode = identity(conn, store, args, creating=False)
            subjects = [args.subject, *store.linked(conn, account, livemode, args.subject)]
            with conn.transaction(), conn.cursor() as cur:
                ids = [key_id(account, livemode, s) for s in subjects]
                found = store.lookup(cur, ids)
            document = {
                "subject": args.subject,
                "account": account,
                "livemode": livemode,
                "data_keys": [
                    {"subject": k.subject, "created_at": k.created_at, "erased_at": k.erased_at}
                    for k in store.status(conn, account, livemode, subjects)
                ],
                "events": _events(event_log, account, livemode, subjects, found),
                "tables": _rows(conn, account, livemode, subjects),
                "audit_log": _audit(conn, args.subject),
            }
            detail = {"subject": args.subject, "account": account, "livemode": livemode}
            audit.record(conn, "export", "ok", detail)
            conn.commit()
    json.dump(document, sys.stdout, indent=2, default=str)
    print()
    return 0


def identity(
    conn: Connection, store: KeyStore, args: argparse.Namespace, *, creating: bool
) -> tuple[str, bool]:
    """The (account, livemode) of `args.subject`: the one it has keys in, narrowed by
    --account and --mode; ambiguous or unknown is an error saying what to give."""
    wanted_mode = {"live": True, "test": False}.get(args.mode or "")
    known = [
        (account, livemode)
        for account, livemode in store.identities(conn, args.subject)
        if (args.account is None or account == args.account)
        and (wanted_mode is None or livemode == wanted_mode)
    ]
    if len(known) == 1:
        return known[0]
    if len(known) > 1:
        listed = "; ".join(_describe(a, m) for a, m in known)
        raise UnknownIdentity(
            f"{args.subject} is known in {len(known)} identities ({listed}): give --account "
            "and --mode"
        )
    if creating and wanted_mode is not None:
        return args.account or "", wanted_mode  # never seen: forgotten before it arrives
    raise UnknownIdentity(
        f"no data of {args.subject} is known"
        + (" there" if args.account is not None or args.mode else "")
        + (": give --mode (and --account) to forget it before its first event" if creating else "")
    )


def _describe(account: str, livemode: bool) -> str:
    return f"account {account or 'platform'!s}, {'live' if livemode else 'test'} mode"


def _events(
    event_log: EventLog,
    account: str,
    livemode: bool,
    subjects: list[str],
    keys: dict[Any, DataKey],
) -> list[dict[str, Any]]:
    """Every log record of the subjects, oldest first: the original event while its key
    exists; its facts (ids, amounts, statuses, dates) once erased."""
    found: list[dict[str, Any]] = []
    for batch in event_log.replay(lambda _: None, event_log.head()):
        for logged in batch:
            record = logged.record
            if record.account != account or record.livemode != livemode:
                continue
            owner = record.data_subject or record.partition_key.split(":", 2)[-1]
            if owner in subjects:
                found.append(_event(logged, keys.get(key_id(account, livemode, owner))))
    return found


def _event(logged: LoggedEvent, key: DataKey | None) -> dict[str, Any]:
    record = logged.record
    entry: dict[str, Any] = {
        "event_id": record.event_id,
        "event_type": record.event_type,
        "created": record.created,
        "received_at": record.received_at,
        "verified_with": record.verified_with,
        "log_position": f"{logged.log_name}:{logged.position}",
    }
    if not record.is_sealed:
        entry["event"] = json.loads(record.body)  # written before sealing: as received
    elif record.sealed is not None and key is not None:
        entry["event"] = json.loads(key.open_body(record.sealed, record.event_id))
    else:
        entry["erased"] = True
        entry["facts"] = json.loads(record.body)
    return entry


ROWS = {
    "stripe_customers": "id = %(customer)s",
    "subscriptions": "customer_id = %(customer)s",
    "invoices": "customer_id = %(customer)s",
    "payment_transactions": "customer_id = %(customer)s OR id = ANY(%(ids)s)",
    "payment_methods": "customer_id = %(customer)s",
    "refunds": "payment_transaction_id IN (SELECT id FROM billing.payment_transactions "
    "WHERE customer_id = %(customer)s OR id = ANY(%(ids)s))",
    "disputes": "payment_transaction_id IN (SELECT id FROM billing.payment_transactions "
    "WHERE customer_id = %(customer)s OR id = ANY(%(ids)s))",
    "mrr_movements": "account_id = %(account)s AND livemode = %(livemode)s "
    "AND customer_id = %(subject)s",
    "journal_lines": "account_id = %(account)s AND livemode = %(livemode)s "
    "AND customer_id = %(subject)s",
}


def _rows(
    conn: Connection, account: str, livemode: bool, subjects: list[str]
) -> dict[str, list[Any]]:
    params = {
        "customer": stripe_uuid(account, livemode, subjects[0]),
        "ids": [stripe_uuid(account, livemode, s) for s in subjects],
        "account": account,
        "livemode": livemode,
        "subject": subjects[0],
    }
    tables: dict[str, list[Any]] = {}
    for table, where in ROWS.items():
        try:
            with conn.transaction():
                rows = conn.execute(
                    f"SELECT to_jsonb(t) FROM billing.{table} t WHERE {where} "
                    "ORDER BY to_jsonb(t)::text",
                    params,
                ).fetchall()
        except psycopg.errors.UndefinedTable:
            rows = []
        tables[table] = [row[0] for row in rows]
    return tables


def _audit(conn: Connection, subject: str) -> list[Any]:
    rows = conn.execute(
        "SELECT to_jsonb(a) FROM billing.audit_log a WHERE a.detail ->> 'subject' = %s "
        "ORDER BY a.id",
        (subject,),
    ).fetchall()
    return [row[0] for row in rows]


def _vacuum_keys(dsn: str) -> None:
    """Remove the destroyed keys' old row versions from the key table now rather than at the
    next autovacuum (the copies PostgreSQL still holds are wrapped by the master key)."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"VACUUM {KEYS_TABLE}")
    except psycopg.Error:
        pass  # best effort: autovacuum will
