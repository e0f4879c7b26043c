"""Every command's arguments. Each names its `module:function` in this package (see main).

A bad argument is one line on stderr and exit 2, before anything connects.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn, TypeAlias

from billing_ledger import __version__
from billing_ledger.errors import ConfigurationError
from billing_ledger.projections.journal_reports import end_of
from billing_ledger.projections.mrr_definitions import parse as parse_definition
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
    _metrics(commands)
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
    _payment_methods(commands)
    _payments(commands)
    _portal_link(commands)
    _dashboard_link(commands)
    _subscriptions(commands)
    _fetching(commands)
    return parser


DURATION = {"m": 60, "h": 3600, "d": 86400}
MAX_LINK_SECONDS = 30 * 86400


def _duration(text: str) -> int:
    unit = DURATION.get(text[-1:])
    if (
        unit is None
        or not text[:-1].isdigit()
        or not 0 < int(text[:-1]) * unit <= (MAX_LINK_SECONDS)
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration up to 30d (e.g. 30m, 1h, 7d)")
    return int(text[:-1]) * unit


def _customer_id(text: str) -> str:
    if not text.startswith("cus_") or not text[4:].isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} is not a Stripe customer id (cus_…)")
    return text


def _portal_link(commands: Commands) -> None:
    link = _command(
        commands,
        "portal-link",
        "links:portal_link",
        "print a signed, expiring link to a customer's pages (payment methods)",
        "BILLING_LEDGER_LINK_SECRET (or _FILE, or the embedded default's key file), "
        "PUBLIC_BASE_URL",
    )
    link.add_argument("customer", metavar="cus_…", type=_customer_id)
    link.add_argument(
        "--expires", type=_duration, default=3600, metavar="DURATION", help="default 1h"
    )
    link.add_argument("--account", default="", metavar="acct_…", help="its Connect account")
    link.add_argument("--live", action="store_true", help="a live-mode customer")
    pay = _command(
        commands,
        "pay-link",
        "links:pay_link",
        "print a fresh signed, expiring link to a payment's page, for a payment that still "
        "needs its customer (its own confirmation_url lasts 7 days from its creation)",
        STRIPE_API + ", BILLING_LEDGER_LINK_SECRET (or _FILE, or the embedded default's key file)",
    )
    pay.add_argument("payment", metavar="pi_…", type=_payment_id)
    pay.add_argument(
        "--expires", type=_duration, default=3600, metavar="DURATION", help="default 1h"
    )
    pay.add_argument("--account", default="", metavar="acct_…", help="its Connect account")


def _payment_id(text: str) -> str:
    if not text.startswith("pi_") or not text[3:].isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} is not a Stripe PaymentIntent id (pi_…)")
    return text


def _account_id(text: str) -> str:
    if text and (not text.startswith("acct_") or not text[5:].isalnum()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Connect account id (acct_…)")
    return text


def _dashboard_link(commands: Commands) -> None:
    link = _command(
        commands,
        "dashboard-link",
        "links:dashboard_link",
        "print a signed, expiring link to the finance dashboard of one account and mode",
        "BILLING_LEDGER_LINK_SECRET (or _FILE, or the embedded default's key file), "
        "PUBLIC_BASE_URL",
    )
    link.add_argument(
        "--expires", type=_duration, default=3600, metavar="DURATION", help="default 1h"
    )
    link.add_argument(
        "--account",
        default="",
        type=_account_id,
        metavar="acct_…",
        help="a Connect account (default: the platform's own)",
    )
    link.add_argument(
        "--livemode", "--live", dest="live", action="store_true", help="live mode (default test)"
    )


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
        if name == "forget":
            command.add_argument(
                "--also-stripe",
                action="store_true",
                help="then delete the customer at Stripe too (reads " + STRIPE_API + ")",
            )
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


def _metrics(commands: Commands) -> None:
    metrics = _command(
        commands,
        "metrics",
        "metrics:metrics_command",
        "MRR, ARR, ARPA, churn, retention, LTV, cohorts, trial and payment conversion, "
        "involuntary churn and dunning recovery, as of the latest event applied",
        DATABASE,
        "MRR_DEFINITION",
    )
    metrics.add_argument(
        "--definition",
        type=_definition,
        metavar="NAME",
        help="also recompute MRR from history under this definition (stripe, all_discounts, "
        "past_due_<N>d, churn_at_cancellation, joined by +) and show it beside the live one",
    )
    metrics.add_argument("--currency", help="only this currency (e.g. usd)")
    metrics.add_argument("--account", help="only this Connect account ('' for the platform)")
    metrics.add_argument("--mode", choices=("live", "test"), help="only live or test mode")
    metrics.add_argument("--json", action="store_true", help="machine-readable, minor units")


def _definition(text: str) -> str:
    try:
        return parse_definition(text).name
    except ConfigurationError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
        help="customers:write, payments:write, subscriptions:write, read (comma-separated)",
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
    create.add_argument(
        "--test-clock", metavar="clock_…", help="test mode: put the customer on a Stripe test clock"
    )
    _acting(create)


def _amounts(text: str) -> list[int]:
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not two amounts in cents (e.g. 32,45)")
    return [int(p) for p in parts]


def _payment_methods(commands: Commands) -> None:
    methods = commands.add_parser(
        "payment-methods",
        help="a customer's payment methods through Stripe: save, verify, attach, detach, default",
        description="Save payment methods with SetupIntents (card, SEPA debit with its mandate, "
        "ACH with microdeposits), attach, detach, make default (rows arrive by webhook).",
    )
    actions = methods.add_subparsers(
        required=True, dest="payment_methods_command", metavar="ACTION"
    )
    function = "payment_methods:payment_methods"
    save = _command(
        actions,
        "save",
        function,
        "save a payment method for later with a SetupIntent; prints succeeded, or "
        "requires_action with next_action_type (redirect_to_url: the 3-D Secure challenge; "
        "verify_with_microdeposits: then `payment-methods verify`)",
        STRIPE_API,
        DATABASE,
    )
    save.add_argument("--customer", required=True, metavar="cus_…")
    save.add_argument("--type", choices=("card", "sepa_debit", "us_bank_account"), default="card")
    save.add_argument("--payment-method", metavar="pm_…", help="e.g. pm_card_visa, pm_sepa_debit")
    save.add_argument(
        "--verification-method",
        choices=("automatic", "instant", "microdeposits"),
        help="us_bank_account only",
    )
    save.add_argument("--mandate-ip", metavar="IP", help="the customer's, as they accepted")
    save.add_argument("--mandate-user-agent", metavar="UA", help="the customer's browser")
    _acting(save)
    verify = _command(
        actions,
        "verify",
        function,
        "verify an ACH bank account waiting for its microdeposits",
        STRIPE_API,
        DATABASE,
    )
    verify.add_argument("setup_intent", metavar="seti_…")
    given = verify.add_mutually_exclusive_group(required=True)
    given.add_argument("--amounts", type=_amounts, metavar="A,B", help="the two, in cents")
    given.add_argument("--descriptor-code", metavar="SM…", help="the code on the statement")
    _acting(verify)
    for name, description in (
        ("attach", "attach a payment method to a customer (--default: and make it the default)"),
        ("detach", "detach a payment method from its customer"),
        ("default", "make an attached payment method the customer's default"),
    ):
        command = _command(actions, name, function, description, STRIPE_API, DATABASE)
        command.add_argument("payment_method", metavar="pm_…")
        if name != "detach":
            command.add_argument("--customer", required=True, metavar="cus_…")
        command.set_defaults(default=name == "default")
        if name == "attach":
            command.add_argument("--default", action="store_true", help="also make it default")
        _acting(command)


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


def _when(text: str) -> int:
    """Unix seconds, or an ISO date/time (UTC unless it names its zone)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither Unix seconds nor an ISO date/time (e.g. 2026-03-01)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _subscriptions(commands: Commands) -> None:
    subscriptions = commands.add_parser(
        "subscriptions",
        help="subscriptions through Stripe: create, change, preview, cancel, resume, pause, "
        "resume-collection, trial",
        description="The Subscription Manager: subscriptions through Stripe (their rows, "
        "invoices and MRR arrive by webhook).",
    )
    actions = subscriptions.add_subparsers(
        required=True, dest="subscriptions_command", metavar="ACTION"
    )
    where = "subscriptions:subscriptions"
    create = _command(
        actions,
        "create",
        where,
        "subscribe a customer; prints active or trialing, requires_action (with "
        "confirmation_url), requires_payment_method, or the decline",
        STRIPE_API,
        DATABASE,
    )
    create.add_argument("--customer", required=True, metavar="cus_…")
    create.add_argument(
        "--price",
        required=True,
        action="append",
        metavar="price_…[:QUANTITY]",
        help="a price, with its quantity after ':' (repeat for several items)",
    )
    create.add_argument("--trial-days", type=_positive, metavar="DAYS")
    create.add_argument(
        "--trial-end-behavior",
        choices=("create_invoice", "cancel", "pause"),
        help="when the trial ends without a payment method (Stripe's default: create_invoice)",
    )
    create.add_argument("--coupon", metavar="COUPON")
    create.add_argument("--promotion-code", metavar="promo_…")
    create.add_argument("--payment-method", metavar="pm_…", help="attached, and the default")
    _acting(create)
    for name, summary in (
        ("change", "swap a price, change a quantity, add or remove items (prorated)"),
        ("preview", "what a change would invoice, without making it"),
    ):
        change = _command(actions, name, where, summary, STRIPE_API, DATABASE)
        change.add_argument("id", metavar="sub_…")
        change.add_argument("--price", metavar="price_…", help="the item's new price")
        change.add_argument("--quantity", type=_positive, help="the item's new quantity")
        change.add_argument("--item", metavar="si_…", help="the item (when there are several)")
        change.add_argument("--add", action="append", metavar="price_…[:QUANTITY]")
        change.add_argument("--remove", action="append", metavar="si_…")
        change.add_argument(
            "--proration-behavior",
            choices=("create_prorations", "always_invoice", "none"),
            default="create_prorations",
        )
        change.add_argument(
            "--proration-date",
            type=_when,
            metavar="WHEN",
            help="prorate as of this time (a preview's, to be invoiced exactly that)",
        )
        _acting(change)
    cancel = _command(
        actions,
        "cancel",
        where,
        "cancel now, --at-period-end, or --at a time",
        STRIPE_API,
        DATABASE,
    )
    cancel.add_argument("id", metavar="sub_…")
    when = cancel.add_mutually_exclusive_group()
    when.add_argument("--at-period-end", action="store_true")
    when.add_argument("--at", type=_when, metavar="WHEN", help="Unix seconds or ISO time")
    _acting(cancel)
    for name, summary in (
        ("resume", "undo a pending cancellation"),
        ("resume-collection", "collect payments again after a pause"),
    ):
        plain = _command(actions, name, where, summary, STRIPE_API, DATABASE)
        plain.add_argument("id", metavar="sub_…")
        _acting(plain)
    pause = _command(actions, "pause", where, "pause collecting payments", STRIPE_API, DATABASE)
    pause.add_argument("id", metavar="sub_…")
    pause.add_argument(
        "--behavior", required=True, choices=("keep_as_draft", "mark_uncollectible", "void")
    )
    pause.add_argument("--resumes-at", type=_when, metavar="WHEN")
    _acting(pause)
    trial = _command(actions, "trial", where, "extend or end a trial", STRIPE_API, DATABASE)
    trial.add_argument("id", metavar="sub_…")
    end = trial.add_mutually_exclusive_group(required=True)
    end.add_argument("--end-now", action="store_true", help="end it now and invoice")
    end.add_argument("--extend-to", type=_when, metavar="WHEN", help="the new trial end")
    _acting(trial)
