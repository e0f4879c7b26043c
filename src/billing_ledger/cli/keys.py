"""`billing-ledger keys`: the master key that wraps every person's data key.

    keys generate   print a new master key (base64), for BILLING_LEDGER_MASTER_KEY(_FILE)
    keys rotate     wrap every data key with a new master key instead of the current one.
                    Events, tokens and sealed bodies are untouched (the data keys do not
                    change); the old master key can then be destroyed, which makes the copies
                    of wrapped keys PostgreSQL may keep (old row versions, WAL, backups)
                    useless. On the embedded default the new key replaces
                    BILLING_LEDGER_HOME/master.key; otherwise it is written to
                    --new-key-file and the operator switches the setting to it.

Stop `up`, `ingest` and `process` first: a process still running with the old key would wrap
the keys of new customers with it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import psycopg

from billing_ledger import bootstrap
from billing_ledger.errors import BillingLedgerError, ConfigurationError
from billing_ledger.infra import audit, keys
from billing_ledger.infra.master_key import FileMasterKey, MasterKey, create_file, generate_text
from billing_ledger.settings import Settings


def generate(settings: Settings, args: argparse.Namespace) -> int:
    print(generate_text())
    return 0


def rotate(settings: Settings, args: argparse.Namespace) -> int:
    embedded = settings.master_key_text() is None and not settings.DATABASE_URL
    if not embedded and args.new_key_file is None:
        raise RotationError(
            "give --new-key-file PATH: the new master key is written there (or read, if it "
            "exists), then set BILLING_LEDGER_MASTER_KEY_FILE to it"
        )
    with bootstrap.database(settings) as dsn:
        current = bootstrap.embedded_master_key_path(settings)
        target: Path = args.new_key_file or current.with_name(current.name + ".new")
        if embedded and args.new_key_file is None and _finished_before(dsn, target):
            os.replace(target, current)
            print(f"finished an interrupted rotation: {current} is the new master key")
            return 0
        old = bootstrap.master_key(settings, dsn)
        new = _new_key(target)
        with psycopg.connect(dsn) as conn, conn.transaction():
            audit.create_table(conn)
            moved = keys.rewrap(conn, old, new)
            detail = {"from": old.key_id, "to": new.key_id, "data_keys": moved}
            audit.record(conn, "keys.rotate", "ok", detail)
    print(f"{moved} data key(s) re-wrapped: master key {old.key_id} -> {new.key_id}")
    if embedded and args.new_key_file is None:
        os.replace(target, current)
        print(f"{current} now holds the new master key; the old one is gone")
    else:
        print(
            f"now set BILLING_LEDGER_MASTER_KEY_FILE={target} (or its content in "
            "BILLING_LEDGER_MASTER_KEY), restart, and destroy the old key"
        )
    return 0


class RotationError(BillingLedgerError):
    """A rotation cannot start; the message says what to give."""


def _new_key(path: Path) -> MasterKey:
    if path.exists():
        return FileMasterKey.from_file(path, str(path))
    return create_file(path)


def _finished_before(dsn: str, target: Path) -> bool:
    """Whether an earlier rotation committed with `target` but did not replace the file."""
    if not target.exists():
        return False
    new = FileMasterKey.from_file(target, str(target))
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not keys.count_live(conn):
            return False
        try:
            keys.check_master(conn, new, str(target))
        except ConfigurationError:
            return False
    return True
