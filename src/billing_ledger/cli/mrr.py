"""`billing-ledger mrr`: MRR by month with its movements, as a table or JSON."""

from __future__ import annotations

import argparse
from datetime import date

from billing_ledger import bootstrap
from billing_ledger.projections.mrr_report import mrr_rows, parse_month, render
from billing_ledger.settings import Settings


def mrr(settings: Settings, args: argparse.Namespace) -> int:
    rows = mrr_rows(
        bootstrap.running_database(settings),
        start=parse_month(args.start) if args.start else date.min,
        end=parse_month(args.end) if args.end else date.max,
        currency=args.currency,
        account=args.account,
        livemode={"live": True, "test": False}.get(args.mode or ""),
    )
    print(render(rows, args.json))
    return 0
