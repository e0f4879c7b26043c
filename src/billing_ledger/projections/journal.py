"""Writes the double-entry journal: domain events → `{schema}.journal_entries` and `journal_lines`.

For each event that concerns money (invoices, payments, disputes), the entries its aggregate
had posted for its source objects *before* it (by aggregate version, kept in
`journal_entry_origins`) are read back, and the pure rules of `ledger/` say what is missing.
The entries of every source object a batch touches are read once, when the batch starts, and
kept up to date in memory as the batch posts (the projector's lock on its position makes this
batch the only writer of the journal meanwhile), so posting needs no round trip per event;
the batch's new rows are written at its end, one multi-row statement per table.
Each source object's entries come from one aggregate, so replaying any event sees the history
it saw the first time and derives the same entries, which `ON CONFLICT DO NOTHING` on (account,
livemode, source object, transition) then refuses: redelivery and replay post nothing twice.
Ids are uuid5 of that key, and every value comes from the event, so a rebuild writes the same
journal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_URL, UUID

import psycopg

from billing_ledger.domain.invoice import Invoice
from billing_ledger.domain.payment import Payment
from billing_ledger.ledger.accounts import Account
from billing_ledger.ledger.entries import Entry, History, Line
from billing_ledger.ledger.posting import (
    MONEY_EVENTS,
    DomainEvent,
    named_payment,
    post,
    sources_of,
)
from billing_ledger.projections.bulk import BulkWriter
from billing_ledger.projections.sqltext import in_schema

Cursor = psycopg.Cursor[Any]

POSTED = """
SELECT e.account_id, e.livemode, e.source_object, e.transition, e.kind, e.description,
       e.occurred_at, r.transition, e.id, l.id, l.ledger_account, l.debit_cents - l.credit_cents,
       l.currency, l.customer_id, o.originator_id, o.originator_version
FROM unnest(%s::text[], %s::boolean[], %s::text[]) AS k(account_id, livemode, source_object)
JOIN {schema}.journal_entries e ON e.account_id = k.account_id AND e.livemode = k.livemode
  AND e.source_object = k.source_object
LEFT JOIN {schema}.journal_lines l ON l.entry_id = e.id
LEFT JOIN {schema}.journal_entry_origins o ON o.entry_id = e.id
LEFT JOIN {schema}.journal_entries r ON r.id = e.reversal_of
"""
# The columns of the rows a batch posts (EntryRow, OriginRow, LineRow and the namings), in the
# order of their tuples.
ENTRY_COLUMNS = (
    "id",
    "account_id",
    "livemode",
    "occurred_at",
    "kind",
    "description",
    "source_object",
    "transition",
    "stripe_event_id",
    "reversal_of",
)
ORIGIN_COLUMNS = ("entry_id", "originator_id", "originator_version")
NAMING_INVOICES = """
SELECT k.account_id, k.livemode, k.payment_source, min(n.invoice_source)
FROM unnest(%s::text[], %s::boolean[], %s::text[]) AS k(account_id, livemode, payment_source)
JOIN {schema}.journal_payment_invoices n ON n.account_id = k.account_id
  AND n.livemode = k.livemode AND n.payment_source = k.payment_source
