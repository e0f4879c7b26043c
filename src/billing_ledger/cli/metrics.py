"""`billing-ledger metrics`: the business metrics under the live MRR definition, and with
`--definition NAME` the MRR metrics recomputed from history under another, side by side."""

from __future__ import annotations

import argparse

import psycopg

from billing_ledger import bootstrap
from billing_ledger.errors import ConfigurationError
from billing_ledger.projections import metrics
from billing_ledger.projections.metrics_report import as_json, as_text
from billing_ledger.projections.mrr_definitions import parse
from billing_ledger.settings import Settings


def metrics_command(settings: Settings, args: argparse.Namespace) -> int:
    other = parse(args.definition) if args.definition else None
    selection = metrics.Selection(
        args.account, {"live": True, "test": False}.get(args.mode or ""), args.currency
    )
    with bootstrap.database(settings) as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        if not metrics.available(conn):
            raise ConfigurationError(
                "the read schema has no metrics yet: run `billing-ledger process` (or `up`) "
                "once, which migrates it"
            )
        live = metrics.live_definition(conn)
        found = metrics.read(conn, selection)
        compared = (other.name, metrics.under_definition(conn, other, selection)) if other else None
    render = as_json if args.json else as_text
    print(render(live.name, settings.MRR_DEFINITION, found, compared))
    return 0
