"""`billing-ledger ledger balances|entries|check`: the double-entry journal."""

from __future__ import annotations

import argparse

import psycopg

from billing_ledger import bootstrap
from billing_ledger.errors import ConfigurationError
from billing_ledger.projections import journal_reports as reports
from billing_ledger.projections.migrations import READ_SCHEMA
from billing_ledger.settings import Settings


def ledger(settings: Settings, args: argparse.Namespace) -> int:
    as_of = getattr(args, "as_of", None)
    try:
        with bootstrap.database(settings) as dsn, psycopg.connect(dsn) as conn:
            if args.ledger_command == "balances":
                return reports.print_balances(conn, READ_SCHEMA, as_of)
            if args.ledger_command == "entries":
                return reports.print_customer_entries(conn, READ_SCHEMA, args.customer)
            return reports.print_check(conn, READ_SCHEMA)
    except psycopg.errors.UndefinedTable:
        raise ConfigurationError(
            "no journal in this database yet: run `billing-ledger up` or `process` once"
        ) from None
    except psycopg.OperationalError as e:
        raise ConfigurationError(f"cannot reach the database: {e}") from None
