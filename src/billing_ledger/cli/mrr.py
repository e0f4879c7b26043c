"""`billing-ledger mrr`: MRR by month with its movements, as a table or JSON."""

from __future__ import annotations

import argparse
from datetime import date

from billing_ledger import bootstrap
from billing_ledger.projections.mrr_report import mrr_rows, render
from billing_ledger.settings import Settings


def mrr(settings: Settings, args: argparse.Namespace) -> int:
    with bootstrap.database(settings) as dsn:
        rows = mrr_rows(
            dsn,
            start=args.start or date.min,
            end=args.end or date.max,
            currency=args.currency,
            account=args.account,
            livemode={"live": True, "test": False}.get(args.mode or ""),
        )
    print(render(rows, args.json))
    return 0
