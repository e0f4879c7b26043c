"""The journal without a database: real aggregates in memory, the real posting rules, and a
dict keyed like the table's unique key (a taken key posts nothing, as ON CONFLICT DO NOTHING)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from billing_ledger.domain.handling import apply_stripe_event
from billing_ledger.ledger.entries import Entry, History
from billing_ledger.ledger.posting import DomainEvent, post, sources_of
from billing_ledger.schemas.envelope import parse_event
from tests.support.domain_memory import Memory
from tests.support.webhooks import body_of


class Books(Memory):
    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], Entry] = {}
        self.versions: dict[tuple[str, str], int] = {}  # the aggregate version that posted it
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
        version = domain_event.originator_version
        histories = {source: self.history(source, version) for source in sources_of(domain_event)}
        posted = []
        for entry in post(domain_event, histories):
            key = (entry.source_object, entry.transition)
            if key not in self.entries:
                self.entries[key] = entry
                self.versions[key] = version
                posted.append(entry)
        return posted

    def history(self, source: str, before_version: int | None = None) -> History:
        """The source's entries, or those posted by aggregate versions before `before_version`."""
        return {
            t: e
            for (s, t), e in self.entries.items()
            if s == source and (before_version is None or self.versions[(s, t)] < before_version)
        }

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
