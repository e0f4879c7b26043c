"""`billing-ledger`: the one entry point. Exit 0 on success, non-zero with a one-line reason."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from billing_ledger import __version__, logs
from billing_ledger.errors import BillingLedgerError
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

    return print_status(settings)


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
    return parser
