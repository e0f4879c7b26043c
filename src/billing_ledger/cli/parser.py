"""Every command's arguments. Each names its `module:function` in this package (see main).

A bad argument is one line on stderr and exit 2, before anything connects.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn, TypeAlias

from billing_ledger import __version__
from billing_ledger.errors import ConfigurationError
from billing_ledger.projections.journal_reports import end_of
from billing_ledger.projections.mrr_report import parse_month

Commands: TypeAlias = "argparse._SubParsersAction[OneLineErrors]"

DATABASE = "DATABASE_URL (or the embedded server under BILLING_LEDGER_HOME)"
LOG_OF_RECORD = "EVENT_LOG, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC and the other KAFKA_* settings"
SECRETS = "STRIPE_WEBHOOK_SECRETS (or STRIPE_WEBHOOK_SECRETS_FILE)"
MASTER_KEY = "BILLING_LEDGER_MASTER_KEY (or _FILE, or the embedded default's key file)"
SERVER = "HOST, PORT, TLS_CERTFILE, TLS_KEYFILE, WEBHOOK_TOLERANCE_SECONDS, MAX_BODY_BYTES"
STRIPE_API = "STRIPE_API_KEY (or STRIPE_API_KEY_FILE), STRIPE_API_BASE, PUBLIC_BASE_URL"


class OneLineErrors(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what is wrong, and where help is) and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> OneLineErrors:
    parser = OneLineErrors(
        prog="billing-ledger",
        description="An event-sourced ledger of Stripe billing.",
        epilog="Every command also reads LOG_FORMAT and LOG_LEVEL. See the README for settings.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at DEBUG level (default LOG_LEVEL)"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _command(
        commands,
        "up",
        "run:up",
        "the webhook endpoint, the processor and the projector (in a child process), until "
        "Ctrl-C; PostgreSQL is embedded unless DATABASE_URL is set",
        SECRETS,
        DATABASE,
        LOG_OF_RECORD,
        SERVER,
        STRIPE_API,
    )
    _command(
        commands,
        "ingest",
        "run:ingest",
        "only the webhook endpoint (and /api/v1): verify each signature and append to the log "
        "of record",
        SECRETS,
        DATABASE,
        LOG_OF_RECORD,
        SERVER,
        STRIPE_API,
    )
    _command(
        commands,
        "process",
        "run:process",
        "only the processor and the projector: follow the log of record into the tables",
        DATABASE,
        LOG_OF_RECORD,
    )
    _command(
        commands,
        "status",
        "status:status",
        "the log's head, the positions processed and projected, and the lag",
        DATABASE,
        LOG_OF_RECORD,
    )
    sample = _command(
        commands,
        "send-sample",
        "sample:send_sample",
        "sign the shipped sample events as Stripe would, post them to a running instance and "
        "print the rows they produced",
        SECRETS,
        "HOST, PORT",
        DATABASE,
    )
    sample.add_argument("--url", help="base URL of the running instance (default HOST:PORT)")
    _mrr(commands)
    _replay(commands)
    _secrets(commands)
    letters = _command(
        commands,
        "dead-letters",
        "dead_letters:dead_letters",
        "list the dead letters (never their bodies), or retry the processor's after a fix",
        DATABASE,
        LOG_OF_RECORD + " (with --retry)",
    )
    letters.add_argument(
        "--retry", action="store_true", help="re-apply processor dead letters after a fix"
    )
    _ledger(commands)
    _privacy(commands)
    _tokens(commands)
    _fake_stripe(commands)
    _customers(commands)
    _payments(commands)
    _fetching(commands)
    return parser


def _fetching(commands: Commands) -> None:
    backfill = _command(
        commands,
        "backfill",
        "backfill:backfill",
        "append every object Stripe's list endpoints show (customers, subscriptions of every "
        "status, invoices, payments, charges, refunds, disputes, payment methods, coupons) to "
        "the log as listed snapshots; resumable: run it again after a crash or Ctrl-C",
        STRIPE_API,
        DATABASE,
        LOG_OF_RECORD,
        MASTER_KEY,
    )
    backfill.add_argument(
        "--since", type=_day, metavar="DATE", help="only objects created on or after DATE (UTC)"
    )
    backfill.add_argument(
        "--account", default="", metavar="acct_…", help="a Connect account (Stripe-Account)"
    )
    backfill.add_argument(
        "--rate",
        type=_rate,
        default=20.0,
        metavar="N",
        help="at most N requests a second (default 20; Stripe allows 25 in test, 100 live)",
    )
    reconcile = _command(
        commands,
        "reconcile",
        "backfill:reconcile",
        "append every event of Stripe's last 30 days (/v1/events) the log lacks, marked as "
        "fetched, and report how many were missing, per type; `up` runs it hourly",
        STRIPE_API,
        DATABASE,
        LOG_OF_RECORD,
        MASTER_KEY,
    )
    reconcile.add_argument(
        "--account", default="", metavar="acct_…", help="a Connect account (Stripe-Account)"
    )
    reconcile.add_argument(
        "--objects",
        action="store_true",
        help="also compare object counts and states with the list endpoints and report drift, "
        "deleted objects included",
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate between 0 and 100 requests/s")
    return rate


def _privacy(commands: Commands) -> None:
    identity = {
        "--account": "the Connect account ('' for the platform), when the id is in several",
        "--mode": "live or test, when the id is in both",
    }
    for name, function, description in (
        (
            "forget",
            "privacy:forget",
            "erase a person: destroy their data key and redact their rows; the log and every "
            "amount, status and journal line stay as they are",
        ),
        (
            "export",
            "privacy:export",
            "everything the ledger holds about a person, as JSON (GDPR article 15)",
        ),
    ):
        command = _command(
            commands, name, function, description, DATABASE, MASTER_KEY, LOG_OF_RECORD
        )
        command.add_argument("subject", metavar="cus_…", help="the Stripe customer id")
        command.add_argument("--account", help=identity["--account"])
        command.add_argument("--mode", choices=("live", "test"), help=identity["--mode"])
    keys = commands.add_parser(
        "keys",
        help="the master key of personal data: `keys generate`, `keys rotate`",
        description="The master key that wraps every person's data key.",
    )
    actions = keys.add_subparsers(required=True, dest="keys_command", metavar="ACTION")
    _command(actions, "generate", "keys:generate", "print a new master key (base64)")
    rotate = _command(
        actions,
        "rotate",
        "keys:rotate",
        "wrap every data key with a new master key, without rewriting any event; stop the "
        "other processes first",
        DATABASE,
        MASTER_KEY,
    )
    rotate.add_argument(
        "--new-key-file",
        type=Path,
        metavar="PATH",
        help="the new key (created if missing); required unless the key is the embedded one",
    )
    migrate = _command(
        commands,
        "migrate-log",
        "migrate_log:migrate_log",
        "rewrite a log written before sealing into the sealed format (once, processes "
        "stopped, as the log's owner)",
        DATABASE,
        MASTER_KEY,
        LOG_OF_RECORD,
    )
    migrate.add_argument(
        "--to-topic", help="with EVENT_LOG=kafka: the new topic (default KAFKA_TOPIC.sealed)"
    )


def _command(
    commands: Commands, name: str, command: str, description: str, *environment: str
) -> OneLineErrors:
    """A command whose help says what it does and which settings it reads."""
    first_sentence = description.split(";")[0].split(":")[0]
    parser = commands.add_parser(
        name,
        help=first_sentence,
        description=description[0].upper() + description[1:] + ".",
        epilog="Reads " + "; ".join(environment) + "." if environment else None,
    )
    parser.set_defaults(command=command)
    return parser


def _month(text: str) -> date:
    try:
        return parse_month(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)") from None


def _moment(text: str) -> datetime:
    try:
        return end_of(text)
    except ConfigurationError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or date-time (2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from None


def _mrr(commands: Commands) -> None:
    mrr = _command(
        commands, "mrr", "mrr:mrr", "MRR at the end of each month with its movements", DATABASE
    )
    mrr.add_argument("--from", dest="start", type=_month, metavar="YYYY-MM", help="first month")
    mrr.add_argument("--to", dest="end", type=_month, metavar="YYYY-MM", help="last month")
    mrr.add_argument("--currency", help="only this currency (e.g. usd)")
    mrr.add_argument("--account", help="only this Connect account ('' for the platform)")
    mrr.add_argument("--mode", choices=("live", "test"), help="only live or test mode")
    mrr.add_argument("--json", action="store_true", help="machine-readable, minor units")


def _replay(commands: Commands) -> None:
    replay = _command(
        commands,
        "replay",
        "replay:replay",
        "rebuild the read schema from history beside the live one; compare it, or swap it in. "
        "Resumable: run the same command again after an interruption",
        DATABASE,
        LOG_OF_RECORD + " (with --from-log)",
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


def _secrets(commands: Commands) -> None:
    secrets = commands.add_parser(
        "secrets",
        help="webhook secrets: `secrets check`",
        description="Webhook secrets, by position and fingerprint (never the secret itself).",
    )
    actions = secrets.add_subparsers(required=True, dest="secrets_command", metavar="ACTION")
    _command(
        actions,
        "check",
        "webhook_secrets:secrets",
        "which configured webhook secrets verified events recently, so a rotated-out one can "
        "be retired safely; exit 1 if none ever did",
        SECRETS,
        DATABASE,
    )


def _ledger(commands: Commands) -> None:
    ledger = commands.add_parser(
        "ledger",
        help="the double-entry journal: balances, entries, check",
        description="The double-entry journal projected from Stripe's events.",
    )
    actions = ledger.add_subparsers(required=True, dest="ledger_command", metavar="ACTION")
    balances = _command(
        actions,
        "balances",
        "ledger:ledger",
        "the balance of each ledger account per currency, and the trial balance's sum",
        DATABASE,
    )
    balances.add_argument(
        "--as-of",
        type=_moment,
        metavar="DATE",
        help="trial balance at the end of DATE (UTC) or at a date-time",
    )
    entries = _command(
        actions,
        "entries",
        "ledger:ledger",
        "a customer's journal entries with their lines",
        DATABASE,
    )
    entries.add_argument("--customer", required=True, metavar="cus_…", help="Stripe customer id")
    _command(
        actions,
        "check",
        "ledger:ledger",
        "verify the journal's invariants (every entry balances, the trial balance is zero at "
        "every moment, receivables, revenue and refunds reconcile); exit 1 on a violation",
        DATABASE,
    )


def _tokens(commands: Commands) -> None:
    tokens = commands.add_parser(
        "tokens",
        help="API bearer tokens: create, list, revoke",
        description="Bearer tokens of the HTTP API (/api/v1), with scopes; stored hashed.",
    )
    actions = tokens.add_subparsers(required=True, dest="tokens_command", metavar="ACTION")
    create = _command(
        actions,
        "create",
        "tokens:tokens",
        "create a token and print it once on stdout (only its hash is kept)",
        DATABASE,
    )
    create.add_argument("--name", required=True, help="who uses it, e.g. the calling service")
    create.add_argument(
        "--scope",
        required=True,
        metavar="SCOPE[,SCOPE…]",
        help="customers:write, payments:write, read (comma-separated)",
    )
    _command(actions, "list", "tokens:tokens", "every token's name, scopes and state", DATABASE)
    revoke = _command(
        actions,
        "revoke",
        "tokens:tokens",
        "revoke a token: it never authenticates again",
        DATABASE,
    )
    revoke.add_argument("name", metavar="NAME")


def _fake_stripe(commands: Commands) -> None:
    fake = _command(
        commands,
        "fake-stripe",
        "fake_stripe:fake_stripe",
        "a stateful stand-in for Stripe's API for development: keeps objects, follows Stripe's "
        "state machines and test payment methods, sends signed webhooks to --webhook-url",
        SECRETS + " (the first signs the webhooks)",
    )
    fake.add_argument("--host", default="127.0.0.1", help="where to listen (default 127.0.0.1)")
    fake.add_argument("--port", type=int, default=12113, help="port (default 12113)")
    fake.add_argument(
        "--webhook-url",
        required=True,
        metavar="URL",
        help="the ingest endpoint, e.g. http://127.0.0.1:8000/webhooks/stripe",
    )
    fake.add_argument(
        "--settle-seconds",
        type=float,
        default=2.0,
        help="how long bank debits (SEPA, ACH) stay processing (default 2)",
    )


def _acting(parser: OneLineErrors) -> None:
    parser.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="the command's key: run again with it and nothing is done twice (default: new)",
    )
    parser.add_argument(
        "--account", default="", metavar="acct_…", help="act for this Connect account"
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in minor units (e.g. 2000)")
    return int(text)


def _customers(commands: Commands) -> None:
    customers = commands.add_parser(
        "customers",
        help="customers through Stripe: create",
        description="Customers, created through Stripe (their rows arrive by webhook).",
    )
    actions = customers.add_subparsers(required=True, dest="customers_command", metavar="ACTION")
    create = _command(
        actions,
        "create",
        "customers:customers",
        "create a customer at Stripe; --payment-method (e.g. pm_card_visa) is attached and made "
        "the default",
        STRIPE_API,
        DATABASE,
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name")
    create.add_argument("--user-id", help="the platform's user id (metadata.user_id)")
    create.add_argument("--payment-method", metavar="pm_…")
    _acting(create)


def _payments(commands: Commands) -> None:
    payments = commands.add_parser(
        "payments",
        help="payments through Stripe: create, refund",
        description="One-off payments and refunds through Stripe (rows arrive by webhook).",
    )
    actions = payments.add_subparsers(required=True, dest="payments_command", metavar="ACTION")
    create = _command(
        actions,
        "create",
        "payments:payments",
        "charge a customer once; prints succeeded, processing, requires_action (with "
        "confirmation_url) or the failure",
        STRIPE_API,
        DATABASE,
    )
    create.add_argument("--customer", required=True, metavar="cus_…")
    create.add_argument("--amount", required=True, type=_positive, help="minor units, e.g. 2000")
    create.add_argument("--currency", required=True, help="ISO code, e.g. eur")
    create.add_argument("--payment-method", required=True, metavar="pm_…")
    _acting(create)
    refund = _command(
        actions,
        "refund",
        "payments:payments",
        "refund all of a payment, or --amount of it",
        STRIPE_API,
        DATABASE,
    )
    refund.add_argument("payment", metavar="pi_…")
    refund.add_argument("--amount", type=_positive, help="minor units (default: all)")
    _acting(refund)
