"""Writes the double-entry journal: domain events → `{schema}.journal_entries` and `journal_lines`.

For each event that concerns money (invoices, payments, disputes), the entries its aggregate
had posted for its source objects *before* it (by aggregate version, kept in
`journal_entry_origins`) are read back, and the pure rules of `ledger/` say what is missing.
Each source object's entries come from one aggregate, so replaying any event sees the history
it saw the first time and derives the same entries, which `ON CONFLICT DO NOTHING` on (account,
livemode, source object, transition) then refuses: redelivery and replay post nothing twice.
Ids are uuid5 of that key, and every value comes from the event, so a rebuild writes the same
journal.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import psycopg

from billing_ledger.ledger.accounts import Account
from billing_ledger.ledger.entries import Entry, History, Line
from billing_ledger.ledger.posting import DomainEvent, post, sources_of
from billing_ledger.projections.sqltext import in_schema

Cursor = psycopg.Cursor[Any]

POSTED = """
SELECT e.source_object, e.transition, e.kind, e.description, e.occurred_at, r.transition,
       l.ledger_account, l.debit_cents - l.credit_cents, l.currency, l.customer_id
FROM {schema}.journal_entries e
JOIN {schema}.journal_lines l ON l.entry_id = e.id
JOIN {schema}.journal_entry_origins o ON o.entry_id = e.id
LEFT JOIN {schema}.journal_entries r ON r.id = e.reversal_of
WHERE e.account_id = %s AND e.livemode = %s AND e.source_object = ANY(%s)
  AND o.originator_version < %s
ORDER BY e.id, l.id
"""
INSERT_ENTRY = """
INSERT INTO {schema}.journal_entries (id, account_id, livemode, occurred_at, kind, description,
    source_object, transition, stripe_event_id, reversal_of)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING id
"""
INSERT_ORIGIN = """
INSERT INTO {schema}.journal_entry_origins (entry_id, originator_id, originator_version)
VALUES (%s, %s, %s)
"""
INSERT_LINE = """
INSERT INTO {schema}.journal_lines (id, account_id, livemode, entry_id, ledger_account,
    customer_id, debit_cents, credit_cents, currency)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def entry_id(account_id: str, livemode: bool, source_object: str, transition: str) -> UUID:
    """uuid5 of `journal:{account}:{livemode}:{source object}:{transition}`."""
    key = f"journal:{account_id}:{str(livemode).lower()}:{source_object}:{transition}"
    return uuid5(NAMESPACE_URL, key)


class Journal:
    """Projects the posting rules' entries into `{schema}`'s journal tables."""

    name = "journal"

    def __init__(self, schema: str) -> None:
        self._posted = in_schema(POSTED, schema)
        self._insert_entry = in_schema(INSERT_ENTRY, schema)
        self._insert_line = in_schema(INSERT_LINE, schema)
        self._insert_origin = in_schema(INSERT_ORIGIN, schema)

    def project(self, cur: Cursor, event: object) -> None:
        if not isinstance(event, DomainEvent):
            return
        sources = sources_of(event)
        if not sources:
            return  # moves no money (customers, subscriptions, payment methods)
        histories = self._histories(cur, event, sources)
        for entry in post(event, histories):
            self._insert(cur, event, entry)

    def flush(self, cur: Cursor) -> None:
        """Every entry is posted as its event is projected: nothing is left for the batch end."""

    def _histories(self, cur: Cursor, event: DomainEvent, sources: list[str]) -> dict[str, History]:
        """The entries posted for `sources` by the events before `event` (by version)."""
        params = (event.account_id, event.livemode, sources, event.originator_version)
        rows = cur.execute(self._posted, params).fetchall()
        heads: dict[tuple[str, str], tuple[Any, ...]] = {}
        lines: dict[tuple[str, str], list[Line]] = defaultdict(list)
        for source, transition, kind, text, at, reversed_, account, amount, currency, cus in rows:
            heads[(source, transition)] = (kind, text, at, reversed_)
            lines[(source, transition)].append(Line(Account(account), amount, currency, cus))
        histories: dict[str, dict[str, Entry]] = defaultdict(dict)
        for (source, transition), (kind, text, at, reversed_) in heads.items():
            histories[source][transition] = Entry(
                source, transition, kind, text, at, tuple(lines[(source, transition)]), reversed_
            )
        return dict(histories)

    def _insert(self, cur: Cursor, event: DomainEvent, entry: Entry) -> None:
        account_id, livemode = event.account_id, event.livemode
        new_id = entry_id(account_id, livemode, entry.source_object, entry.transition)
        reversed_id = (
            entry_id(account_id, livemode, entry.source_object, entry.reversal_of)
            if entry.reversal_of is not None
            else None
        )
        inserted = cur.execute(
            self._insert_entry,
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
        ).fetchone()
        if inserted is None:
            return  # posted before: the key is taken, its lines are there
        cur.execute(self._insert_origin, (new_id, event.originator_id, event.originator_version))
        for n, line in enumerate(entry.lines):
            cur.execute(
                self._insert_line,
                (
                    uuid5(new_id, str(n)),
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
