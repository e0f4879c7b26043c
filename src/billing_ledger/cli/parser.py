"""Every command's arguments. Each names its `module:function` in this package (see main)."""

from __future__ import annotations

import argparse
from typing import TypeAlias

from billing_ledger import __version__

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billing-ledger", description="An event-sourced ledger of Stripe billing."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at DEBUG level (default LOG_LEVEL)"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for name, command, help_text in (
        ("up", "run:up", "webhook endpoint, processor and projector (embedded Postgres default)"),
        ("ingest", "run:ingest", "only the webhook endpoint: verify and append to the log"),
        ("process", "run:process", "only the processor and projectors: follow the log"),
        ("status", "status:status", "log head, tracked positions and lag"),
    ):
        commands.add_parser(name, help=help_text).set_defaults(command=command)
    sample = commands.add_parser("send-sample", help="sign and post the shipped sample events")
    sample.add_argument("--url", help="base URL of the running instance (default HOST:PORT)")
    sample.set_defaults(command="sample:send_sample")
    _mrr(commands)
    _replay(commands)
    secrets = commands.add_parser("secrets", help="webhook secrets: `secrets check`")
    secrets.add_argument(
        "action", choices=["check"], help="report which secrets verified events recently"
    )
    secrets.set_defaults(command="webhook_secrets:secrets")
    letters = commands.add_parser("dead-letters", help="list dead letters (never their bodies)")
    letters.add_argument(
        "--retry", action="store_true", help="re-apply processor dead letters after a fix"
    )
    letters.set_defaults(command="dead_letters:dead_letters")
    _ledger(commands)
    return parser


def _mrr(commands: Commands) -> None:
    mrr = commands.add_parser("mrr", help="MRR by month with its movements")
    mrr.add_argument("--from", dest="start", metavar="YYYY-MM", help="first month")
    mrr.add_argument("--to", dest="end", metavar="YYYY-MM", help="last month")
    mrr.add_argument("--currency", help="only this currency (e.g. usd)")
    mrr.add_argument("--account", help="only this Connect account ('' for the platform)")
    mrr.add_argument("--mode", choices=("live", "test"), help="only live or test mode")
    mrr.add_argument("--json", action="store_true", help="machine-readable, minor units")
    mrr.set_defaults(command="mrr:mrr")


def _replay(commands: Commands) -> None:
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
    replay.set_defaults(command="replay:replay")


def _ledger(commands: Commands) -> None:
    ledger = commands.add_parser(
        "ledger", help="the double-entry journal: balances, entries, check"
    )
    ledger.set_defaults(command="ledger:ledger")
    actions = ledger.add_subparsers(required=True, dest="ledger_command", metavar="ACTION")
    balances = actions.add_parser("balances", help="balance per ledger account and currency")
    balances.add_argument(
        "--as-of", metavar="DATE", help="trial balance at the end of DATE (UTC) or at a date-time"
    )
    entries = actions.add_parser("entries", help="a customer's journal entries with their lines")
    entries.add_argument("--customer", required=True, metavar="cus_…", help="Stripe customer id")
    actions.add_parser("check", help="verify the journal's invariants; non-zero on a violation")
