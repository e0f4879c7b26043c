"""Every projection that writes the read schema; each runs with its own tracked position."""

from __future__ import annotations

from billing_ledger.projections.journal import Journal
from billing_ledger.projections.mrr import MrrProjection
from billing_ledger.projections.payment_facts import PaymentFacts
from billing_ledger.projections.projector import Projection
from billing_ledger.projections.reveal import KeyLookup
from billing_ledger.projections.tables import BillingTables


def read_projections(schema: str, keys: KeyLookup, *, rebuilding: bool = False) -> list[Projection]:
    """`keys` opens the personal values the billing tables show (see reveal.py).

    `rebuilding`: MRR defers its recomputation to the end (rebuild.project_all).
    """
    return [
        BillingTables(schema, keys),
        MrrProjection(schema, deferred=rebuilding),
        Journal(schema),
        PaymentFacts(schema),
    ]
