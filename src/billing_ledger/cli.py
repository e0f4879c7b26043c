"""`billing-ledger`: the one entry point. Exit 0 on success, non-zero with a one-line reason."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date

from billing_ledger import __version__, logs
from billing_ledger.errors import BillingLedgerError, ConfigurationError
from billing_ledger.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.configure(settings.LOG_FORMAT, "DEBUG" if args.verbose else settings.LOG_LEVEL)
        result: int = args.run(settings, args)
    except BillingLedgerError as e:
        print(f"billing-ledger: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.runtime import run_up

    run_up(settings)
    return 0


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.runtime import run_ingest

    run_ingest(settings)
    return 0


def _process(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.runtime import run_process

    run_process(settings)
    return 0


def _send_sample(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.database import running_embedded_url
    from billing_ledger.sample import send_samples

    url = args.url or f"http://{settings.HOST}:{settings.PORT}"
    dsn = settings.DATABASE_URL or running_embedded_url(settings.BILLING_LEDGER_HOME)
    return send_samples(url, settings.webhook_secrets()[0], dsn)


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.status import print_status

    return print_status(settings, _database(settings))


def _mrr(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.mrr_report import mrr_rows, parse_month, render

    rows = mrr_rows(
        _database(settings),
        start=parse_month(args.start) if args.start else date.min,
        end=parse_month(args.end) if args.end else date.max,
        currency=args.currency,
        account=args.account,
        livemode={"live": True, "test": False}.get(args.mode or ""),
    )
    print(render(rows, args.json))
    return 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.replay import ReplayRequest, run_replay

    request = ReplayRequest(args.schema, args.from_log, args.restart, args.verify, args.swap)
    return run_replay(settings, _database(settings), request)


def _database(settings: Settings) -> str:
    from billing_ledger.database import running_embedded_url

    dsn = settings.DATABASE_URL or running_embedded_url(settings.BILLING_LEDGER_HOME)
    if dsn is None:
        raise ConfigurationError("no database: set DATABASE_URL or start `billing-ledger up`")
    return dsn


def _secrets(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.operator import check_secrets

    return check_secrets(_database(settings), settings.webhook_secrets())


def _dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    from billing_ledger.operator import list_dead_letters, retry_dead_letters

    dsn = _database(settings)
    if not args.retry:
        return list_dead_letters(dsn)
    from billing_ledger.runtime import open_event_log

    event_log = open_event_log(settings, dsn)
    try:
        return retry_dead_letters(dsn, event_log)
    finally:
        event_log.close()


def _ledger(settings: Settings, args: argparse.Namespace) -> int:
    import psycopg

    from billing_ledger.projections import journal_reports as reports
    from billing_ledger.projections.migrations import READ_SCHEMA

    as_of = reports.end_of(args.as_of) if getattr(args, "as_of", None) else None
    dsn = _database(settings)
    try:
        with psycopg.connect(dsn) as conn:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billing-ledger", description="An event-sourced ledger of Stripe billing."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at DEBUG level (default LOG_LEVEL)"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for name, run, help_text in (
        ("up", _up, "ingest + processor + projectors in one process (embedded Postgres default)"),
        ("ingest", _ingest, "only the webhook endpoint: verify and append to the log"),
        ("process", _process, "only the processor and projectors: follow the log"),
        ("status", _status, "log head, tracked positions and lag"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(run=run)
    sample = commands.add_parser("send-sample", help="sign and post the shipped sample events")
    sample.add_argument("--url", help="base URL of the running instance (default HOST:PORT)")
    sample.set_defaults(run=_send_sample)
    mrr = commands.add_parser("mrr", help="MRR by month with its movements")
    mrr.add_argument("--from", dest="start", metavar="YYYY-MM", help="first month")
    mrr.add_argument("--to", dest="end", metavar="YYYY-MM", help="last month")
    mrr.add_argument("--currency", help="only this currency (e.g. usd)")
    mrr.add_argument("--account", help="only this Connect account ('' for the platform)")
    mrr.add_argument("--mode", choices=("live", "test"), help="only live or test mode")
    mrr.add_argument("--json", action="store_true", help="machine-readable, minor units")
    mrr.set_defaults(run=_mrr)
    replay = commands.add_parser(
        "replay", help="rebuild the read schema from history beside the live one"
    )
    replay.add_argument(
        "--from-log",
        action="store_true",
        help="rebuild the aggregates from the log of record first (else: from domain events)",
    )
    replay.add_argument("--schema", default="billing_rebuild", help="where to rebuild")
    replay.add_argument("--restart", action="store_true", help="start over instead of resuming")
    replay.add_argument(
        "--verify", action="store_true", help="compare with the live tables (exit 1 if they differ)"
    )
    replay.add_argument(
        "--swap", action="store_true", help="make the rebuild live, atomically, keeping grants"
    )
    replay.set_defaults(run=_replay)
    secrets = commands.add_parser("secrets", help="webhook secrets: `secrets check`")
    secrets.add_argument(
        "action", choices=["check"], help="report which secrets verified events recently"
    )
    secrets.set_defaults(run=_secrets)
    letters = commands.add_parser("dead-letters", help="list dead letters (never their bodies)")
    letters.add_argument(
        "--retry", action="store_true", help="re-apply processor dead letters after a fix"
    )
    letters.set_defaults(run=_dead_letters)

    _ledger_parser(commands)
    return parser


def _ledger_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = commands.add_parser(
        "ledger", help="the double-entry journal: balances, entries, check"
    )
    ledger.set_defaults(run=_ledger)
    actions = ledger.add_subparsers(required=True, dest="ledger_command", metavar="ACTION")
    balances = actions.add_parser("balances", help="balance per ledger account and currency")
    balances.add_argument(
        "--as-of", metavar="DATE", help="trial balance at the end of DATE (UTC) or at a date-time"
    )
    entries = actions.add_parser("entries", help="a customer's journal entries with their lines")
    entries.add_argument("--customer", required=True, metavar="cus_…", help="Stripe customer id")
    actions.add_parser("check", help="verify the journal's invariants; non-zero on a violation")
