"""Every projection that writes the read schema; each runs with its own tracked position."""

from __future__ import annotations

from billing_ledger.projections.journal import Journal
from billing_ledger.projections.mrr import MrrProjection
from billing_ledger.projections.projector import Projection
from billing_ledger.projections.tables import BillingTables


def read_projections(schema: str) -> list[Projection]:
    return [BillingTables(schema), MrrProjection(schema), Journal(schema)]
