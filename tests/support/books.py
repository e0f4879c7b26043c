"""The journal without a database: real aggregates in memory, the real posting rules, and a
dict keyed like the table's unique key (a taken key posts nothing, as ON CONFLICT DO NOTHING)."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

from billing_ledger.domain.handling import apply_stripe_event
from billing_ledger.domain.invoice import Invoice
from billing_ledger.ledger.entries import Entry, History
from billing_ledger.ledger.posting import DomainEvent, named_payment, post, sources_of
from billing_ledger.schemas.envelope import parse_event
from tests.support.domain_memory import Memory
from tests.support.webhooks import body_of


class Books(Memory):
    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], Entry] = {}
        # The aggregate (and its version) that posted each entry.
        self.origins: dict[tuple[str, str], tuple[UUID, int]] = {}
        self.named_by: dict[str, str] = {}  # payment → the invoice naming it (older API)
        self.projected: list[DomainEvent] = []

    def deliver(self, *documents: dict[str, Any]) -> list[Entry]:
        """Apply Stripe events to the aggregates and post what their domain events imply."""
        posted: list[Entry] = []
        for document in documents:
            touched = apply_stripe_event(parse_event(body_of(document)), self.load)
            domain_events = [e for aggregate in touched for e in aggregate.pending_events]
            self.app.save(*touched)
            for domain_event in domain_events:
                posted += self.project(domain_event)
        return posted

    def project(self, domain_event: object) -> list[Entry]:
        if not isinstance(domain_event, DomainEvent):
            return []
        self.projected.append(domain_event)
        origin = (domain_event.originator_id, domain_event.originator_version)
        if isinstance(domain_event, Invoice.Recorded | Invoice.Revised):
            named = named_payment(domain_event)
            if named is not None:
                known = self.named_by.get(named, domain_event.stripe_id)
                self.named_by[named] = min(known, domain_event.stripe_id)
        sources = sources_of(domain_event)
        histories = {source: self.history(source, origin) for source in sources}
        posted = []
        named_by = self.named_by.get(domain_event.stripe_id)
        for entry in post(domain_event, histories, named_by):
            key = (entry.source_object, entry.transition)
            if key not in self.entries:
                self.entries[key] = entry
                self.origins[key] = origin
                posted.append(entry)
        return posted

    def history(self, source: str, before: tuple[UUID, int] | None = None) -> History:
        """The source's entries; or, `before` an aggregate's version, those its earlier
        versions and other aggregates posted (as the journal projection reads them)."""

        def seen(key: tuple[str, str]) -> bool:
            if before is None:
                return True
            originator, version = self.origins[key]
            return originator != before[0] or version < before[1]

        return {t: e for (s, t), e in self.entries.items() if s == source and seen((s, t))}

    def balances(self) -> dict[tuple[str, str], int]:
        """Debits minus credits per (ledger account, currency); zero balances left out."""
        totals: Counter[tuple[str, str]] = Counter()
        for entry in self.entries.values():
            for line in entry.lines:
                totals[(line.ledger_account.value, line.currency)] += line.amount
        return {key: value for key, value in totals.items() if value}

    def receivable_of(self, customer_id: str) -> int:
        return sum(
            line.amount
            for entry in self.entries.values()
            for line in entry.lines
            if line.ledger_account == "accounts_receivable" and line.customer_id == customer_id
        )
