"""The dead-letter record in this process's memory, beside the in-memory log (memory.py).

Behaves as the `eventlog.dead_letters` table does (dead_letters.py): ids from 1 in the order
letters are kept, a processor letter kept once per (log name, position), an ingest letter (no
position) kept every time, nothing updated or removed. Nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from billing_ledger.eventlog.dead_letter_port import DeadLetter, Source
from billing_ledger.eventlog.port import LoggedEvent


class MemoryDeadLetters:
    """Dead letters with their bodies, in memory. Thread-safe."""

    def __init__(self) -> None:
        self._letters: list[tuple[DeadLetter, bytes]] = []
        self._positions: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def keep_rejected(self, body: bytes, reason: str) -> None:
        """Keep a verified body that is not an event."""
        with self._lock:
            self._keep("ingest", reason, body)

    def keep_unapplied(self, dead: Sequence[tuple[LoggedEvent, str]]) -> None:
        """Keep logged records the processor could not apply (once per log position)."""
        with self._lock:
            for logged, reason in dead:
                where = (logged.log_name, logged.position)
                if where in self._positions:
                    continue
                self._positions.add(where)
                self._keep("processor", reason, logged.record.body, logged)

    def all(self) -> list[DeadLetter]:
        """Every letter, in the order kept."""
        with self._lock:
            return [letter for letter, _ in self._letters]

    def body(self, letter: DeadLetter) -> bytes:
        with self._lock:
            return self._letters[letter.id - 1][1]

    def _keep(
        self, source: Source, reason: str, body: bytes, logged: LoggedEvent | None = None
    ) -> None:
        letter = DeadLetter(
            id=len(self._letters) + 1,
            source=source,
            log_name=logged.log_name if logged else None,
            position=logged.position if logged else None,
            event_id=logged.record.event_id if logged else None,
            event_type=logged.record.event_type if logged else None,
            reason=reason,
            recorded_at=datetime.now(UTC),
        )
        self._letters.append((letter, body))
