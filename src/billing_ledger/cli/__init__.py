"""`billing-ledger`: the one entry point. Exit 0 on success, 2 for bad usage or configuration,
non-zero with a one-line reason otherwise.

`parser.py` declares every command; each command group lives in a module of its own here and is
imported only when it runs, so `--help` and a bad argument answer at once.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from billing_ledger.cli.parser import build_parser
from billing_ledger.errors import BillingLedgerError
from billing_ledger.infra import logs
from billing_ledger.settings import Settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.configure(
            settings.LOG_FORMAT,
            "DEBUG" if args.verbose else settings.LOG_LEVEL,
            secrets=settings.secret_values(),
        )
        result: int = _command(args.command)(settings, args)
    except BillingLedgerError as e:
        print(f"billing-ledger: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


def _command(name: str) -> Callable[..., int]:
    """`module:function` of this package, imported now."""
    module, _, function = name.partition(":")
    command: Callable[..., int] = getattr(
        importlib.import_module(f"billing_ledger.cli.{module}"), function
    )
    return command
