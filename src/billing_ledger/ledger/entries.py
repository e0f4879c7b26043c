"""Journal entries as values, and the one way rules post them: converge on what should be.

An entry is identified by its source object (a Stripe id) and a transition name, unique per
(account, livemode): that key is what makes posting exactly once. Entries are never changed;
when what an object should have posted changes (an invoice voided, a refund failed), the live
posting is reversed by an entry that names it in `reversal_of`, and a new one follows if needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from billing_ledger.ledger.accounts import Account

REVERSAL = ":reversal"


@dataclass(frozen=True)
class Line:
    """One side of an entry: `amount` is signed, debit positive and credit negative."""

    ledger_account: Account
    amount: int
    currency: str
    customer_id: str | None = None

    @property
    def debit_cents(self) -> int:
        return max(self.amount, 0)

    @property
    def credit_cents(self) -> int:
        return max(-self.amount, 0)


@dataclass(frozen=True)
class Entry:
    """One journal entry. `reversal_of` is the transition (same source object) it reverses."""

    source_object: str
    transition: str
    kind: str
    description: str
    occurred_at: datetime
    lines: tuple[Line, ...]
    reversal_of: str | None = None

    def imbalances(self) -> dict[str, int]:
        """Currencies whose debits and credits differ, with debits minus credits."""
        totals: Counter[str] = Counter()
        for line in self.lines:
            totals[line.currency] += line.amount
        return {currency: total for currency, total in totals.items() if total != 0}


History = Mapping[str, Entry]
"""The entries already posted for one source object, by transition."""


def lines(*pairs: tuple[Account, int], currency: str, customer_id: str | None) -> tuple[Line, ...]:
    """Lines for the non-zero (account, signed amount) pairs."""
    return tuple(
        Line(account, amount, currency, customer_id) for account, amount in pairs if amount
    )


def transfer(
    debit: Account, credit: Account, amount: int, currency: str, customer_id: str | None
) -> tuple[Line, ...]:
    """Dr `debit` / Cr `credit` for `amount` (nothing when it is zero)."""
    return lines((debit, amount), (credit, -amount), currency=currency, customer_id=customer_id)


@dataclass(frozen=True)
class Posting:
    """What a rule wants the journal to hold for one concept of one source object."""

    source_object: str
    concept: str
    kind: str
    description: str
    occurred_at: datetime
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Reversal:
    """How to describe the reversal of a concept's live posting, should it be needed."""

    kind: str
    description: str
    occurred_at: datetime


def converge(history: History, wanted: Posting, reversal: Reversal) -> list[Entry]:
    """The entries that make `wanted` the concept's only live posting (none if it already is).

    The first posting of a concept has the concept as transition, later ones `concept#2`, ...;
    a reversal is `<transition>:reversal`. Empty `wanted.lines` means nothing should be live.
    """
    generations = list(_generations(history, wanted.concept))
    live = generations[-1] if generations else None
    if live is not None and reversal_key(live.transition) in history:
        live = None
    if live is None:
        if not wanted.lines:
            return []  # nothing live, nothing wanted (most concepts of most states)
    elif len(live.lines) == len(wanted.lines) and Counter(live.lines) == Counter(wanted.lines):
        return []
    posted: list[Entry] = []
    if live is not None:
        posted.append(reverse(live, reversal))
    if wanted.lines:
        n = len(generations) + 1
        transition = wanted.concept if n == 1 else f"{wanted.concept}#{n}"
        posted.append(
            Entry(
                wanted.source_object,
                transition,
                wanted.kind,
                wanted.description,
                wanted.occurred_at,
                wanted.lines,
            )
        )
    return posted


def reverse(entry: Entry, reversal: Reversal) -> Entry:
    """An entry that undoes `entry` line by line and names it in `reversal_of`."""
    return Entry(
        entry.source_object,
        reversal_key(entry.transition),
        reversal.kind,
        reversal.description,
        reversal.occurred_at,
        tuple(replace(line, amount=-line.amount) for line in entry.lines),
        reversal_of=entry.transition,
    )


def reversal_key(transition: str) -> str:
    """The transition of the entry reversing `transition`."""
    return f"{transition}{REVERSAL}"


def _generations(history: History, concept: str) -> Iterable[Entry]:
    n = 1
    while True:
        transition = concept if n == 1 else f"{concept}#{n}"
        entry = history.get(transition)
        if entry is None:
            return
        yield entry
        n += 1
