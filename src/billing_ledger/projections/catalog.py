"""Every projection that writes the read schema; each runs with its own tracked position."""

from __future__ import annotations

from billing_ledger.projections.journal import Journal
from billing_ledger.projections.mrr import MrrProjection
from billing_ledger.projections.projector import Projection
from billing_ledger.projections.tables import BillingTables


def read_projections(schema: str, *, rebuilding: bool = False) -> list[Projection]:
    """`rebuilding`: MRR defers its recomputation to the end (rebuild.project_all)."""
    return [BillingTables(schema), MrrProjection(schema, deferred=rebuilding), Journal(schema)]
