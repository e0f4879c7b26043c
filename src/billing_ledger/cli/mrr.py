"""`billing-ledger mrr`: MRR by month with its movements, as a table or JSON."""

from __future__ import annotations

import argparse
from datetime import date

from billing_ledger import bootstrap
from billing_ledger.projections.mrr_report import MrrRow, mrr_rows, render
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
        if not rows and not args.json:
            print(_nothing_selected(mrr_rows(dsn)))
            return 0
    print(render(rows, args.json))
    return 0


def _nothing_selected(everything: list[MrrRow]) -> str:
    """Why the selection is empty: nothing processed yet, or nothing in the range asked."""
    if not everything:
        return "no MRR yet: no subscription events have been processed"
    months = sorted({row.month for row in everything})
    return (
        f"no MRR in this selection; MRR exists from {months[0]} to {months[-1]} "
        "(see --from, --to, --currency, --account and --mode)"
    )
