"""billing-ledger: an event-sourced ledger of Stripe billing."""

from __future__ import annotations

__version__ = "0.1.0"
