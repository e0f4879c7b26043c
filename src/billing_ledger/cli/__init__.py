"""`billing-ledger`: the one entry point. Exit 0 on success, 2 for bad usage or configuration,
non-zero with a one-line reason otherwise.

`parser.py` declares every command; each command group lives in a module of its own here and is
imported only when it runs, so `--help` and a bad argument answer at once.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

import psycopg

from billing_ledger.cli.parser import build_parser
from billing_ledger.errors import BillingLedgerError
from billing_ledger.infra import logs
from billing_ledger.settings import Settings

__all__ = ["main"]

log = logging.getLogger("billing_ledger")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help, --version, or a usage error already explained
            return e.code if isinstance(e.code, int) else 2
        settings = Settings.from_env()
        logs.configure(
            settings.LOG_FORMAT,
            "DEBUG" if args.verbose else settings.LOG_LEVEL,
            secrets=settings.secret_values(),
        )
        result: int = _command(args.command)(settings, args)
        sys.stdout.flush()  # inside the try: a reader gone by now is one more broken pipe
    except BillingLedgerError as e:
        print(f"billing-ledger: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except psycopg.OperationalError as e:
        print(f"billing-ledger: cannot reach the database: {_first_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: one line for the user, the traceback only with -v
        log.debug("unexpected error", exc_info=True)
        print(
            f"billing-ledger: unexpected error ({type(e).__name__}: {_first_line(e)}); "
            "run again with -v for the details",
            file=sys.stderr,
        )
        return 1
    return result


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def _reader_gone() -> int:
    """Whoever read our output (`| head`) has stopped: say nothing more, exit as a shell would.

    Python would otherwise report the broken pipe again when it flushes stdout at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def _command(name: str) -> Callable[..., int]:
    """`module:function` of this package, imported now."""
    module, _, function = name.partition(":")
    command: Callable[..., int] = getattr(
        importlib.import_module(f"billing_ledger.cli.{module}"), function
    )
    return command
