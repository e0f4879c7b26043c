"""The root of every error billing-ledger raises on purpose.

    BillingLedgerError
    ├── ConfigurationError          settings missing or invalid (settings.py)
    ├── EmbeddedDatabaseError       the embedded PostgreSQL could not be started (infra/database.py)
    ├── SignatureError              a webhook is not proven to come from Stripe (ingest/)
    ├── MalformedEvent              a verified body is not a Stripe event (schemas/)
    ├── UnprocessableEvent          an event of a handled type cannot be read (domain/)
    ├── WholeHistoryNeeded          an aggregate must be loaded from all its events (domain/)
    ├── LogError                    the log of record (eventlog/)
    │   └── LogUnavailable          the log cannot durably accept or serve records now
    ├── AlreadyReapplied            a dead letter's retry was already recorded (processing/)
    └── ReplayError                 a replay cannot go on, and says what to do (cli/replay.py)

Each layer translates third-party exceptions where they enter (`raise LogUnavailable(...) from e`)
so callers never need to know which driver sits behind a port.
"""

from __future__ import annotations


class BillingLedgerError(Exception):
    """Base class of billing-ledger's own errors."""


class ConfigurationError(BillingLedgerError):
    """A setting is missing or invalid; the message names it and says how to fix it."""
