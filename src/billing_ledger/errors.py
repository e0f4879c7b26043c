"""The root of every error billing-ledger raises on purpose.

    BillingLedgerError
    ├── ConfigurationError          settings missing or invalid (settings.py)
    ├── LogError                    the log of record (eventlog/)
    │   └── LogUnavailable          the log cannot durably accept or serve records now
    └── EmbeddedDatabaseError       the embedded PostgreSQL could not be started (database.py)

Each layer translates third-party exceptions where they enter (`raise LogUnavailable(...) from e`)
so callers never need to know which driver sits behind a port.
"""

from __future__ import annotations


class BillingLedgerError(Exception):
    """Base class of billing-ledger's own errors."""


class ConfigurationError(BillingLedgerError):
    """A setting is missing or invalid; the message names it and says how to fix it."""
