"""The dead-letter record as the processor sees it, and what may be shown of a dead letter.

Adapters: `dead_letters.DeadLetters` (the `eventlog.dead_letters` table) and
`memory_dead_letters.MemoryDeadLetters`; the contract suite in tests/integration runs against
both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from billing_ledger.eventlog.port import LoggedEvent

Source = Literal["ingest", "processor"]


class UnappliedRecords(Protocol):
    """Where the processor keeps the logged records it could not apply, with their reasons.

    Invariants every adapter keeps:
    - `keep_unapplied` returns only once every record given is stored; if that is not possible
      it raises LogUnavailable and the processor retries the batch (nothing is tracked).
    - A record is kept once per (log name, position): keeping it again, as the retry of a batch
      whose commit failed does, changes nothing.
    - Letters are never updated or deleted; whether a retry succeeded is recorded elsewhere
      (its own tracking row, see `Processor.reapply`).
    """

    def keep_unapplied(self, dead: Sequence[tuple[LoggedEvent, str]]) -> None:
        """Keep each (record, reason why it could not be applied)."""


@dataclass(frozen=True)
class DeadLetter:
    """What may be shown about a dead letter: never its body."""

    id: int
    source: Source
    log_name: str | None
    position: int | None
    event_id: str | None
    event_type: str | None
    reason: str
    recorded_at: datetime

    def retry_tracking_name(self) -> str:
        """The tracking name a successful retry records, so it can happen only once."""
        return f"dead-letter:{self.id}"