GROUP BY 1, 2, 3
"""
NAMING_COLUMNS = ("account_id", "livemode", "payment_source", "invoice_source")
LINE_COLUMNS = (
    "id",
    "account_id",
    "livemode",
    "entry_id",
    "ledger_account",
    "customer_id",
    "debit_cents",
    "credit_cents",
    "currency",
)


def entry_id(account_id: str, livemode: bool, source_object: str, transition: str) -> UUID:
    """uuid5 of `journal:{account}:{livemode}:{source object}:{transition}`."""
    key = f"journal:{account_id}:{str(livemode).lower()}:{source_object}:{transition}"
    return _uuid5(_URL, key)


_URL = NAMESPACE_URL.bytes


def _uuid5(namespace: bytes, name: str) -> UUID:
    """`uuid.uuid5` of the namespace whose bytes are given (what it computes, without reading
    the namespace's bytes and importing sha1 anew for each of a batch's thousands of ids)."""
    return UUID(bytes=sha1(namespace + name.encode()).digest()[:16], version=5)


Source = tuple[str, bool, str]  # (account_id, livemode, source object)
# The rows of ENTRY_COLUMNS, ORIGIN_COLUMNS and LINE_COLUMNS.
EntryRow = tuple[UUID, str, bool, datetime, str, str, str, str, str, UUID | None]
OriginRow = tuple[UUID, UUID, int]
LineRow = tuple[UUID, str, bool, UUID, str, str | None, int, int, str]


@dataclass(frozen=True)
class _Posted:
    """One line of a posted entry, with the aggregate (and its version) that posted it."""

    entry_id: UUID
    line_id: UUID
    originator: UUID
    version: int
    source: str
    transition: str
    kind: str
    description: str
    occurred_at: datetime
    reversal_of: str | None
    line: Line


@dataclass
class _NewRows:
    """The rows a batch posts, written at its end."""

    entries: list[EntryRow] = field(default_factory=list)
    origins: list[OriginRow] = field(default_factory=list)
    lines: list[LineRow] = field(default_factory=list)
    namings: list[tuple[str, bool, str, str]] = field(default_factory=list)


class Journal:
    """Projects the posting rules' entries into `{schema}`'s journal tables."""

    name = "journal"
    reads = MONEY_EVENTS

    def __init__(self, schema: str) -> None:
        self._posted = in_schema(POSTED, schema)
        self._naming_invoices = in_schema(NAMING_INVOICES, schema)
        self._bulk = BulkWriter(schema)
        self._lines: dict[Source, list[_Posted]] = {}
        # Each source's history as last built, with the number of its lines it was built from.
        self._history_of: dict[Source, tuple[int, History]] = {}
        self._taken: set[tuple[Source, str]] = set()  # (source, transition) keys in use
        # The invoice naming each payment of the batch as its own (older API versions).
        self._named_by: dict[Source, str] = {}
        self._new = _NewRows()

    def prepare(self, cur: Cursor, events: Sequence[object]) -> None:
        """Read the entries of every source object the batch's events touch, and the invoices
        naming its payments, in two queries. (Also forgets what a failed batch left unwritten:
        the retry starts clean.)"""
        self._lines = {}
        self._history_of = {}
        self._taken = set()
        self._named_by = {}
        self._new = _NewRows()
        keys = sorted(
            {
                (event.account_id, event.livemode, source)
                for event in events
                if isinstance(event, DomainEvent)
                for source in sources_of(event)
            }
        )
        if not keys:
            return
        accounts, modes, sources = (list(column) for column in zip(*keys, strict=True))
        for row in cur.execute(self._posted, (accounts, modes, sources)).fetchall():
            account_id, livemode, source, transition, kind, text, at, reversed_ = row[:8]
            entry, line, account, amount, currency, customer, originator, version = row[8:]
            key = (account_id, livemode, source)
            self._taken.add((key, transition))
            if line is None or version is None:
                continue  # not part of a history (as the inner joins of posting always were)
            line_ = Line(Account(account), amount, currency, customer)
            self._lines.setdefault(key, []).append(
                _Posted(
                    entry,
                    line,
                    originator,
                    version,
                    source,
                    transition,
                    kind,
                    text,
                    at,
                    reversed_,
                    line_,
                )
            )
        payments = sorted(
            {
                (event.account_id, event.livemode, event.stripe_id)
                for event in events
                if isinstance(event, Payment.Recorded | Payment.Revised)
            }
        )
        if payments:
            columns = [list(column) for column in zip(*payments, strict=True)]
            for account_id, livemode, payment, invoice in cur.execute(
                self._naming_invoices, columns
            ).fetchall():
                self._named_by[(account_id, livemode, payment)] = invoice

    def project(self, cur: Cursor, event: object) -> None:
        if not isinstance(event, DomainEvent):
            return
        sources = sources_of(event)
        if not sources:
            return  # moves no money (customers, subscriptions, payment methods)
        if isinstance(event, Invoice.Recorded | Invoice.Revised):
            self._record_naming(event)
        histories = self._histories(event, sources)
        named_by = self._named_by.get((event.account_id, event.livemode, event.stripe_id))
        for entry in post(event, histories, named_by):
            self._insert(event, entry)

    def flush(self, cur: Cursor) -> None:
        """Write the batch's entries, their origins and lines (in that order)."""
        bulk = self._bulk
        bulk.write(cur, "journal_entries", ENTRY_COLUMNS, self._new.entries)
        bulk.write(cur, "journal_entry_origins", ORIGIN_COLUMNS, self._new.origins)
        bulk.write(cur, "journal_lines", LINE_COLUMNS, self._new.lines)
        bulk.write(
            cur,
            "journal_payment_invoices",
            NAMING_COLUMNS,
            self._new.namings,
            "ON CONFLICT DO NOTHING",
        )
        self._lines = {}
        self._history_of = {}
        self._taken = set()
        self._named_by = {}
        self._new = _NewRows()

    def _record_naming(self, event: Invoice.Recorded | Invoice.Revised) -> None:
        """Keep which invoice names its payment, for the payment's own events to come."""
        payment = named_payment(event)
        if payment is None:
            return
        key = (event.account_id, event.livemode, payment)
        known = self._named_by.get(key)
        self._named_by[key] = min(known or event.stripe_id, event.stripe_id)
        self._new.namings.append((event.account_id, event.livemode, payment, event.stripe_id))

    def _histories(self, event: DomainEvent, sources: list[str]) -> dict[str, History]:
        """The entries posted for `sources` by the events of `event`'s aggregate before it (by
        version), and by other aggregates (an invoice reversing the sale of a payment it names).

        A source's history, when every line of it counts (the usual case: events are projected
        in order), is kept until the source's next entry, rather than built again per event."""
        found: dict[str, History] = {}
        originator, version = event.originator_id, event.originator_version
        for source in sources:
            key = (event.account_id, event.livemode, source)
            posted = self._lines.get(key)
            if not posted:
                continue
            if all(p.originator != originator or p.version < version for p in posted):
                kept = self._history_of.get(key)
                if kept is None or kept[0] != len(posted):  # lines are only ever appended
                    kept = (len(posted), _history(posted))
                    self._history_of[key] = kept
                history = kept[1]
            else:
                history = _history(
                    [p for p in posted if p.originator != originator or p.version < version]
                )
            if history:
                found[source] = history
        return found

    def _insert(self, event: DomainEvent, entry: Entry) -> None:
        account_id, livemode = event.account_id, event.livemode
        source = (account_id, livemode, entry.source_object)
        if (source, entry.transition) in self._taken:
            return  # posted before: the key is taken, its lines are there
        self._taken.add((source, entry.transition))
        new_id = entry_id(account_id, livemode, entry.source_object, entry.transition)
        reversed_id = (
            entry_id(account_id, livemode, entry.source_object, entry.reversal_of)
            if entry.reversal_of is not None
            else None
        )
        self._new.entries.append(
            (
                new_id,
                account_id,
                livemode,
                entry.occurred_at,
                entry.kind,
                entry.description,
                entry.source_object,
                entry.transition,
                event.stripe_event_id,
                reversed_id,
            ),
        )
        self._new.origins.append((new_id, event.originator_id, event.originator_version))
        posted = self._lines.setdefault(source, [])
        namespace = new_id.bytes
        for n, line in enumerate(entry.lines):
            line_id = _uuid5(namespace, str(n))
            self._new.lines.append(
                (
                    line_id,
                    account_id,
                    livemode,
                    new_id,
                    line.ledger_account.value,
                    line.customer_id,
                    line.debit_cents,
                    line.credit_cents,
                    line.currency,
                ),
            )
            posted.append(
                _Posted(
                    new_id,
                    line_id,
                    event.originator_id,
                    event.originator_version,
                    entry.source_object,
                    entry.transition,
                    entry.kind,
                    entry.description,
                    entry.occurred_at,
                    entry.reversal_of,
                    line,
                )
            )


def _history(posted: Sequence[_Posted]) -> History:
    """The entries of one source object, by transition, from their lines (in the order of
    entry and line ids, which is the order their lines are reversed in)."""
    heads: dict[str, tuple[str, str, datetime, str | None]] = {}
    lines: dict[str, list[Line]] = defaultdict(list)
    source = ""
    for p in sorted(posted, key=lambda p: (p.entry_id, p.line_id)):
        source = p.source
        heads[p.transition] = (p.kind, p.description, p.occurred_at, p.reversal_of)
        lines[p.transition].append(p.line)
    return {
        transition: Entry(source, transition, kind, text, at, tuple(lines[transition]), reversed_)
        for transition, (kind, text, at, reversed_) in heads.items()
    }
